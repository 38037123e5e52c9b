//! The span model: a closed invocation ([`InvocationSummary`](crate::correlate::InvocationSummary))
//! becomes OpenTelemetry spans per the OpenTelemetry FaaS conventions. The README's span-model
//! section is the long form.
//!
//! - the **invocation span** (SERVER, named after the function or its HTTP route): `invocation`,
//!   which also puts the trace together; a batch's is a CONSUMER span (`batch`) with a link per
//!   record (`links`);
//! - when it and its phases ran, on the proxy's clock, every phase inside it: `timeline`;
//! - how it ended (`lambda_lens.status`, ERROR status, `error.type`, the `exception` event):
//!   `outcome`;
//! - the captured bodies as attributes: `body_attributes`;
//! - its children, the phases: `phases`; its sibling, the cold start (`init` or `restore`):
//!   `cold_start`;
//! - the function, the resource and the scope: `resource`; what the invoked ARN tells: `arn`, its
//!   values shared from one invocation's span to the next: `invoked`;
//! - its links (the context the parent choice did not take): `links`;
//! - every name emitted: [`names`]; how a span is put together: `span`; platform durations as
//!   time: `platform_time`.

mod arn;
mod batch;
mod body_attributes;
mod cold_start;
mod invocation;
mod invoked;
mod links;
pub mod names;
mod outcome;
mod phases;
mod platform_time;
mod resource;
mod span;
mod timeline;

pub use self::body_attributes::CaptureSettings;
pub use self::invocation::invocation_spans;
pub use self::outcome::{invocation_status, InvocationStatus};
pub use self::resource::{resource, FunctionInfo, SCOPE_NAME};
