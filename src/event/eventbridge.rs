//! Amazon EventBridge events other than schedules ([`super::scheduled`]): `detail-type` and
//! `source` (a cut head: `detail-type` alone).
//!
//! Attributes: `messaging.system`=`aws.eventbridge` (a custom value in the style of `aws.sns`: the
//! registry has none), `messaging.message.id` (`id`), `messaging.operation.type`=`process`. They also
//! describe a messaging or data-source event that yields none of its own but carries this envelope
//! (see [`super::ParsedBody::attributes`]).

use serde_json::Value;

use super::fields::text;
use super::{EventAttributes, EventSource, HeadSniff, ParsedBody, Trigger};
use crate::redact::RedactionRules;
use crate::spans::names::semconv;

/// Amazon EventBridge.
pub(super) struct EventBridge;

impl EventSource for EventBridge {
    fn trigger(&self) -> Trigger {
        Trigger::PubSub
    }

    fn detect(&self, event: &Value) -> bool {
        text(event, "detail-type").is_some() && text(event, "source").is_some()
    }

    fn detect_head(&self, head: &HeadSniff<'_>) -> bool {
        head.string_value(b"\"detail-type\"").is_some()
    }

    fn attributes(&self, event: &ParsedBody<'_>, _: &RedactionRules, out: &mut EventAttributes) {
        let Some(event) = event.value() else {
            return;
        };
        if text(event, "detail-type").is_none() {
            return;
        }
        out.messaging("aws.eventbridge", None);
        if let Some(id) = text(event, "id") {
            out.str(semconv::MESSAGING_MESSAGE_ID, id);
        }
    }
}
