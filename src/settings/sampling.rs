//! The head sampler: `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` (names any case).
//!
//! Unset means [`Sampler::AlwaysOn`] (see [`Sampler`] for why not the specification's
//! `parentbased_always_on`). `xray` and unknown names fall back to always-on with a warning; a
//! ratio that is not a number in `[0, 1]` falls back to 1.0. A missing ratio is the
//! specification's default 1.0, without a warning; the argument is read by the ratio samplers only.

use super::parse::Env;
use super::variable::{Fallback, Variable};
use super::SettingsGroup;
use crate::trace_context::Sampler;

const TRACES_SAMPLER: Variable =
    Variable::user("OTEL_TRACES_SAMPLER", Fallback::Value("always_on"));
const TRACES_SAMPLER_ARG: Variable =
    Variable::user("OTEL_TRACES_SAMPLER_ARG", Fallback::Value("1.0"));

/// The variables of this group.
pub(super) const VARIABLES: &[Variable] = &[TRACES_SAMPLER, TRACES_SAMPLER_ARG];

/// What the sampler falls back to.
const ALWAYS_ON_INSTEAD: &str = "recording every invocation (always_on)";

impl SettingsGroup for Sampler {
    fn read(env: &mut Env<'_>) -> Self {
        let Some(name) = env.get(&TRACES_SAMPLER) else {
            return Self::AlwaysOn;
        };
        match name.trim().to_ascii_lowercase().as_str() {
            "always_on" => Self::AlwaysOn,
            "always_off" => Self::AlwaysOff,
            "traceidratio" => Self::TraceIdRatio(ratio(env)),
            "parentbased_always_on" => Self::ParentBased(Box::new(Self::AlwaysOn)),
            "parentbased_always_off" => Self::ParentBased(Box::new(Self::AlwaysOff)),
            "parentbased_traceidratio" => {
                Self::ParentBased(Box::new(Self::TraceIdRatio(ratio(env))))
            }
            "xray" => {
                env.warn(
                    &TRACES_SAMPLER,
                    &name,
                    format!("X-Ray centralized sampling is not supported; {ALWAYS_ON_INSTEAD}"),
                );
                Self::AlwaysOn
            }
            _ => {
                env.warn(
                    &TRACES_SAMPLER,
                    &name,
                    format!("unknown sampler; {ALWAYS_ON_INSTEAD}"),
                );
                Self::AlwaysOn
            }
        }
    }
}

/// `OTEL_TRACES_SAMPLER_ARG` for the ratio samplers.
fn ratio(env: &mut Env<'_>) -> f64 {
    env.parse(
        &TRACES_SAMPLER_ARG,
        1.0,
        "expected a ratio between 0 and 1",
        |raw| {
            raw.trim()
                .parse::<f64>()
                .ok()
                .filter(|ratio| (0.0..=1.0).contains(ratio))
        },
    )
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::settings::SettingWarning;
    use crate::trace_context::TraceContext;

    fn read_sampler(name: Option<&str>, arg: Option<&str>) -> (Sampler, Vec<SettingWarning>) {
        Sampler::from_lookup(|variable| match variable {
            "OTEL_TRACES_SAMPLER" => name.map(str::to_owned),
            "OTEL_TRACES_SAMPLER_ARG" => arg.map(str::to_owned),
            _ => None,
        })
    }

    /// A context whose X-Ray header says `Sampled=1`, `Sampled=0`, or nothing.
    fn with_sampled(sampled: Option<bool>) -> TraceContext {
        let header = match sampled {
            Some(true) => {
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
            }
            Some(false) => {
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"
            }
            None => "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8",
        };
        let ctx = TraceContext::from_xray_header(
            Some(header),
            UNIX_EPOCH + Duration::from_secs(0x5759_e988),
        );
        assert_eq!(ctx.sampled, sampled);
        ctx
    }

    #[test]
    fn default_sampler_records_everything() {
        for unset in [None, Some(""), Some("  ")] {
            assert_eq!(read_sampler(unset, None), (Sampler::AlwaysOn, vec![]));
        }
        let (sampler, _) = read_sampler(None, Some("0.1"));
        for sampled in [Some(true), Some(false), None] {
            assert!(sampler.should_sample(&with_sampled(sampled)));
        }
    }

    #[test]
    fn parses_every_sampler_name() {
        let cases = [
            ("always_on", Sampler::AlwaysOn),
            ("ALWAYS_OFF", Sampler::AlwaysOff),
            ("traceidratio", Sampler::TraceIdRatio(0.25)),
            (
                "parentbased_always_on",
                Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
            ),
            (
                "ParentBased_Always_Off",
                Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
            ),
            (
                "parentbased_traceidratio",
                Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(0.25))),
            ),
        ];
        for (name, expected) in cases {
            assert_eq!(
                read_sampler(Some(name), Some("0.25")),
                (expected, vec![]),
                "{name}"
            );
        }
    }

    #[test]
    fn xray_and_unknown_samplers_warn_and_record_everything() {
        for name in ["xray", "XRay", "jaeger_remote", "sometimes"] {
            let (sampler, warnings) = read_sampler(Some(name), None);
            assert_eq!(sampler, Sampler::AlwaysOn, "{name}");
            assert_eq!(warnings.len(), 1, "{name}");
        }
    }

    #[test]
    fn ratio_argument_defaults_and_validation() {
        assert_eq!(
            read_sampler(Some("traceidratio"), None),
            (Sampler::TraceIdRatio(1.0), vec![])
        );
        assert_eq!(
            read_sampler(Some("traceidratio"), Some("")),
            (Sampler::TraceIdRatio(1.0), vec![])
        );
        assert_eq!(
            read_sampler(Some("traceidratio"), Some(" 0 ")).0,
            Sampler::TraceIdRatio(0.0)
        );
        assert_eq!(
            read_sampler(Some("traceidratio"), Some("1")).0,
            Sampler::TraceIdRatio(1.0)
        );
        for bad in ["abc", "-0.1", "1.5", "NaN", "inf"] {
            let (sampler, warnings) = read_sampler(Some("parentbased_traceidratio"), Some(bad));
            assert_eq!(
                sampler,
                Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(1.0))),
                "{bad}"
            );
            assert_eq!(warnings.len(), 1, "{bad}");
        }
        // The argument only matters for the ratio samplers.
        assert_eq!(
            read_sampler(Some("always_off"), Some("abc")),
            (Sampler::AlwaysOff, vec![])
        );
    }
}
