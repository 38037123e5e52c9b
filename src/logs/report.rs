//! The platform's report as one OTLP log record, joined to its invocation: the body is the line
//! CloudWatch Logs shows (`REPORT RequestId: … Duration: … ms …`), the figures are attributes
//! (`lambda_lens.report.*`), the severity INFO for a successful invocation and ERROR otherwise.

use std::fmt::Write as _;
use std::time::SystemTime;

use opentelemetry_proto::tonic::logs::v1::LogRecord;

use super::names::EXTENSION_OVERHEAD_SPAN;
use super::{figure, join, names, Severity};
use crate::correlate::JoinedReport;
use crate::proto_values;
use crate::telemetry::PlatformStatus;

/// Bytes reserved for the report line up front: a line with every figure and a request id fits.
const REPORT_LINE_CAPACITY: usize = 256;

/// A report figure, as CloudWatch prints it.
enum Figure {
    /// Printed as an integer (the platform's figures stay far below 2^53, so this is the text
    /// the `f64` would print with no decimals, without float formatting).
    Whole(u64),
    Decimal(f64),
}

/// `joined` as a log record, observed at `observed`; `sampled` is its invocation's sampling
/// decision.
pub fn report_record(joined: &JoinedReport, sampled: bool, observed: SystemTime) -> LogRecord {
    let report = &joined.report.body;
    let metrics = &report.metrics;
    // Sized for the whole line and every attribute at once: growing them step by step would
    // copy them several times per invocation.
    let mut body = String::with_capacity(REPORT_LINE_CAPACITY);
    body.push_str("REPORT RequestId: ");
    body.push_str(report.request_id.as_str());
    // The figures, the overhead, status, error type and tenant, and the invocation's id (`join`).
    let mut attributes = Vec::with_capacity(11);
    let overhead = report
        .spans
        .iter()
        .find(|span| span.name == EXTENSION_OVERHEAD_SPAN)
        .map(|span| span.duration_ms);
    // (label, unit, value, attribute); CloudWatch writes whole figures (billed duration, memory)
    // without decimals and durations with two.
    let whole = |v: Option<u64>| v.map(Figure::Whole);
    let decimal = |v: Option<f64>| v.map(Figure::Decimal);
    let figures = [
        (
            "Duration",
            "ms",
            decimal(metrics.duration_ms),
            names::REPORT_DURATION_MS,
        ),
        (
            "Billed Duration",
            "ms",
            whole(metrics.billed_duration_ms),
            names::REPORT_BILLED_DURATION_MS,
        ),
        (
            "Memory Size",
            "MB",
            whole(metrics.memory_size_mb),
            names::REPORT_MEMORY_SIZE_MB,
        ),
        (
            "Max Memory Used",
            "MB",
            whole(metrics.max_memory_used_mb),
            names::REPORT_MAX_MEMORY_USED_MB,
        ),
        (
            "Init Duration",
            "ms",
            decimal(metrics.init_duration_ms),
            names::REPORT_INIT_DURATION_MS,
        ),
        (
            "Restore Duration",
            "ms",
            decimal(metrics.restore_duration_ms),
            names::REPORT_RESTORE_DURATION_MS,
        ),
    ];
    for (label, unit, figure, key) in figures {
        let Some(figure) = figure else {
            continue;
        };
        // `\t{label}: {value} {unit}`, with only the number formatted.
        body.push('\t');
        body.push_str(label);
        body.push_str(": ");
        let value = match figure {
            Figure::Whole(value) => {
                figure::push_whole(&mut body, value);
                value as f64
            }
            Figure::Decimal(value) => {
                figure::push_hundredths(&mut body, value);
                value
            }
        };
        body.push(' ');
        body.push_str(unit);
        attributes.push(proto_values::double(key, value));
    }
    if let Some(overhead) = overhead {
        attributes.push(proto_values::double(
            names::REPORT_EXTENSION_OVERHEAD_MS,
            overhead,
        ));
    }
    let success = matches!(report.status, None | Some(PlatformStatus::Success));
    if let Some(status) = &report.status {
        attributes.push(proto_values::string(names::REPORT_STATUS, status.as_str()));
        if !success {
            let _ = write!(body, "\tStatus: {}", status.as_str());
        }
    }
    if let Some(error_type) = &report.error_type {
        attributes.push(proto_values::string(
            names::REPORT_ERROR_TYPE,
            error_type.as_str(),
        ));
        let _ = write!(body, "\tError Type: {error_type}");
    }
    if let Some(tenant) = &report.tenant_id {
        attributes.push(proto_values::string(names::TENANT_ID, tenant.as_str()));
    }
    let severity = if success {
        Severity::Info
    } else {
        Severity::Error
    };
    let mut record = LogRecord {
        time_unix_nano: proto_values::unix_nanos(joined.report.time),
        observed_time_unix_nano: proto_values::unix_nanos(observed),
        severity_number: severity.number() as i32,
        severity_text: if success { "INFO" } else { "ERROR" }.to_owned(),
        body: Some(proto_values::string_value(body)),
        attributes,
        ..LogRecord::default()
    };
    join(&mut record, &joined.invocation, sampled);
    record
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use opentelemetry::trace::{SpanId, TraceId};
    use opentelemetry_proto::tonic::common::v1::any_value;

    use super::*;
    use crate::correlate::InvocationIds;
    use crate::record::RequestId;
    use crate::telemetry::{PlatformSpan, Report, ReportMetrics, TelemetryEvent};

    fn t(ms: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_000 + ms)
    }

    fn joined(status: PlatformStatus, error_type: Option<&str>) -> JoinedReport {
        JoinedReport {
            invocation: InvocationIds {
                request_id: RequestId::new("req-1"),
                trace_id: TraceId::from_bytes([7; 16]),
                span_id: SpanId::from_bytes([9; 8]),
            },
            report: TelemetryEvent {
                time: t(40),
                body: Report {
                    request_id: RequestId::new("req-1"),
                    status: Some(status),
                    error_type: error_type.map(str::to_owned),
                    metrics: ReportMetrics {
                        duration_ms: Some(12.345),
                        billed_duration_ms: Some(13),
                        memory_size_mb: Some(128),
                        max_memory_used_mb: Some(40),
                        init_duration_ms: Some(97.0),
                        restore_duration_ms: None,
                    },
                    spans: vec![PlatformSpan {
                        name: EXTENSION_OVERHEAD_SPAN.into(),
                        start: t(30),
                        duration_ms: 1.5,
                    }],
                    tracing: None,
                    tenant_id: None,
                },
            },
        }
    }

    fn body(record: &LogRecord) -> &str {
        match record.body.as_ref().and_then(|b| b.value.as_ref()) {
            Some(any_value::Value::StringValue(s)) => s,
            other => panic!("not a string body: {other:?}"),
        }
    }

    fn double(record: &LogRecord, key: &str) -> Option<f64> {
        record
            .attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                any_value::Value::DoubleValue(v) => Some(*v),
                _ => None,
            })
    }

    #[test]
    fn the_cloudwatch_line_and_its_figures() {
        let record = report_record(&joined(PlatformStatus::Success, None), true, t(50));
        assert_eq!(
            body(&record),
            "REPORT RequestId: req-1\tDuration: 12.35 ms\tBilled Duration: 13 ms\t\
             Memory Size: 128 MB\tMax Memory Used: 40 MB\tInit Duration: 97.00 ms"
        );
        assert_eq!(record.severity_text, "INFO");
        assert_eq!(
            double(&record, names::REPORT_BILLED_DURATION_MS),
            Some(13.0)
        );
        assert_eq!(
            double(&record, names::REPORT_MAX_MEMORY_USED_MB),
            Some(40.0)
        );
        assert_eq!(
            double(&record, names::REPORT_EXTENSION_OVERHEAD_MS),
            Some(1.5)
        );
        assert_eq!(double(&record, names::REPORT_RESTORE_DURATION_MS), None);
        assert_eq!(record.trace_id, vec![7; 16]);
        assert_eq!(record.span_id, vec![9; 8]);
        assert_eq!(record.time_unix_nano, 1_700_000_000_040_000_000);
        // status, 5 figures, overhead, invocation id
        assert_eq!(record.attributes.len(), 8);
    }

    #[test]
    fn the_report_names_its_tenant() {
        let mut report = joined(PlatformStatus::Success, None);
        report.report.body.tenant_id = Some("tenant-a".into());
        let record = report_record(&report, true, t(50));
        let tenant = record
            .attributes
            .iter()
            .find(|kv| kv.key == names::TENANT_ID)
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                any_value::Value::StringValue(v) => Some(v.as_str()),
                _ => None,
            });
        assert_eq!(tenant, Some("tenant-a"));
        assert_eq!(record.attributes.len(), 9);
    }

    #[test]
    fn a_timeout_is_an_error_record() {
        let record = report_record(
            &joined(PlatformStatus::Timeout, Some("Sandbox.Timeout")),
            false,
            t(50),
        );
        assert!(body(&record).ends_with("\tStatus: timeout\tError Type: Sandbox.Timeout"));
        assert_eq!(record.severity_number, Severity::Error.number() as i32);
        assert_eq!(record.flags, 0);
    }
}
