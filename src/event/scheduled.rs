//! Schedules: an EventBridge schedule rule, or EventBridge Scheduler's envelope — `detail-type`
//! `Scheduled Event` with `source` `aws.events` or `aws.scheduler` (a cut head that ends before
//! `source` counts too). Anyone can put an event with that `detail-type` on a bus, but only AWS
//! may use `aws.` sources; other sources are plain EventBridge events.
//!
//! EventBridge Scheduler sends that envelope only when the schedule has no `Input`; with an
//! `Input`, the function receives it verbatim, indistinguishable from a direct invoke (other).
//!
//! Attributes: `faas.time`, the event's `time` (when the schedule fired, ISO 8601 UTC as sent).
//! `faas.cron` is not set: neither envelope carries the schedule expression (only the rule's or
//! schedule's ARN in `resources`), and lambda-lens does not look it up.

use serde_json::Value;

use super::fields::text;
use super::{EventAttributes, EventSource, HeadSniff, ParsedBody, Trigger};
use crate::redact::RedactionRules;
use crate::spans::names::semconv;

/// An EventBridge schedule or EventBridge Scheduler.
pub(super) struct Scheduled;

const DETAIL_TYPE: &str = "Scheduled Event";

/// Whether `source` is one AWS schedules send from; `None`: a cut head ended before it.
fn is_schedule_source(source: Option<&[u8]>) -> bool {
    matches!(source, None | Some(b"aws.events" | b"aws.scheduler"))
}

impl EventSource for Scheduled {
    fn trigger(&self) -> Trigger {
        Trigger::Timer
    }

    fn detect(&self, event: &Value) -> bool {
        text(event, "detail-type") == Some(DETAIL_TYPE)
            && text(event, "source")
                .is_some_and(|source| is_schedule_source(Some(source.as_bytes())))
    }

    fn detect_head(&self, head: &HeadSniff<'_>) -> bool {
        head.string_value(b"\"detail-type\"") == Some(DETAIL_TYPE.as_bytes())
            && is_schedule_source(head.string_value(b"\"source\""))
    }

    fn attributes(&self, event: &ParsedBody<'_>, _: &RedactionRules, out: &mut EventAttributes) {
        if let Some(time) = event.value().and_then(|e| text(e, "time")) {
            out.str(semconv::FAAS_TIME, time);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::AttrValue;

    #[test]
    fn the_schedules_time_is_faas_time() {
        let event = ParsedBody::new(
            include_bytes!("../../tests/fixtures/events/scheduled.json"),
            true,
        );
        let mut out = EventAttributes::default();
        Scheduled.attributes(&event, &RedactionRules::default(), &mut out);
        assert_eq!(
            out.attributes,
            [(
                semconv::FAAS_TIME,
                AttrValue::Str("2019-03-01T01:23:45Z".into())
            )]
        );
    }
}
