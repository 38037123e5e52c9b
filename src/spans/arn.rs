//! What the invoked ARN tells about the function that ran: its `cloud.resource_id` and, when
//! registration did not say, its account.

/// The function ARN with its qualifier replaced by the version that ran (`cloud.resource_id`).
pub(super) fn resource_id(invoked_arn: &str, version: Option<&str>) -> String {
    let parts: Vec<&str> = invoked_arn.split(':').collect();
    if parts.len() < 7 || parts[5] != "function" {
        return invoked_arn.to_owned();
    }
    let base = parts[..7].join(":");
    match version {
        Some(v) if v != "$LATEST" => format!("{base}:{v}"),
        _ => base,
    }
}

/// The account part of an ARN, if it has one.
pub(super) fn account_id(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_id_replaces_the_qualifier_with_the_version() {
        let arn = "arn:aws:lambda:us-east-1:1:function:f";
        assert_eq!(
            resource_id(&format!("{arn}:alias"), Some("3")),
            format!("{arn}:3")
        );
        assert_eq!(resource_id(&format!("{arn}:alias"), Some("$LATEST")), arn);
        assert_eq!(resource_id(arn, None), arn);
        assert_eq!(resource_id("not-an-arn", Some("1")), "not-an-arn");
    }

    #[test]
    fn the_account_is_the_fifth_field() {
        assert_eq!(
            account_id("arn:aws:lambda:us-east-1:123:function:f"),
            Some("123")
        );
        assert_eq!(account_id("arn:aws:lambda:us-east-1::function:f"), None);
        assert_eq!(account_id("not-an-arn"), None);
    }
}
