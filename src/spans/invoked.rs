//! The attribute values the invoked ARN gives (`aws.lambda.invoked_arn`, `cloud.resource_id` and,
//! when registration did not tell it, `cloud.account.id`), kept from one invocation to the next:
//! nearly every invocation names the same ARN and ran the same version, and its span then shares
//! the values of the one before instead of copying them again.

use std::cell::RefCell;
use std::sync::Arc;

use super::arn;

/// The values of one invoked ARN and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct InvokedValues {
    /// The ARN as invoked (`aws.lambda.invoked_arn`).
    pub(super) arn: Arc<str>,
    /// `cloud.resource_id`: the ARN qualified by the version.
    pub(super) resource_id: Arc<str>,
    /// The account the ARN names.
    pub(super) account_id: Option<Arc<str>>,
}

/// The values of the last invoked ARN, and the version that ran, which the resource id names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct LastInvoked(RefCell<Option<(InvokedValues, Option<Box<str>>)>>);

impl LastInvoked {
    /// The values of `invoked_arn` at `version`: the last ones again when neither changed.
    pub(super) fn values(&self, invoked_arn: &str, version: Option<&str>) -> InvokedValues {
        let mut last = self.0.borrow_mut();
        match &*last {
            Some((values, ran)) if &*values.arn == invoked_arn && ran.as_deref() == version => {
                values.clone()
            }
            _ => {
                let values = InvokedValues {
                    arn: invoked_arn.into(),
                    resource_id: arn::resource_id(invoked_arn, version).into(),
                    account_id: arn::account_id(invoked_arn).map(Into::into),
                };
                *last = Some((values.clone(), version.map(Into::into)));
                values
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_arn_and_version_share_their_values() {
        let last = LastInvoked::default();
        let arn = "arn:aws:lambda:eu-west-1:123456789012:function:orders:live";
        let first = last.values(arn, Some("7"));
        assert_eq!(
            (
                &*first.arn,
                &*first.resource_id,
                first.account_id.as_deref()
            ),
            (
                arn,
                "arn:aws:lambda:eu-west-1:123456789012:function:orders:7",
                Some("123456789012")
            )
        );
        let again = last.values(arn, Some("7"));
        assert!(Arc::ptr_eq(&first.resource_id, &again.resource_id));
        let next_version = last.values(arn, Some("8"));
        assert_eq!(
            &*next_version.resource_id,
            "arn:aws:lambda:eu-west-1:123456789012:function:orders:8"
        );
        let other = last.values("arn:aws:lambda:eu-west-1:123456789012:function:other", None);
        assert_eq!(
            &*other.resource_id,
            "arn:aws:lambda:eu-west-1:123456789012:function:other"
        );
    }
}
