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

use opentelemetry_proto::tonic::logs::v1::LogRecord;

use crate::correlate::InvocationIds;
use crate::proto_values;

/// The trace flags' sampled bit, as a log record's `flags` carry it.
const SAMPLED_FLAG: u32 = 0x01;

/// Sets `record`'s trace and span ids, trace flags and `faas.invocation_id` from `invocation`.
fn join(record: &mut LogRecord, invocation: &InvocationIds, sampled: bool) {
    record.trace_id = invocation.trace_id.to_bytes().to_vec();
    record.span_id = invocation.span_id.to_bytes().to_vec();
    record.flags = if sampled { SAMPLED_FLAG } else { 0 };
    record.attributes.push(proto_values::string(
        names::FAAS_INVOCATION_ID,
        invocation.request_id.as_str(),
    ));
}
