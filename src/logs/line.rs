//! One log line as an OTLP log record: body = the line (a JSON record's `message`), redacted like
//! bodies and then cut to its length bound; severity from the JSON level or the text; the time the
//! platform captured it and the time lambda-lens observed it; the invocation's ids.
//!
//! A JSON record's other fields are not kept as attributes: the Telemetry API hands them over as
//! free-form JSON whose keys and sizes the function decides, and the ones that matter (level,
//! request id, message) are already the record's own fields.

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry_proto::tonic::logs::v1::SeverityNumber;

use super::{join, names, Severity};
use crate::correlate::{JoinedLog, LogLine};
use crate::export::{LogAttribute, LogEntry};
use crate::proto_values;
use crate::redact::{self, RedactionRules};
use crate::telemetry::LogSource;

/// `line` as a log record: redacted with `rules`, cut to `line_chars` characters, observed at
/// `observed`; `sampled` is its invocation's sampling decision.
pub fn line_record(
    line: JoinedLog,
    rules: &RedactionRules,
    line_chars: usize,
    sampled: bool,
    observed: SystemTime,
) -> LogEntry {
    let JoinedLog { line, invocation } = line;
    let LogLine {
        time,
        source,
        message,
        level,
    } = line;
    let (redacted, redactions) = redact::redact_text(&message, rules);
    // The line itself becomes the body when nothing was replaced: no copy.
    let replaced = match redacted {
        Cow::Borrowed(_) => None,
        Cow::Owned(text) => Some(text),
    };
    let mut text = replaced.unwrap_or(message);
    let truncated = match text.char_indices().nth(line_chars) {
        Some((cut, _)) => {
            text.truncate(cut);
            true
        }
        None => false,
    };
    let (severity, severity_text) = match level {
        Some(level) => (Severity::from_level(&level), Cow::Owned(level)),
        None => match Severity::from_text(&text) {
            Some((severity, word)) => (Some(severity), Cow::Borrowed(word)),
            None => (None, Cow::Borrowed("")),
        },
    };
    let source = match source {
        LogSource::Function => "function",
        LogSource::Extension => "extension",
    };
    // Room for all four: the source, the redactions, the cut and the invocation's id.
    let mut attributes = Vec::with_capacity(4);
    attributes.push(LogAttribute::text(names::LOG_SOURCE, source));
    if redactions > 0 {
        attributes.push(LogAttribute::int(
            names::LOG_REDACTIONS,
            i64::from(redactions),
        ));
    }
    if truncated {
        attributes.push(LogAttribute::text(names::LOG_TRUNCATED, "true"));
    }
    let mut record = LogEntry {
        time_unix_nano: proto_values::unix_nanos(time),
        observed_time_unix_nano: proto_values::unix_nanos(observed),
        severity: severity.map_or(SeverityNumber::Unspecified, Severity::number),
        severity_text,
        body: text,
        attributes,
        trace: None,
    };
    if let Some(invocation) = &invocation {
        join(&mut record, invocation, sampled);
    }
    record
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use opentelemetry::trace::{SpanId, TraceId};

    use super::*;
    use crate::correlate::{InvocationIds, LogLine};
    use crate::export::{LogValue, TraceIds};
    use crate::record::RequestId;
    use crate::settings::RedactionSettings;

    fn t(ms: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_000 + ms)
    }

    fn joined(message: &str, level: Option<&str>, invocation: bool) -> JoinedLog {
        JoinedLog {
            line: LogLine {
                time: t(5),
                source: LogSource::Function,
                message: message.to_owned(),
                level: level.map(str::to_owned),
            },
            invocation: invocation.then(|| InvocationIds {
                request_id: RequestId::new("req-1"),
                trace_id: TraceId::from_bytes([7; 16]),
                span_id: SpanId::from_bytes([9; 8]),
            }),
        }
    }

    fn rules() -> RedactionRules {
        RedactionRules::new(&RedactionSettings::default())
    }

    fn attribute<'a>(record: &'a LogEntry, key: &str) -> Option<&'a LogValue> {
        record
            .attributes
            .iter()
            .find(|attribute| attribute.key == key)
            .map(|attribute| &attribute.value)
    }

    fn text(value: &'static str) -> LogValue {
        LogValue::Text(value.into())
    }

    #[test]
    fn a_text_line_of_an_invocation() {
        let record = line_record(
            joined("[ERROR]\tboom", None, true),
            &rules(),
            100,
            true,
            t(30),
        );
        assert_eq!(record.body, "[ERROR]\tboom");
        assert_eq!(record.severity, SeverityNumber::Error);
        assert_eq!(record.severity_text, "ERROR");
        assert_eq!(record.time_unix_nano, 1_700_000_000_005_000_000);
        assert_eq!(record.observed_time_unix_nano, 1_700_000_000_030_000_000);
        assert_eq!(
            record.trace,
            Some(TraceIds {
                trace_id: TraceId::from_bytes([7; 16]),
                span_id: SpanId::from_bytes([9; 8]),
                sampled: true,
            })
        );
        assert_eq!(
            attribute(&record, "faas.invocation_id"),
            Some(&LogValue::RequestId(RequestId::new("req-1")))
        );
        assert_eq!(
            attribute(&record, "lambda_lens.log.source"),
            Some(&text("function"))
        );
        assert_eq!(record.attributes.len(), 2);
    }

    #[test]
    fn a_json_line_takes_its_level_and_an_init_line_has_no_ids() {
        let record = line_record(
            joined("ready", Some("WARN"), false),
            &rules(),
            100,
            false,
            t(6),
        );
        assert_eq!(record.body, "ready");
        assert_eq!(record.severity, SeverityNumber::Warn);
        assert_eq!(record.severity_text, "WARN");
        assert_eq!(record.trace, None);
        assert_eq!(attribute(&record, "faas.invocation_id"), None);
    }

    #[test]
    fn redacted_first_then_cut() {
        let record = line_record(
            joined("password=hunter2 and more text", None, true),
            &rules(),
            20,
            true,
            t(6),
        );
        assert_eq!(record.body, "password=[REDACTED] ");
        assert_eq!(
            attribute(&record, "lambda_lens.log.redactions"),
            Some(&LogValue::Int(1))
        );
        assert_eq!(
            attribute(&record, "lambda_lens.log.truncated"),
            Some(&text("true"))
        );
        assert_eq!(record.severity, SeverityNumber::Unspecified);
    }
}
