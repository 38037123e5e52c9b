//! The span model: a closed invocation ([`InvocationSummary`](crate::correlate::InvocationSummary))
//! becomes OpenTelemetry spans, and a late `platform.report` its follow-up span, per the
//! OpenTelemetry FaaS conventions. The README's span-model section is the long form.
//!
//! - the **invocation span** (SERVER, named after the function or its HTTP route) with the `log`
//!   events of the function's lines: `invocation`, which also puts the trace together; a batch's
//!   is a CONSUMER span (`batch`) with a link per record (`links`);
//! - how it ended (`lambda_lens.status`, ERROR status, `error.type`, the `exception` event):
//!   `outcome`;
//! - the captured bodies as attributes: `body_attributes`;
//! - its children: the cold start (`init`) and the `runtimeDone` phases in `phases`, the
//!   `platform.report` span in `report`;
//! - the function, the resource and the scope: `resource`; what the invoked ARN tells: `arn`;
//! - its links (the context the parent choice did not take): `links`;
//! - every name emitted: [`names`]; how a span is put together: `span`; platform durations as
//!   time: `platform_time`.

mod arn;
mod batch;
mod body_attributes;
mod invocation;
mod links;
pub mod names;
mod outcome;
mod phases;
mod platform_time;
mod report;
mod resource;
mod span;

pub use self::body_attributes::CaptureSettings;
pub use self::invocation::invocation_spans;
pub use self::outcome::InvocationStatus;
pub use self::report::late_report_span;
pub use self::resource::{resource, FunctionInfo, SCOPE_NAME};
