//! Context propagation: `OTEL_PROPAGATORS`, the propagators tried in order for the invocation's
//! parent (see [`Propagators`]; names any case).
//!
//! Unset means `tracecontext,baggage,xray-lambda`. `none` means no propagator; listed with others,
//! it still wins, with a warning. Names lambda-lens does not know (`b3`, `jaeger`, …) are ignored
//! with a warning each; a list of nothing else gives the default, with one warning.

use super::parse::{comma_list, one_of, Env};
use super::variable::{Fallback, Variable};
use super::SettingsGroup;
use crate::trace_context::{Propagator, Propagators};

const PROPAGATORS: Variable = Variable::user(
    "OTEL_PROPAGATORS",
    Fallback::Value("tracecontext,baggage,xray-lambda"),
);

/// The variables of this group.
pub(super) const VARIABLES: &[Variable] = &[PROPAGATORS];

impl SettingsGroup for Propagators {
    fn read(env: &mut Env<'_>) -> Self {
        let Some(value) = env.get(&PROPAGATORS) else {
            return Self::default();
        };
        let mut known = Vec::new();
        let mut unknown = Vec::new();
        let mut none = false;
        for name in comma_list(&value) {
            if name.eq_ignore_ascii_case("none") {
                none = true;
            } else if let Some(propagator) = one_of(name, &Propagator::NAMES) {
                known.push(propagator);
            } else {
                unknown.push(name);
            }
        }
        if none {
            if !known.is_empty() || !unknown.is_empty() {
                env.warn(
                    &PROPAGATORS,
                    &value,
                    "none turns every other propagator off; propagating nothing",
                );
            }
            return Self::none();
        }
        if known.is_empty() {
            env.warn(
                &PROPAGATORS,
                &value,
                format!(
                    "no known propagator (tracecontext, baggage, xray, xray-lambda, none); using the default {}",
                    PROPAGATORS.fallback
                ),
            );
            return Self::default();
        }
        for name in unknown {
            env.warn(&PROPAGATORS, name, "unknown propagator; ignored");
        }
        Self::new(known)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::SettingWarning;

    fn read(value: Option<&str>) -> (Vec<Propagator>, Vec<SettingWarning>) {
        let (propagators, warnings) = Propagators::from_lookup(|variable| match variable {
            "OTEL_PROPAGATORS" => value.map(str::to_owned),
            _ => None,
        });
        (propagators.iter().collect(), warnings)
    }

    const DEFAULT: [Propagator; 3] = [
        Propagator::TraceContext,
        Propagator::Baggage,
        Propagator::XRayLambda,
    ];

    #[test]
    fn unset_is_the_event_first_then_lambda_xray() {
        for unset in [None, Some(""), Some(" ")] {
            assert_eq!(read(unset), (DEFAULT.to_vec(), vec![]));
        }
    }

    #[test]
    fn names_in_any_case_keep_their_order() {
        let (propagators, warnings) = read(Some(" XRay-Lambda , tracecontext,,xray,BAGGAGE "));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            propagators,
            [
                Propagator::XRayLambda,
                Propagator::TraceContext,
                Propagator::XRay,
                Propagator::Baggage
            ]
        );
    }

    #[test]
    fn none_propagates_nothing() {
        assert_eq!(read(Some("none")), (vec![], vec![]));
        let (propagators, warnings) = read(Some("tracecontext,None"));
        assert!(propagators.is_empty());
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].value, "tracecontext,None");
    }

    #[test]
    fn unknown_names_are_ignored_with_one_warning_each() {
        let (propagators, warnings) = read(Some("b3,tracecontext,jaeger"));
        assert_eq!(propagators, [Propagator::TraceContext]);
        let ignored: Vec<_> = warnings.iter().map(|w| w.value.as_str()).collect();
        assert_eq!(ignored, ["b3", "jaeger"]);
        let (propagators, warnings) = read(Some("b3, b3multi"));
        assert_eq!(propagators, DEFAULT);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0]
                .message
                .ends_with("using the default tracecontext,baggage,xray-lambda"),
            "{warnings:?}"
        );
    }
}
