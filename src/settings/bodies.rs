//! How much of each event, response and error body is kept (`LAMBDA_LENS_CAPTURE_BYTES`, for the
//! proxy's capture and the span attribute alike) and whether bodies appear on spans at all
//! (`LAMBDA_LENS_CAPTURE_BODIES`).

use super::parse::{Bounds, Env};
use super::variable::{Fallback, Variable};
use super::SettingsGroup;

/// Default number of leading body bytes kept per event, response or error body.
pub const DEFAULT_CAPTURE_BYTES: usize = 4096;
/// Upper bound for `LAMBDA_LENS_CAPTURE_BYTES`: captures live in memory per in-flight invocation.
pub const MAX_CAPTURE_BYTES: usize = 1024 * 1024;

pub(super) const CAPTURE_BYTES: Variable =
    Variable::user("LAMBDA_LENS_CAPTURE_BYTES", Fallback::Value("4096"));
pub(super) const CAPTURE_BODIES: Variable =
    Variable::user("LAMBDA_LENS_CAPTURE_BODIES", Fallback::Value("true"));

/// The variables of this group.
pub(super) const VARIABLES: &[Variable] = &[CAPTURE_BYTES, CAPTURE_BODIES];

/// What is kept of bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodySettings {
    /// Leading bytes of each body kept for observation, and the longest body text on a span
    /// (`LAMBDA_LENS_CAPTURE_BYTES`).
    pub capture_bytes: usize,
    /// Record bodies (redacted, cut) as span attributes (`LAMBDA_LENS_CAPTURE_BODIES`).
    pub on_spans: bool,
}

impl Default for BodySettings {
    fn default() -> Self {
        Self {
            capture_bytes: DEFAULT_CAPTURE_BYTES,
            on_spans: true,
        }
    }
}

impl SettingsGroup for BodySettings {
    fn read(env: &mut Env<'_>) -> Self {
        Self {
            capture_bytes: env.integer(
                &CAPTURE_BYTES,
                DEFAULT_CAPTURE_BYTES,
                "a byte count",
                Bounds::between(0, MAX_CAPTURE_BYTES),
            ),
            on_spans: env.flag(&CAPTURE_BODIES, true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::fixed;
    use super::*;

    fn bodies(vars: &[(&str, &str)]) -> (BodySettings, Vec<String>) {
        let (settings, warnings) = BodySettings::from_lookup(fixed(vars));
        (settings, warnings.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn defaults_keep_4096_bytes_and_record_bodies() {
        assert_eq!(bodies(&[]), (BodySettings::default(), vec![]));
        assert_eq!(BodySettings::default().capture_bytes, 4096);
        assert!(BodySettings::default().on_spans);
    }

    #[test]
    fn overrides_are_honoured() {
        let (settings, warnings) = bodies(&[
            ("LAMBDA_LENS_CAPTURE_BYTES", "0"),
            ("LAMBDA_LENS_CAPTURE_BODIES", "false"),
        ]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(settings.capture_bytes, 0);
        assert!(!settings.on_spans);
        assert_eq!(
            bodies(&[("LAMBDA_LENS_CAPTURE_BYTES", "1048576")])
                .0
                .capture_bytes,
            MAX_CAPTURE_BYTES
        );
    }

    #[test]
    fn bad_values_warn_and_fall_back() {
        let (settings, warnings) = bodies(&[
            ("LAMBDA_LENS_CAPTURE_BYTES", "lots"),
            ("LAMBDA_LENS_CAPTURE_BODIES", "maybe"),
        ]);
        assert_eq!(settings, BodySettings::default());
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0].contains("using the default 4096"),
            "{warnings:?}"
        );
        let (settings, warnings) = bodies(&[("LAMBDA_LENS_CAPTURE_BYTES", "1048577")]);
        assert_eq!(settings.capture_bytes, DEFAULT_CAPTURE_BYTES);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
    }
}
