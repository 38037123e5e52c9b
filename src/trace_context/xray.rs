//! The X-Ray tracing header: `Lambda-Runtime-Trace-Id` and the INVOKE event's `tracing.value`
//! (the Lambda X-Ray context), an HTTP-shaped event's `X-Amzn-Trace-Id`, an SQS message's
//! `AWSTraceHeader`. Parsing, mapping `Root` and `Parent` to W3C ids, and the trace context built
//! from Lambda's header alone ([`TraceContext::from_xray_header`]).
//!
//! Header shapes seen in Lambda (all handled, keys case-insensitive, unknown keys kept):
//! - active tracing: `Root=1-…;Parent=…;Sampled=1;Lineage=…`;
//! - older PassThrough: `Root=1-…;Parent=…;Sampled=0;Lineage=…`;
//! - PassThrough since 2024: `Root=1-…;Lineage=…` (no Parent, no Sampled);
//! - X-Ray's deferred decision `Sampled=?`, and extra keys such as `Self=` (ALB).

use std::time::SystemTime;

use opentelemetry::trace::{TraceId, TraceState};

use super::ids::{new_xray_trace_id, parse_hex, parse_span_id};
use super::{ContextSource, RemoteContext, TraceContext, TraceOrigin};

/// A parsed X-Ray tracing header
/// (`Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=...`).
///
/// Keys are case-insensitive and whitespace around keys and values is tolerated. Values are kept as
/// written (validated when ids are read from them); `Lineage` is opaque because its format has
/// changed several times (`hash:n`, `h1:n|h2:n`, `2:hash:n`). When a key repeats, the last occurrence
/// wins.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct XRayHeader {
    /// `Root`: the X-Ray trace id, e.g. `1-5759e988-bd862e3fe1be46a994272793`.
    pub root: Option<String>,
    /// `Parent`: the caller's segment id (16 hex characters).
    pub parent: Option<String>,
    /// `Sampled`: `None` when absent or not one of `1`, `0`, `?`.
    pub sampled: Option<XRaySampled>,
    /// `Lineage`: opaque loop-detection data.
    pub lineage: Option<String>,
    /// Every other `key=value` pair (e.g. `Self`), in header order, key spelling preserved.
    pub other: Vec<(String, String)>,
}

/// The X-Ray `Sampled` flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XRaySampled {
    /// `Sampled=1`.
    Yes,
    /// `Sampled=0`.
    No,
    /// `Sampled=?`: the upstream deferred the decision to the next service.
    Deferred,
}

impl XRayHeader {
    /// Parses a header. Never fails: parts without `=` and empty parts are skipped, so garbage
    /// yields an empty header.
    pub fn parse(header: &str) -> Self {
        let mut parsed = Self::default();
        for part in header.split(';') {
            let Some((key, value)) = part.split_once('=') else {
                continue;
            };
            let (key, value) = (key.trim(), value.trim());
            if key.is_empty() {
                continue;
            }
            if key.eq_ignore_ascii_case("root") {
                parsed.root = Some(value.to_owned());
            } else if key.eq_ignore_ascii_case("parent") {
                parsed.parent = Some(value.to_owned());
            } else if key.eq_ignore_ascii_case("sampled") {
                parsed.sampled = match value {
                    "1" => Some(XRaySampled::Yes),
                    "0" => Some(XRaySampled::No),
                    "?" => Some(XRaySampled::Deferred),
                    _ => None,
                };
            } else if key.eq_ignore_ascii_case("lineage") {
                parsed.lineage = Some(value.to_owned());
            } else {
                parsed.other.push((key.to_owned(), value.to_owned()));
            }
        }
        parsed
    }

    /// The trace id `Root` names, when it is valid.
    pub(super) fn trace_id(&self) -> Option<TraceId> {
        self.root.as_deref().and_then(parse_xray_root)
    }

    /// The sampling decision: `Sampled=1` or `0`; `?`, absent or unknown values are undecided.
    pub(super) fn sampled_flag(&self) -> Option<bool> {
        match self.sampled {
            Some(XRaySampled::Yes) => Some(true),
            Some(XRaySampled::No) => Some(false),
            Some(XRaySampled::Deferred) | None => None,
        }
    }

    /// The span context the header names: only with both a valid `Root` and a valid `Parent`, as
    /// the OpenTelemetry X-Ray propagators require (a `Parent` without a valid `Root` would point
    /// into an unknown trace).
    pub fn remote(&self) -> Option<RemoteContext> {
        Some(RemoteContext {
            trace_id: self.trace_id()?,
            span_id: self.parent.as_deref().and_then(parse_span_id)?,
            sampled: self.sampled_flag(),
            trace_state: TraceState::NONE,
        })
    }
}

impl TraceContext {
    /// Builds the context from the Lambda X-Ray header alone, as the choice of parent does when
    /// the event carries nothing it reads (see [`super::ParentChoice`]).
    ///
    /// `Root=1-<8 hex epoch>-<24 hex>` becomes the W3C trace id (the 32 hex characters); a short epoch
    /// part with its leading zeros trimmed is accepted, as the OpenTelemetry Java propagator does.
    /// `Parent` (16 hex, non-zero) becomes the parent span id. A missing or unparsable `Root` gives a
    /// new X-Ray-compatible id (origin [`TraceOrigin::Generated`], no parent, no sampling flag); a
    /// `Parent` without a valid `Root` is ignored because it would point into an unknown trace.
    pub fn from_xray_header(header: Option<&str>, now: SystemTime) -> Self {
        let parsed = header.map(XRayHeader::parse).unwrap_or_default();
        match parsed.remote() {
            Some(remote) => Self::child_of(&remote, ContextSource::LambdaXRay),
            None => Self::originate(&parsed, now),
        }
    }

    /// A context without a remote parent: the trace id of the Lambda header's `Root` when it is
    /// valid, with its `Sampled` flag (X-Ray's decision for that trace), else a fresh
    /// X-Ray-compatible id.
    pub(super) fn originate(lambda: &XRayHeader, now: SystemTime) -> Self {
        match lambda.trace_id() {
            Some(trace_id) => Self {
                trace_id,
                parent_span_id: None,
                sampled: lambda.sampled_flag(),
                origin: TraceOrigin::XRayRootOnly,
            },
            None => Self {
                trace_id: new_xray_trace_id(now),
                parent_span_id: None,
                sampled: None,
                origin: TraceOrigin::Generated,
            },
        }
    }
}

/// Parses `1-<1..=8 hex epoch>-<24 hex>` into a valid (non-zero) trace id.
fn parse_xray_root(root: &str) -> Option<TraceId> {
    let mut parts = root.split('-');
    let (Some("1"), Some(epoch), Some(random), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if !(1..=8).contains(&epoch.len()) || random.len() != 24 {
        return None;
    }
    let epoch = parse_hex(epoch)?;
    let random = parse_hex(random)?;
    let id = (epoch << 96) | random;
    (id != 0).then(|| TraceId::from(id))
}

/// The X-Ray form of a trace id: `1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx`.
pub fn xray_root(trace_id: TraceId) -> String {
    let hex = format!("{trace_id:032x}");
    format!("1-{}-{}", &hex[..8], &hex[8..])
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::super::testing::{doc_time, span_id, trace_id, ROOT, TRACE_HEX};
    use super::*;

    fn context(header: &str) -> TraceContext {
        TraceContext::from_xray_header(Some(header), doc_time())
    }

    #[test]
    fn parses_active_tracing_header() {
        let header = XRayHeader::parse(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:0",
        );
        assert_eq!(
            header,
            XRayHeader {
                root: Some(ROOT.to_owned()),
                parent: Some("53995c3f42cd8ad8".to_owned()),
                sampled: Some(XRaySampled::Yes),
                lineage: Some("a87bd80c:0".to_owned()),
                other: vec![],
            }
        );
        assert_eq!(
            context("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"),
            TraceContext {
                trace_id: trace_id(TRACE_HEX),
                parent_span_id: Some(span_id("53995c3f42cd8ad8")),
                sampled: Some(true),
                origin: TraceOrigin::Remote(ContextSource::LambdaXRay),
            }
        );
    }

    #[test]
    fn passthrough_sampled_0_keeps_parent_and_flag() {
        let ctx = context(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=a87bd80c:0",
        );
        assert_eq!(ctx.origin, TraceOrigin::Remote(ContextSource::LambdaXRay));
        assert_eq!(ctx.parent_span_id, Some(span_id("53995c3f42cd8ad8")));
        assert_eq!(ctx.sampled, Some(false));
    }

    #[test]
    fn root_and_lineage_only_is_root_only() {
        let raw = "Root=1-65f2a0e2-6ac9f94e5c1e0e8b4bf0e1c7;Lineage=a87bd80c:0";
        let header = XRayHeader::parse(raw);
        assert_eq!(header.parent, None);
        assert_eq!(header.sampled, None);
        assert_eq!(header.lineage.as_deref(), Some("a87bd80c:0"));
        assert_eq!(
            context(raw),
            TraceContext {
                trace_id: trace_id("65f2a0e26ac9f94e5c1e0e8b4bf0e1c7"),
                parent_span_id: None,
                sampled: None,
                origin: TraceOrigin::XRayRootOnly,
            }
        );
    }

    #[test]
    fn lineage_is_opaque() {
        for lineage in ["061379e8:0", "a1b2c3d4:1|e5f6a7b8:2", "2:a87bd80c:0"] {
            let header = XRayHeader::parse(&format!("Root={ROOT};Lineage={lineage}"));
            assert_eq!(header.lineage.as_deref(), Some(lineage));
        }
    }

    #[test]
    fn deferred_sampling_is_undecided() {
        let raw = format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=?");
        assert_eq!(XRayHeader::parse(&raw).sampled, Some(XRaySampled::Deferred));
        let ctx = context(&raw);
        assert_eq!(ctx.sampled, None);
        assert_eq!(ctx.origin, TraceOrigin::Remote(ContextSource::LambdaXRay));
    }

    #[test]
    fn unknown_keys_are_kept_in_order() {
        let header = XRayHeader::parse(&format!(
            "Self=1-67891234-12456789abcdef012345678;Root={ROOT};Foo=bar;Sampled=1"
        ));
        assert_eq!(
            header.other,
            vec![
                (
                    "Self".to_owned(),
                    "1-67891234-12456789abcdef012345678".to_owned()
                ),
                ("Foo".to_owned(), "bar".to_owned()),
            ]
        );
        assert_eq!(header.root.as_deref(), Some(ROOT));
        assert_eq!(
            context(&format!("Self=x;Root={ROOT}")).origin,
            TraceOrigin::XRayRootOnly
        );
    }

    #[test]
    fn keys_are_case_insensitive_and_spaces_tolerated() {
        let ctx = context(
            " root = 1-5759e988-bd862e3fe1be46a994272793 ; PARENT=53995c3f42cd8ad8 ;sampled= 1 ;",
        );
        assert_eq!(ctx.trace_id, trace_id(TRACE_HEX));
        assert_eq!(ctx.parent_span_id, Some(span_id("53995c3f42cd8ad8")));
        assert_eq!(ctx.sampled, Some(true));
        assert_eq!(
            XRayHeader::parse("lineage=a:1").lineage.as_deref(),
            Some("a:1")
        );
    }

    #[test]
    fn garbage_and_empty_headers_generate_a_trace() {
        for raw in [
            "",
            ";;;",
            "garbage",
            "Root",
            "=1",
            "Root=;Parent=",
            "Root=nonsense;Parent=53995c3f42cd8ad8",
        ] {
            let ctx = context(raw);
            assert_eq!(ctx.origin, TraceOrigin::Generated, "{raw:?}");
            assert_eq!(ctx.parent_span_id, None, "{raw:?}");
            assert_eq!(ctx.sampled, None, "{raw:?}");
            assert_ne!(ctx.trace_id, TraceId::INVALID);
        }
        assert_eq!(XRayHeader::parse("garbage;;=x"), XRayHeader::default());
        let missing = TraceContext::from_xray_header(None, doc_time());
        assert_eq!(missing.origin, TraceOrigin::Generated);
    }

    #[test]
    fn invalid_roots_are_rejected() {
        for root in [
            "2-5759e988-bd862e3fe1be46a994272793",    // unknown version
            "1-5759e988-bd862e3fe1be46a99427279",     // 23 hex random part
            "1-5759e988-bd862e3fe1be46a9942727930",   // 25 hex random part
            "1-15759e988-bd862e3fe1be46a994272793",   // 9 hex epoch
            "1--bd862e3fe1be46a994272793",            // empty epoch
            "1-5759e98g-bd862e3fe1be46a994272793",    // not hex
            "1-+759e988-bd862e3fe1be46a994272793",    // sign accepted by from_str_radix
            "1-5759e988-bd862e3fe1be46a994272793-00", // extra part
            "1-00000000-000000000000000000000000",    // all zero: invalid W3C id
            "5759e988bd862e3fe1be46a994272793",       // W3C form is not X-Ray's
        ] {
            assert_eq!(
                context(&format!("Root={root}")).origin,
                TraceOrigin::Generated,
                "{root}"
            );
        }
    }

    #[test]
    fn short_epoch_is_left_padded() {
        let ctx = context("Root=1-759e988-bd862e3fe1be46a994272793");
        assert_eq!(ctx.trace_id, trace_id("0759e988bd862e3fe1be46a994272793"));
        let ctx = context("Root=1-0-bd862e3fe1be46a994272793");
        assert_eq!(ctx.trace_id, trace_id("00000000bd862e3fe1be46a994272793"));
    }

    #[test]
    fn invalid_parent_gives_root_only() {
        for parent in [
            "53995c3f42cd8ad",
            "53995c3f42cd8ad8a",
            "0000000000000000",
            "53995c3f42cd8adz",
        ] {
            let ctx = context(&format!("Root={ROOT};Parent={parent};Sampled=1"));
            assert_eq!(ctx.origin, TraceOrigin::XRayRootOnly, "{parent}");
            assert_eq!(ctx.parent_span_id, None);
            assert_eq!(ctx.sampled, Some(true));
        }
    }

    #[test]
    fn unknown_sampled_value_is_none() {
        let header = XRayHeader::parse(&format!("Root={ROOT};Sampled=yes"));
        assert_eq!(header.sampled, None);
    }

    #[test]
    fn xray_root_round_trips() {
        assert_eq!(xray_root(trace_id(TRACE_HEX)), ROOT);
        let generated = new_xray_trace_id(SystemTime::now());
        let header = format!("Root={}", xray_root(generated));
        assert_eq!(context(&header).trace_id, generated);
        assert_eq!(
            xray_root(trace_id("00000001000000000000000000000002")),
            "1-00000001-000000000000000000000002"
        );
    }
}
