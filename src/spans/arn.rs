//! What the invoked ARN tells about the function that ran: its `cloud.resource_id` and, when
//! registration did not say, its account.

/// The function ARN with its qualifier replaced by the version that ran (`cloud.resource_id`).
pub(super) fn resource_id(invoked_arn: &str, version: Option<&str>) -> String {
    // `arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`, cut in place.
    let mut colons = invoked_arn.match_indices(':').map(|(at, _)| at).skip(4);
    let (Some(kind_start), Some(kind_end)) = (colons.next(), colons.next()) else {
        return invoked_arn.to_owned();
    };
    if &invoked_arn[kind_start + 1..kind_end] != "function" {
        return invoked_arn.to_owned();
    }
    let base = &invoked_arn[..colons.next().unwrap_or(invoked_arn.len())];
    match version {
        Some(v) if v != "$LATEST" => {
            let mut id = String::with_capacity(base.len() + 1 + v.len());
            id.push_str(base);
            id.push(':');
            id.push_str(v);
            id
        }
        _ => base.to_owned(),
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
        assert_eq!(resource_id(&format!("{arn}:alias:x"), None), arn);
        assert_eq!(
            resource_id("arn:aws:lambda:us-east-1:1:layer:f:2", Some("3")),
            "arn:aws:lambda:us-east-1:1:layer:f:2"
        );
        assert_eq!(
            resource_id("arn:aws:lambda:us-east-1:1:function", Some("3")),
            "arn:aws:lambda:us-east-1:1:function"
        );
        assert_eq!(
            resource_id("arn:aws:lambda:us-east-1:1:function:", Some("3")),
            "arn:aws:lambda:us-east-1:1:function::3"
        );
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
