//! Which deliberate changes to events and responses are on (see [`crate::transform`]): each is
//! opt-in; a bad value warns and leaves the transform off.

use super::parse::{comma_list, Env};
use super::variable::{Fallback, Variable};
use super::SettingsGroup;
use crate::json::JsonPath;

pub(super) const INJECT_TRACEPARENT: Variable =
    Variable::user("LAMBDA_LENS_INJECT_TRACEPARENT", Fallback::Value("false"));
pub(super) const RESPONSE_HEADERS: Variable =
    Variable::user("LAMBDA_LENS_RESPONSE_HEADERS", Fallback::Value("false"));
pub(super) const MASK_RESPONSE_PATHS: Variable =
    Variable::user("LAMBDA_LENS_MASK_RESPONSE_PATHS", Fallback::None);

/// The variables of this group.
pub(super) const VARIABLES: &[Variable] =
    &[INJECT_TRACEPARENT, RESPONSE_HEADERS, MASK_RESPONSE_PATHS];

/// The transforms asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransformSettings {
    /// `traceparent` into HTTP-shaped events' headers (`LAMBDA_LENS_INJECT_TRACEPARENT`).
    pub inject_traceparent: bool,
    /// `traceparent` and `Server-Timing` into proxy-integration responses
    /// (`LAMBDA_LENS_RESPONSE_HEADERS`).
    pub response_headers: bool,
    /// Response values masked (`LAMBDA_LENS_MASK_RESPONSE_PATHS`); empty: no masking.
    pub mask_response_paths: Vec<JsonPath>,
}

impl SettingsGroup for TransformSettings {
    fn read(env: &mut Env<'_>) -> Self {
        let inject_traceparent = env.flag(&INJECT_TRACEPARENT, false);
        let response_headers = env.flag(&RESPONSE_HEADERS, false);
        let mut mask_response_paths = Vec::new();
        if let Some(raw) = env.get(&MASK_RESPONSE_PATHS) {
            for entry in comma_list(&raw) {
                match JsonPath::parse(entry) {
                    Some(path) => mask_response_paths.push(path),
                    None => env.warn(
                        &MASK_RESPONSE_PATHS,
                        entry,
                        "expected a path such as a.b, a[0].b, a[*].b or $.a.*",
                    ),
                }
            }
        }
        Self {
            inject_traceparent,
            response_headers,
            mask_response_paths,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::{Direction, Transforms};

    #[test]
    fn bad_settings_warn_and_stay_off() {
        let (settings, warnings) = TransformSettings::from_lookup(|k| match k {
            "LAMBDA_LENS_INJECT_TRACEPARENT" => Some("yes".into()),
            "LAMBDA_LENS_MASK_RESPONSE_PATHS" => Some("a[x],ok.b".into()),
            _ => None,
        });
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        let t = Transforms::new(&settings);
        assert!(!t.any(Direction::Event));
        assert!(t.any(Direction::Response));
    }

    #[test]
    fn all_off_by_default() {
        let (settings, warnings) = TransformSettings::from_lookup(|_| None);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(settings, TransformSettings::default());
        let t = Transforms::new(&settings);
        assert!(!t.any(Direction::Event) && !t.any(Direction::Response));
    }

    #[test]
    fn switches_and_paths_are_read() {
        let (settings, warnings) = TransformSettings::from_lookup(|k| match k {
            "LAMBDA_LENS_INJECT_TRACEPARENT" => Some(" TRUE ".into()),
            "LAMBDA_LENS_RESPONSE_HEADERS" => Some("false".into()),
            "LAMBDA_LENS_MASK_RESPONSE_PATHS" => Some("user.ssn, items[*].card ,".into()),
            _ => None,
        });
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(settings.inject_traceparent && !settings.response_headers);
        assert_eq!(settings.mask_response_paths.len(), 2);
    }
}
