//! The head sampler (`OTEL_TRACES_SAMPLER`): whether an invocation is recorded.
//!
//! The decision is a pure function of the trace id and the parent's sampling flag, made once per
//! invocation ([`super::ParentChoice::sampled`]); the exported spans' flags and a `traceparent`
//! handed to the function both state that one decision.

use opentelemetry::trace::TraceId;

use super::TraceContext;

/// The head sampler chosen by `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`.
///
/// lambda-lens's default (variable unset) is [`Sampler::AlwaysOn`], not the specification's
/// `parentbased_always_on`: X-Ray samples Lambda at 1 request/s plus 5 %, and following its
/// `Sampled=0` would hide most failures from users who never asked for sampling. Users who want
/// the parent's decision (X-Ray's, or a caller's `traceparent` flags) choose a `parentbased_*`
/// sampler.
#[derive(Debug, Clone, PartialEq)]
pub enum Sampler {
    /// Record every invocation.
    AlwaysOn,
    /// Record nothing.
    AlwaysOff,
    /// Record a fraction of traces, decided by the trace id exactly as opentelemetry_sdk's
    /// `TraceIdRatioBased` does, so that every participant of a trace agrees.
    TraceIdRatio(f64),
    /// Follow the parent's decision when it states one (W3C flags, X-Ray `Sampled=1` or `0`);
    /// otherwise (`Sampled=?`, no flag, a new trace) ask the inner sampler.
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
    use super::super::testing::{doc_time, span_id, trace_id, PARENT_HEX, TRACE_HEX};
    use super::super::{ContextSource, TraceOrigin};
    use super::*;

    fn with_sampled(sampled: Option<bool>) -> TraceContext {
        TraceContext {
            trace_id: trace_id(TRACE_HEX),
            parent_span_id: Some(span_id(PARENT_HEX)),
            sampled,
            origin: TraceOrigin::Remote(ContextSource::LambdaXRay),
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
