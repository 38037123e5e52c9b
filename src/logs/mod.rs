//! Log records: the function's log lines and the platform's report as OTLP log records, joined to
//! their invocation's trace.
//!
//! - which invocation a line without a `requestId` belongs to: `stream` ([`StreamPosition`]);
//! - a line's severity, from a JSON record's level or the line's text: `severity`;
//! - a line as a record (body, severity, times, ids, redaction, length bound): `line`;
//! - the report as a record (CloudWatch's `REPORT` line as body, its figures as attributes):
//!   `report`, its figures written as text by `figure`;
//! - every attribute name a record carries: [`names`].
//!
//! Which lines are handed on, once each and within the per-invocation bound, is the
//! correlator's ([`crate::correlate`]); queueing and sending them is the exporter's.

mod figure;
mod line;
pub mod names;
mod report;
mod severity;
mod stream;

pub use self::line::line_record;
pub use self::report::report_record;
pub use self::severity::Severity;
pub use self::stream::{StreamPosition, MAX_RUNNING};

use crate::correlate::InvocationIds;
use crate::export::{LogAttribute, LogEntry, LogValue, TraceIds};

/// Sets `record`'s trace and span ids, trace flags and `faas.invocation_id` from `invocation`.
fn join(record: &mut LogEntry, invocation: &InvocationIds, sampled: bool) {
    record.trace = Some(TraceIds {
        trace_id: invocation.trace_id,
        span_id: invocation.span_id,
        sampled,
    });
    record.attributes.push(LogAttribute {
        key: names::FAAS_INVOCATION_ID,
        value: LogValue::RequestId(invocation.request_id.clone()),
    });
}
