//! What is redacted before anything leaves the process: the key patterns
//! (`LAMBDA_LENS_REDACT_KEYS`, a leading `+` extends the defaults, otherwise they are replaced),
//! exact JSON paths (`LAMBDA_LENS_REDACT_PATHS`, the grammar of [`crate::json::path`]) and the value
//! detectors (`LAMBDA_LENS_REDACT_VALUES`). Unusable entries are skipped with a warning each; the
//! rest still applies.

use super::parse::{comma_list, Env};
use super::variable::{Fallback, Variable};
use super::SettingsGroup;
use crate::json::JsonPath;
use crate::redact::{normalise_key, DEFAULT_KEYS};

pub(super) const REDACT_KEYS: Variable = Variable::user(
    "LAMBDA_LENS_REDACT_KEYS",
    Fallback::Described("the list above"),
);
pub(super) const REDACT_PATHS: Variable =
    Variable::user("LAMBDA_LENS_REDACT_PATHS", Fallback::None);
pub(super) const REDACT_VALUES: Variable =
    Variable::user("LAMBDA_LENS_REDACT_VALUES", Fallback::Value("true"));

/// The variables of this group.
pub(super) const VARIABLES: &[Variable] = &[REDACT_KEYS, REDACT_PATHS, REDACT_VALUES];

/// The redaction rules as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedactionSettings {
    /// Normalised key patterns (see [`crate::redact`]); a key matches when its normalised form
    /// contains one.
    pub keys: Vec<String>,
    /// Exact paths whose values are redacted.
    pub paths: Vec<JsonPath>,
    /// Whether the value detectors (access keys, JWTs, Bearer tokens, card numbers) run.
    pub values: bool,
}

impl Default for RedactionSettings {
    /// The default key patterns, no paths, value detectors on.
    fn default() -> Self {
        Self {
            keys: DEFAULT_KEYS.iter().map(|key| (*key).to_owned()).collect(),
            paths: Vec::new(),
            values: true,
        }
    }
}

impl SettingsGroup for RedactionSettings {
    fn read(env: &mut Env<'_>) -> Self {
        let mut settings = Self::default();
        if let Some(raw) = env.get(&REDACT_KEYS) {
            let (extend, list) = match raw.trim().strip_prefix('+') {
                Some(rest) => (true, rest),
                None => (false, raw.as_str()),
            };
            let mut keys: Vec<String> = Vec::new();
            for entry in comma_list(list) {
                let key = normalise_key(entry);
                if key.is_empty() {
                    env.warn(&REDACT_KEYS, entry, "no letters or digits");
                } else if !keys.contains(&key) {
                    keys.push(key);
                }
            }
            if extend {
                keys.retain(|key| !settings.keys.contains(key));
                settings.keys.extend(keys);
            } else if keys.is_empty() {
                env.warn(
                    &REDACT_KEYS,
                    &raw,
                    "names no key; using the default key patterns",
                );
            } else {
                settings.keys = keys;
            }
        }
        if let Some(raw) = env.get(&REDACT_PATHS) {
            for entry in comma_list(&raw) {
                match JsonPath::parse(entry) {
                    Some(path) => settings.paths.push(path),
                    None => env.warn(&REDACT_PATHS, entry, "not a path like a.b[*].c"),
                }
            }
        }
        settings.values = env.flag(&REDACT_VALUES, true);
        settings
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::fixed;
    use super::*;
    use crate::redact::{redact_text, RedactionRules};
    use crate::settings::SettingWarning;

    fn with_env(pairs: &[(&str, &str)]) -> (RedactionSettings, Vec<SettingWarning>) {
        RedactionSettings::from_lookup(fixed(pairs))
    }

    #[test]
    fn env_extend_replace_and_warnings() {
        let (extended, w) = with_env(&[("LAMBDA_LENS_REDACT_KEYS", "+ssn, Card_Number,token")]);
        assert!(w.is_empty());
        let rules = RedactionRules::new(&extended);
        assert!(rules.key_matches("user_ssn") && rules.key_matches("cardNumber"));
        assert!(rules.key_matches("password"));
        assert_eq!(extended.keys.len(), DEFAULT_KEYS.len() + 2);

        let (replaced, w) = with_env(&[("LAMBDA_LENS_REDACT_KEYS", "ssn")]);
        assert!(w.is_empty());
        let rules = RedactionRules::new(&replaced);
        assert!(rules.key_matches("ssn") && !rules.key_matches("password"));

        let (settings, w) = with_env(&[
            ("LAMBDA_LENS_REDACT_KEYS", "-,_"),
            ("LAMBDA_LENS_REDACT_PATHS", "a.b,a[x]"),
            ("LAMBDA_LENS_REDACT_VALUES", "maybe"),
        ]);
        assert_eq!(w.len(), 5, "{w:?}");
        assert_eq!(settings.keys, RedactionSettings::default().keys);
        assert_eq!(settings.paths.len(), 1);
        assert!(settings.values);

        let (off, w) = with_env(&[("LAMBDA_LENS_REDACT_VALUES", "FALSE")]);
        assert!(w.is_empty() && !off.values);
        assert_eq!(
            redact_text("AKIAIOSFODNN7EXAMPLE", &RedactionRules::new(&off)).0,
            "AKIAIOSFODNN7EXAMPLE"
        );

        let (defaults, w) = with_env(&[("LAMBDA_LENS_REDACT_KEYS", " ")]);
        assert!(w.is_empty());
        assert_eq!(defaults, RedactionSettings::default());
    }

    #[test]
    fn warnings_name_the_entry_that_was_skipped() {
        let (_, w) = with_env(&[("LAMBDA_LENS_REDACT_PATHS", "ok.path, a[x] ")]);
        assert_eq!(
            w.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["LAMBDA_LENS_REDACT_PATHS=\"a[x]\" ignored: not a path like a.b[*].c"]
        );
    }
}
