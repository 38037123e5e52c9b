//! What is a secret: the key patterns, the exact paths and the header floor of HTTP-shaped events,
//! built once from the settings ([`RedactionRules`]).

use crate::json::{JsonPath, PathStep};
use crate::settings::RedactionSettings;

/// Default key patterns (already normalised).
pub const DEFAULT_KEYS: [&str; 12] = [
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "cookie",
    "apikey",
    "credential",
    "session",
    "privatekey",
    "accesskey",
    // Presigned URLs' X-Amz-Signature (not a bare "signature": SNS's public Signature would match).
    "amzsignature",
];

/// Header names (normalised) redacted in HTTP-shaped events whatever the key patterns are.
pub(super) const SENSITIVE_HEADERS: [&str; 9] = [
    "authorization",
    "proxyauthorization",
    "cookie",
    "setcookie",
    "xapikey",
    "xamzsecuritytoken",
    "xauthtoken",
    "xcsrftoken",
    "xxsrftoken",
];

/// What is redacted; built once from the settings ([`RedactionRules::new`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedactionRules {
    /// Normalised key patterns; a key matches when its normalised form contains one.
    keys: Vec<String>,
    /// Exact paths whose values are redacted.
    pub(super) paths: Vec<JsonPath>,
    /// Whether the value detectors run.
    pub(super) values: bool,
}

impl Default for RedactionRules {
    /// The default key patterns, no paths, value detectors on.
    fn default() -> Self {
        Self::new(&RedactionSettings::default())
    }
}

impl RedactionRules {
    /// The rules as configured.
    pub fn new(settings: &RedactionSettings) -> Self {
        Self {
            keys: settings.keys.clone(),
            paths: settings.paths.clone(),
            values: settings.values,
        }
    }

    /// True when `key` (a JSON key, header or parameter name) names a secret.
    pub fn key_matches(&self, key: &str) -> bool {
        let key = normalise_key(key);
        !key.is_empty()
            && self
                .keys
                .iter()
                .any(|pattern| key.contains(pattern.as_str()))
    }

    pub(super) fn path_matches(&self, path: &[PathStep<'_>]) -> bool {
        self.paths.iter().any(|rule| rule.matches(path))
    }
}

/// Lower case without `-`, `_` and spaces, so the spellings of one name compare equal.
pub(crate) fn normalise_key(key: &str) -> String {
    key.chars()
        .filter(|c| !matches!(c, '-' | '_' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::redact::testing::rules;

    #[test]
    fn key_normalisation() {
        let rules = rules();
        for key in [
            "api_key",
            "X-Api-Key",
            "apiKey",
            "API KEY",
            "Authorization",
            "user_password",
            "refreshToken",
            "cookies",
            "AWS_SECRET_ACCESS_KEY",
            "sessionId",
        ] {
            assert!(rules.key_matches(key), "{key}");
        }
        for key in ["authorizer", "routeKey", "partitionKey", "name", "", "-_ "] {
            assert!(!rules.key_matches(key), "{key}");
        }
    }
}
