//! The platform's report as one OTLP log record, joined to its invocation: the body is the line
//! CloudWatch Logs shows (`REPORT RequestId: … Duration: … ms …`), the figures are attributes
//! (`lambda_lens.report.*`), the severity INFO for a successful invocation and ERROR otherwise.

use std::fmt::Write as _;
use std::time::SystemTime;

use super::names::EXTENSION_OVERHEAD_SPAN;
use super::{figure, join, names, Severity};
use crate::correlate::JoinedReport;
use crate::export::{LogAttribute, LogEntry};
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
pub fn report_record(joined: &JoinedReport, sampled: bool, observed: SystemTime) -> LogEntry {
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
        attributes.push(LogAttribute::double(key, value));
    }
    if let Some(overhead) = overhead {
        attributes.push(LogAttribute::double(
            names::REPORT_EXTENSION_OVERHEAD_MS,
            overhead,
        ));
    }
    let success = matches!(report.status, None | Some(PlatformStatus::Success));
    if let Some(status) = &report.status {
        attributes.push(LogAttribute::text(
            names::REPORT_STATUS,
            status.as_str().to_owned(),
        ));
        if !success {
            let _ = write!(body, "\tStatus: {}", status.as_str());
        }
    }
    if let Some(error_type) = &report.error_type {
        attributes.push(LogAttribute::text(
            names::REPORT_ERROR_TYPE,
            error_type.clone(),
        ));
        let _ = write!(body, "\tError Type: {error_type}");
    }
    if let Some(tenant) = &report.tenant_id {
        attributes.push(LogAttribute::text(names::TENANT_ID, tenant.clone()));
    }
    let severity = if success {
        Severity::Info
    } else {
        Severity::Error
    };
    let mut record = LogEntry {
        time_unix_nano: proto_values::unix_nanos(joined.report.time),
        observed_time_unix_nano: proto_values::unix_nanos(observed),
        severity: severity.number(),
        severity_text: if success { "INFO" } else { "ERROR" }.into(),
        body,
        attributes,
        trace: None,
    };
    join(&mut record, &joined.invocation, sampled);
    record
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use opentelemetry::trace::{SpanId, TraceId};

    use super::*;
    use crate::correlate::InvocationIds;
    use crate::export::LogValue;
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

    fn double(record: &LogEntry, key: &str) -> Option<f64> {
        record
            .attributes
            .iter()
            .find(|attribute| attribute.key == key)
            .and_then(|attribute| match attribute.value {
                LogValue::Double(value) => Some(value),
                _ => None,
            })
    }

    #[test]
    fn the_cloudwatch_line_and_its_figures() {
        let record = report_record(&joined(PlatformStatus::Success, None), true, t(50));
        assert_eq!(
            record.body,
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
        let ids = record
            .trace
            .map(|trace| (trace.trace_id, trace.span_id, trace.sampled));
        let invocation = (TraceId::from_bytes([7; 16]), SpanId::from_bytes([9; 8]));
        assert_eq!(ids, Some((invocation.0, invocation.1, true)));
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
            .find(|attribute| attribute.key == names::TENANT_ID)
            .map(|attribute| &attribute.value);
        assert_eq!(tenant, Some(&LogValue::Text("tenant-a".into())));
        assert_eq!(record.attributes.len(), 9);
    }

    #[test]
    fn a_timeout_is_an_error_record() {
        let record = report_record(
            &joined(PlatformStatus::Timeout, Some("Sandbox.Timeout")),
            false,
            t(50),
        );
        assert!(record
            .body
            .ends_with("\tStatus: timeout\tError Type: Sandbox.Timeout"));
        assert_eq!(record.severity, Severity::Error.number());
        assert_eq!(record.trace.map(|trace| trace.sampled), Some(false));
    }
}
