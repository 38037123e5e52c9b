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
    /// A pattern is empty: every key with a byte normalisation keeps matches.
    any_key: bool,
    /// The one-byte ASCII patterns, one bit per byte.
    single_bytes: u128,
    /// The first two bytes of the longer ASCII-led patterns: bit `second` of entry `first`. Only a
    /// position whose normalised byte pair is here can start a match, so most positions of a key
    /// are passed over without looking at any pattern.
    pattern_pairs: Box<[u128; 128]>,
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
        let mut single_bytes = 0;
        let mut pattern_pairs = Box::new([0u128; 128]);
        for pattern in &settings.keys {
            match *pattern.as_bytes() {
                [only] if only.is_ascii() => single_bytes |= 1u128 << only,
                [first, second, ..] if first.is_ascii() && second.is_ascii() => {
                    pattern_pairs[usize::from(first)] |= 1u128 << second;
                }
                // Empty (see `any_key`), or not ASCII: never inside an ASCII key.
                _ => {}
            }
        }
        Self {
            keys: settings.keys.clone(),
            any_key: settings.keys.iter().any(String::is_empty),
            single_bytes,
            pattern_pairs,
            paths: settings.paths.clone(),
            values: settings.values,
        }
    }

    /// True when `key` (a JSON key, header or parameter name) names a secret.
    pub fn key_matches(&self, key: &str) -> bool {
        if key.is_ascii() {
            // The common case, compared in place: no normalised copy per key.
            return self.ascii_key_matches(key.as_bytes());
        }
        let key = normalise_key(key);
        !key.is_empty()
            && self
                .keys
                .iter()
                .any(|pattern| key.contains(pattern.as_str()))
    }

    /// [`Self::key_matches`] for an ASCII key: each pair of consecutive normalised bytes is looked
    /// up in `pattern_pairs`, and only a pair found there is compared with the patterns.
    fn ascii_key_matches(&self, key: &[u8]) -> bool {
        // (index in `key`, normalised byte) of the previous significant byte.
        let mut previous: Option<(usize, u8)> = None;
        for (at, &b) in key.iter().enumerate() {
            if !is_significant(b) {
                continue;
            }
            if self.any_key {
                return true;
            }
            let lower = b.to_ascii_lowercase();
            if self.single_bytes & (1u128 << lower) != 0 {
                return true;
            }
            if let Some((start, first)) = previous {
                if self.pattern_pairs[usize::from(first)] & (1u128 << lower) != 0
                    && self.match_starts_at(key, start, first)
                {
                    return true;
                }
            }
            previous = Some((at, lower));
        }
        false
    }

    /// Whether a pattern of two bytes or more occurs in the normalised form of the ASCII `key`
    /// starting at its byte `start`, whose normalised form is `first`.
    fn match_starts_at(&self, key: &[u8], start: usize, first: u8) -> bool {
        self.keys.iter().any(|pattern| match pattern.as_bytes() {
            [head, rest @ ..] if *head == first && !rest.is_empty() => {
                let mut following = normalised_ascii(&key[start + 1..]);
                rest.iter().all(|&p| following.next() == Some(p))
            }
            _ => false,
        })
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

/// Whether `key`, normalised, equals `name` (a normalised name), without building the normalised
/// form when `key` is ASCII.
pub(super) fn normalised_eq(key: &str, name: &str) -> bool {
    if !key.is_ascii() {
        return normalise_key(key) == name;
    }
    let mut normalised = normalised_ascii(key.as_bytes());
    name.bytes().all(|b| normalised.next() == Some(b)) && normalised.next().is_none()
}

/// A byte that normalisation keeps.
fn is_significant(b: u8) -> bool {
    !matches!(b, b'-' | b'_' | b' ')
}

/// The normalised form of an ASCII key, byte by byte.
fn normalised_ascii(key: &[u8]) -> impl Iterator<Item = u8> + '_ {
    key.iter()
        .copied()
        .filter(|&b| is_significant(b))
        .map(|b| b.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
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

    #[test]
    fn in_place_matching_agrees_with_the_normalised_form() {
        let patterns = ["apikey", "", "a-b", "Key", "é", "keyk"];
        let keys = [
            "api_key",
            "X-Api-Key",
            "API KEY",
            "apikeykey",
            "kkeyk",
            "-_ ",
            "",
            "a-b",
            "aB",
            "KeyK",
            "clé",
            "Clé-API",
        ];
        for pattern in patterns {
            let settings = RedactionSettings {
                keys: vec![pattern.to_owned()],
                ..RedactionSettings::default()
            };
            let rules = RedactionRules::new(&settings);
            for key in keys {
                let normalised = normalise_key(key);
                assert_eq!(
                    rules.key_matches(key),
                    !normalised.is_empty() && normalised.contains(pattern),
                    "{key} / {pattern}"
                );
            }
        }
        for key in keys {
            let normalised = normalise_key(key);
            for name in ["apikey", "xapikey", "", "kkeyk", "cléapi"] {
                assert_eq!(
                    normalised_eq(key, name),
                    normalised == name,
                    "{key} / {name}"
                );
            }
        }
    }
}
