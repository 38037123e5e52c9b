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

/// Longest ASCII key normalised on the stack; a longer one is normalised into a `String`.
const STACK_KEY_BYTES: usize = 64;

/// Bits in the set of ASCII byte pairs (`first << 7 | second`).
const ASCII_PAIRS: usize = 128 * 128;

/// What is redacted; built once from the settings ([`RedactionRules::new`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedactionRules {
    /// Normalised key patterns; a key matches when its normalised form contains one.
    keys: Vec<String>,
    /// A pattern is empty: every key with a byte normalisation keeps matches.
    any_key: bool,
    /// The one-byte ASCII patterns, one bit per byte (rare: most sets have none).
    single_bytes: u128,
    /// The first two bytes of the longer ASCII-led patterns, bit `first << 7 | second`. Only a
    /// position whose normalised byte pair is here can start a match, so most positions of a key
    /// are passed over without looking at any pattern.
    pattern_pairs: Box<[u64; ASCII_PAIRS / 64]>,
    /// Fewest bytes an ASCII key can have and still match: the shortest pattern of `pattern_pairs`
    /// (`usize::MAX` when there is none), or 1 when an empty or one-byte pattern matches shorter
    /// keys. Most keys of an event (`id`, `n`, `type`) are shorter than every pattern.
    ascii_floor: usize,
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
        let mut single_bytes = 0u128;
        let mut pattern_pairs = Box::new([0u64; ASCII_PAIRS / 64]);
        let mut shortest_pair_pattern = usize::MAX;
        for pattern in &settings.keys {
            match *pattern.as_bytes() {
                [only] if only.is_ascii() => single_bytes |= 1 << only,
                [first, second, ..] if first.is_ascii() && second.is_ascii() => {
                    let pair = usize::from(first) << 7 | usize::from(second);
                    pattern_pairs[pair / 64] |= 1 << (pair % 64);
                    shortest_pair_pattern = shortest_pair_pattern.min(pattern.len());
                }
                // Empty (see `any_key`), or not ASCII: never inside an ASCII key.
                _ => {}
            }
        }
        let any_key = settings.keys.iter().any(String::is_empty);
        let ascii_floor = if any_key || single_bytes != 0 {
            1
        } else {
            shortest_pair_pattern
        };
        Self {
            keys: settings.keys.clone(),
            any_key,
            single_bytes,
            pattern_pairs,
            ascii_floor,
            paths: settings.paths.clone(),
            values: settings.values,
        }
    }

    /// True when `key` (a JSON key, header or parameter name) names a secret.
    pub fn key_matches(&self, key: &str) -> bool {
        if key.len() < self.ascii_floor && key.is_ascii() {
            // Normalising never lengthens an ASCII key.
            return false;
        }
        if key.is_ascii() && key.len() <= STACK_KEY_BYTES {
            // The common case: normalised on the stack, no copy on the heap per key.
            let mut normalised = [0u8; STACK_KEY_BYTES];
            let mut len = 0;
            for &b in key.as_bytes() {
                normalised[len] = b.to_ascii_lowercase();
                len += usize::from(is_significant(b));
            }
            return self.normalised_ascii_matches(&normalised[..len]);
        }
        let key = normalise_key(key);
        if key.is_ascii() {
            return self.normalised_ascii_matches(key.as_bytes());
        }
        !key.is_empty()
            && self
                .keys
                .iter()
                .any(|pattern| key.contains(pattern.as_str()))
    }

    /// [`Self::key_matches`] for a normalised ASCII key: each pair of consecutive bytes is looked
    /// up in `pattern_pairs`, and only a pair found there is compared with the patterns.
    fn normalised_ascii_matches(&self, key: &[u8]) -> bool {
        let Some(&first) = key.first() else {
            return false;
        };
        if self.any_key
            || (self.single_bytes != 0 && key.iter().any(|&b| self.single_bytes >> b & 1 != 0))
        {
            return true;
        }
        let mut pair = usize::from(first);
        for at in 1..key.len() {
            // The pair ending at `at`; ASCII bytes keep it below `ASCII_PAIRS`.
            pair = (pair << 7 | usize::from(key[at])) % ASCII_PAIRS;
            if self.pattern_pairs[pair / 64] >> (pair % 64) & 1 != 0
                && self.keys.iter().any(|pattern| {
                    // Only a pattern that starts with this very pair is compared whole.
                    let pattern = pattern.as_bytes();
                    pattern.len() >= 2
                        && pattern[0] == key[at - 1]
                        && pattern[1] == key[at]
                        && key[at - 1..].starts_with(pattern)
                })
            {
                return true;
            }
        }
        false
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
            // Normalised on the heap: longer than the stack buffer, or not ASCII.
            "a_very_long_configuration_entry_name_that_ends_with_the_word_api_key",
            "\u{212a}EY",
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
