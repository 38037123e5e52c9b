//! Trace context for one invocation: parsing the X-Ray tracing header Lambda hands over
//! (`Lambda-Runtime-Trace-Id`, telemetry `tracing.value`), mapping it to W3C trace and span ids,
//! originating X-Ray-compatible ids when there is no usable header, and the `OTEL_TRACES_SAMPLER`
//! decision.
//!
//! This module owns only the pure logic, no I/O; the sampler is chosen by the `settings` module.
//!
//! Header shapes seen in Lambda (all handled, keys case-insensitive, unknown keys kept):
//! - active tracing: `Root=1-…;Parent=…;Sampled=1;Lineage=…`;
//! - older PassThrough: `Root=1-…;Parent=…;Sampled=0;Lineage=…`;
//! - PassThrough since 2024: `Root=1-…;Lineage=…` (no Parent, no Sampled);
//! - X-Ray's deferred decision `Sampled=?`, and extra keys such as `Self=` (ALB).

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{SpanId, TraceId};

/// A parsed X-Ray tracing header
/// (`Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=...`).
///
/// Keys are case-insensitive and whitespace around keys and values is tolerated. Values are kept as
/// written (validation happens in [`TraceContext::from_xray_header`]); `Lineage` is opaque because its
/// format has changed several times (`hash:n`, `h1:n|h2:n`, `2:hash:n`). When a key repeats, the last
/// occurrence wins.
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
}

/// Where an invocation's trace context came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceOrigin {
    /// A valid `Root` and a valid `Parent`: the invocation span continues the caller's trace.
    XRayParent,
    /// A valid `Root` without a usable `Parent` (e.g. PassThrough's `Root;Lineage`): the trace id is
    /// kept so that spans line up with X-Ray, but the invocation span is a root span.
    XRayRootOnly,
    /// No header, or no valid `Root`: a fresh X-Ray-compatible trace id was generated.
    Generated,
}

/// The trace context of one invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    /// The W3C trace id (never invalid).
    pub trace_id: TraceId,
    /// The remote parent span, only for [`TraceOrigin::XRayParent`].
    pub parent_span_id: Option<SpanId>,
    /// X-Ray's sampling decision: `Some(true/false)` for `Sampled=1/0`, `None` for `?`, absent or
    /// a generated trace id.
    pub sampled: Option<bool>,
    /// Where the ids came from.
    pub origin: TraceOrigin,
}

impl TraceContext {
    /// Builds the context from the X-Ray header.
    ///
    /// `Root=1-<8 hex epoch>-<24 hex>` becomes the W3C trace id (the 32 hex characters); a short epoch
    /// part with its leading zeros trimmed is accepted, as the OpenTelemetry Java propagator does.
    /// `Parent` (16 hex, non-zero) becomes the parent span id. A missing or unparsable `Root` gives a
    /// new X-Ray-compatible id (origin [`TraceOrigin::Generated`], no parent, no sampling flag); a
    /// `Parent` without a valid `Root` is ignored because it would point into an unknown trace.
    pub fn from_xray_header(header: Option<&str>, now: SystemTime) -> Self {
        let parsed = header.map(XRayHeader::parse).unwrap_or_default();
        let Some(trace_id) = parsed.root.as_deref().and_then(parse_xray_root) else {
            return Self {
                trace_id: new_xray_trace_id(now),
                parent_span_id: None,
                sampled: None,
                origin: TraceOrigin::Generated,
            };
        };
        let parent_span_id = parsed.parent.as_deref().and_then(parse_span_id);
        Self {
            trace_id,
            parent_span_id,
            sampled: match parsed.sampled {
                Some(XRaySampled::Yes) => Some(true),
                Some(XRaySampled::No) => Some(false),
                Some(XRaySampled::Deferred) | None => None,
            },
            origin: if parent_span_id.is_some() {
                TraceOrigin::XRayParent
            } else {
                TraceOrigin::XRayRootOnly
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

/// Parses exactly 16 hex characters into a valid (non-zero) span id.
fn parse_span_id(parent: &str) -> Option<SpanId> {
    if parent.len() != 16 {
        return None;
    }
    let id = u64::try_from(parse_hex(parent)?).ok()?;
    (id != 0).then(|| SpanId::from(id))
}

/// Parses up to 32 hex digits. `from_str_radix` alone would also accept a leading `+`.
fn parse_hex(digits: &str) -> Option<u128> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(digits, 16).ok()
}

/// An X-Ray-compatible trace id: the first 32 bits are `now` in epoch seconds (X-Ray rejects ids
/// whose timestamp is too old), followed by 96 random bits that are never all zero.
pub fn new_xray_trace_id(now: SystemTime) -> TraceId {
    let epoch = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    // X-Ray's field is 32 bits wide; truncating matches what its SDKs do after 2106.
    let epoch = u128::from(epoch as u32);
    const RANDOM_MASK: u128 = (1 << 96) - 1;
    loop {
        let random = rand::random::<u128>() & RANDOM_MASK;
        if random != 0 {
            return TraceId::from((epoch << 96) | random);
        }
    }
}

/// A random non-zero span id.
pub fn new_span_id() -> SpanId {
    loop {
        let id = rand::random::<u64>();
        if id != 0 {
            return SpanId::from(id);
        }
    }
}

/// The X-Ray form of a trace id: `1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx`.
pub fn xray_root(trace_id: TraceId) -> String {
    let hex = format!("{trace_id:032x}");
    format!("1-{}-{}", &hex[..8], &hex[8..])
}

/// The head sampler chosen by `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`.
///
/// lambda-lens's default (variable unset) is [`Sampler::AlwaysOn`], not the specification's
/// `parentbased_always_on`: X-Ray samples Lambda at 1 request/s plus 5 %, and following its
/// `Sampled=0` would hide most failures from users who never asked for sampling. Users who want
/// X-Ray's decision choose a `parentbased_*` sampler.
#[derive(Debug, Clone, PartialEq)]
pub enum Sampler {
    /// Record every invocation.
    AlwaysOn,
    /// Record nothing.
    AlwaysOff,
    /// Record a fraction of traces, decided by the trace id exactly as opentelemetry_sdk's
    /// `TraceIdRatioBased` does, so that every participant of a trace agrees.
    TraceIdRatio(f64),
    /// Follow X-Ray's `Sampled` flag when it is `1` or `0`; otherwise ask the inner sampler.
    ParentBased(Box<Sampler>),
}

impl Sampler {
    /// Whether the invocation with this context is recorded.
    pub fn should_sample(&self, ctx: &TraceContext) -> bool {
        match self {
            Self::AlwaysOn => true,
            Self::AlwaysOff => false,
            Self::TraceIdRatio(ratio) => ratio_samples(*ratio, ctx.trace_id),
            Self::ParentBased(root) => ctx.sampled.unwrap_or_else(|| root.should_sample(ctx)),
        }
    }
}

/// opentelemetry_sdk 0.33's `sample_based_on_probability`: the lower 8 bytes of the trace id
/// (big-endian), shifted right by one, against `ratio * 2^63`.
fn ratio_samples(ratio: f64, trace_id: TraceId) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    // `as` saturates, and NaN.max(0.0) is 0.0, so odd ratios built by hand cannot panic.
    let upper_bound = (ratio.max(0.0) * (1u64 << 63) as f64) as u64;
    let low = u128::from_be_bytes(trace_id.to_bytes()) as u64;
    (low >> 1) < upper_bound
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// 2016-06-09T18:01:12Z, the epoch part of the X-Ray documentation's example id.
    fn doc_time() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(0x5759_e988)
    }

    fn trace_id(hex: &str) -> TraceId {
        TraceId::from_hex(hex).unwrap()
    }

    fn span_id(hex: &str) -> SpanId {
        SpanId::from_hex(hex).unwrap()
    }

    fn context(header: &str) -> TraceContext {
        TraceContext::from_xray_header(Some(header), doc_time())
    }

    const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
    const TRACE_HEX: &str = "5759e988bd862e3fe1be46a994272793";

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
                origin: TraceOrigin::XRayParent,
            }
        );
    }

    #[test]
    fn passthrough_sampled_0_keeps_parent_and_flag() {
        let ctx = context(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=a87bd80c:0",
        );
        assert_eq!(ctx.origin, TraceOrigin::XRayParent);
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
        assert_eq!(ctx.origin, TraceOrigin::XRayParent);
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

    #[test]
    fn generated_ids_start_with_epoch_seconds() {
        let id = new_xray_trace_id(doc_time());
        let hex = format!("{id:032x}");
        assert_eq!(&hex[..8], "5759e988");
        assert_ne!(&hex[8..], "000000000000000000000000");
        assert_ne!(new_xray_trace_id(doc_time()), id);
        let ctx = TraceContext::from_xray_header(None, doc_time());
        assert!(xray_root(ctx.trace_id).starts_with("1-5759e988-"));
    }

    #[test]
    fn span_ids_are_valid_and_distinct() {
        let a = new_span_id();
        assert_ne!(a, SpanId::INVALID);
        assert_ne!(new_span_id(), a);
    }

    fn with_sampled(sampled: Option<bool>) -> TraceContext {
        TraceContext {
            trace_id: trace_id(TRACE_HEX),
            parent_span_id: Some(span_id("53995c3f42cd8ad8")),
            sampled,
            origin: TraceOrigin::XRayParent,
        }
    }

    #[test]
    fn parent_based_honours_xray_flag() {
        let on = Sampler::ParentBased(Box::new(Sampler::AlwaysOn));
        let off = Sampler::ParentBased(Box::new(Sampler::AlwaysOff));
        assert!(on.should_sample(&with_sampled(Some(true))));
        assert!(!on.should_sample(&with_sampled(Some(false))));
        assert!(on.should_sample(&with_sampled(None)));
        assert!(off.should_sample(&with_sampled(Some(true))));
        assert!(!off.should_sample(&with_sampled(None)));
        // A generated trace has no X-Ray decision: the root sampler decides.
        let generated = TraceContext::from_xray_header(None, doc_time());
        assert!(on.should_sample(&generated));
        assert!(!off.should_sample(&generated));
    }

    #[test]
    fn plain_samplers_ignore_xray_flag() {
        assert!(Sampler::AlwaysOn.should_sample(&with_sampled(Some(false))));
        assert!(!Sampler::AlwaysOff.should_sample(&with_sampled(Some(true))));
    }

    fn with_low_bits(low: u64) -> TraceContext {
        TraceContext {
            trace_id: TraceId::from((0x5759_e988_u128 << 96) | u128::from(low)),
            ..with_sampled(None)
        }
    }

    #[test]
    fn ratio_boundaries() {
        let zero = Sampler::TraceIdRatio(0.0);
        let one = Sampler::TraceIdRatio(1.0);
        for low in [0, 1, u64::MAX / 2, u64::MAX] {
            assert!(!zero.should_sample(&with_low_bits(low)), "{low:#x}");
            assert!(one.should_sample(&with_low_bits(low)), "{low:#x}");
        }
        // Only the lower 8 bytes count: the epoch part must not influence the decision.
        let half = Sampler::TraceIdRatio(0.5);
        assert!(half.should_sample(&with_low_bits(0x7fff_ffff_ffff_fffe)));
        assert!(!half.should_sample(&with_low_bits(0x8000_0000_0000_0000)));
        let mut ctx = with_low_bits(0);
        ctx.trace_id = TraceId::from(u128::MAX << 64);
        assert!(half.should_sample(&ctx));
    }

    #[test]
    fn ratio_matches_sdk_algorithm() {
        // (low >> 1) < ratio * 2^63, worked out by hand at the boundary.
        let quarter = Sampler::TraceIdRatio(0.25);
        assert!(quarter.should_sample(&with_low_bits(0x3fff_ffff_ffff_fffe)));
        assert!(!quarter.should_sample(&with_low_bits(0x4000_0000_0000_0000)));
        let parent_based = Sampler::ParentBased(Box::new(quarter.clone()));
        assert!(!parent_based.should_sample(&with_low_bits(0x4000_0000_0000_0000)));
        assert!(parent_based.should_sample(&TraceContext {
            sampled: Some(true),
            ..with_low_bits(0x4000_0000_0000_0000)
        }));
    }

    #[test]
    fn ratio_agrees_with_sdk_sampler() {
        use opentelemetry::trace::SpanKind;
        use opentelemetry_sdk::trace::{SamplingDecision, ShouldSample};

        for ratio in [0.0, 0.001, 0.25, 0.5, 0.9, 1.0] {
            let sdk = opentelemetry_sdk::trace::Sampler::TraceIdRatioBased(ratio);
            let ours = Sampler::TraceIdRatio(ratio);
            for _ in 0..2_000 {
                let ctx = TraceContext::from_xray_header(None, doc_time());
                let decision = sdk
                    .should_sample(None, ctx.trace_id, "invoke", &SpanKind::Server, &[], &[])
                    .decision;
                assert_eq!(
                    ours.should_sample(&ctx),
                    decision == SamplingDecision::RecordAndSample,
                    "{ratio} {:?}",
                    ctx.trace_id
                );
            }
        }
    }
}
