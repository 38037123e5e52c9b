//! The shared parsers every settings group uses: the reader ([`Env`]: blank values count as unset,
//! warnings collected on the way), booleans, bounded integers, milliseconds, one-of-a-few names,
//! comma lists and `key=value` lists, and the one warning type, [`SettingWarning`].
//!
//! One rule for every variable: a value that cannot be used yields one warning naming the variable
//! and the default applies; nothing here ever stops the extension.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::variable::Variable;

/// A value that was ignored in favour of a default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingWarning {
    /// The environment variable.
    pub variable: &'static str,
    /// The value that was ignored (a whole value, or one entry of a list).
    pub value: String,
    /// Why, and what applies instead.
    pub message: String,
}

impl fmt::Display for SettingWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}={:?} ignored: {}",
            self.variable, self.value, self.message
        )
    }
}

/// Which integers a variable accepts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds<T> {
    min: T,
    max: Option<T>,
}

impl<T: PartialOrd + Copy> Bounds<T> {
    /// `min` or more.
    pub(crate) const fn at_least(min: T) -> Self {
        Self { min, max: None }
    }

    /// From `min` to `max`, both included.
    pub(crate) const fn between(min: T, max: T) -> Self {
        Self {
            min,
            max: Some(max),
        }
    }

    fn contains(&self, value: T) -> bool {
        value >= self.min && self.max.is_none_or(|max| value <= max)
    }
}

impl<T: fmt::Display> fmt::Display for Bounds<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.max {
            Some(max) => write!(f, "from {} to {max}", self.min),
            None => write!(f, "of at least {}", self.min),
        }
    }
}

/// The variable (or variables) one setting is read from.
pub(crate) trait Source {
    /// The variable that is set, with its value; `None` when none is.
    fn find(&self, env: &Env<'_>) -> Option<(Variable, String)>;
}

impl Source for Variable {
    fn find(&self, env: &Env<'_>) -> Option<(Variable, String)> {
        env.get(self).map(|value| (*self, value))
    }
}

/// A signal-specific variable and its generic one (`OTEL_EXPORTER_OTLP_TRACES_X`,
/// `OTEL_EXPORTER_OTLP_X`): the first that is set wins.
impl Source for [Variable; 2] {
    fn find(&self, env: &Env<'_>) -> Option<(Variable, String)> {
        self.iter().find_map(|variable| variable.find(env))
    }
}

/// The environment as the settings read it: a lookup in which blank values count as unset (the
/// OpenTelemetry rule), and the warnings collected while reading.
pub struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    warnings: Vec<SettingWarning>,
}

impl<'a> Env<'a> {
    /// Reads through `lookup`.
    pub(crate) fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self {
            lookup,
            warnings: Vec::new(),
        }
    }

    /// The warnings, in the order the variables were read.
    pub(crate) fn into_warnings(self) -> Vec<SettingWarning> {
        self.warnings
    }

    /// The raw value of `variable`; `None` when unset or blank.
    pub(crate) fn get(&self, variable: &Variable) -> Option<String> {
        (self.lookup)(variable.name).filter(|value| !value.trim().is_empty())
    }

    /// The variable of `source` that is set, with its value.
    pub(crate) fn find(&self, source: &impl Source) -> Option<(Variable, String)> {
        source.find(self)
    }

    /// Records that `value` of `variable` was ignored.
    pub(crate) fn warn(&mut self, variable: &Variable, value: &str, message: impl Into<String>) {
        self.warnings.push(SettingWarning {
            variable: variable.name,
            value: value.to_owned(),
            message: message.into(),
        });
    }

    /// `value` (of `variable`) through `parse`; when it yields nothing, a warning saying what was
    /// `expected`, and `default`.
    pub(crate) fn parse_value<T>(
        &mut self,
        variable: &Variable,
        value: &str,
        default: T,
        expected: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> T {
        parse(value).unwrap_or_else(|| {
            self.warn(
                variable,
                value,
                format!("{expected}; using the default {}", variable.fallback),
            );
            default
        })
    }

    /// `source` through `parse`, `default` when it is unset (see [`Env::parse_value`]).
    pub(crate) fn parse<T>(
        &mut self,
        source: &impl Source,
        default: T,
        expected: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> T {
        match self.find(source) {
            Some((variable, value)) => {
                self.parse_value(&variable, &value, default, expected, parse)
            }
            None => default,
        }
    }

    /// A boolean: `true` or `false`, any case.
    pub(crate) fn flag(&mut self, source: &impl Source, default: bool) -> bool {
        self.parse(source, default, "expected true or false", boolean)
    }

    /// A decimal integer within `bounds`, `what` naming it in the warning ("a port number").
    pub(crate) fn integer<T>(
        &mut self,
        source: &impl Source,
        default: T,
        what: &str,
        bounds: Bounds<T>,
    ) -> T
    where
        T: FromStr + PartialOrd + Copy + fmt::Display,
    {
        let expected = format!("expected {what} {bounds}");
        self.parse(source, default, &expected, |value| {
            value
                .trim()
                .parse::<T>()
                .ok()
                .filter(|number| bounds.contains(*number))
        })
    }

    /// A duration written in whole milliseconds, within `bounds`.
    pub(crate) fn millis(
        &mut self,
        source: &impl Source,
        default: Duration,
        bounds: Bounds<u64>,
    ) -> Duration {
        let default_ms = u64::try_from(default.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(self.integer(source, default_ms, "a number of milliseconds", bounds))
    }
}

/// `true` or `false`, any case, surrounding blanks ignored.
pub(crate) fn boolean(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// One of `choices` (`(name, value)`), by name, any case, surrounding blanks ignored.
pub(crate) fn one_of<T: Copy>(value: &str, choices: &[(&str, T)]) -> Option<T> {
    let value = value.trim();
    choices
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(value))
        .map(|(_, choice)| *choice)
}

/// The entries of a comma-separated list, trimmed, empty entries skipped.
pub(crate) fn comma_list(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
}

/// The `key=value` entries of a comma-separated list, keys and values trimmed; entries without
/// `=` are skipped (the OpenTelemetry form of `OTEL_RESOURCE_ATTRIBUTES` and the OTLP headers).
pub(crate) fn key_values(value: &str) -> impl Iterator<Item = (&str, &str)> {
    value
        .split(',')
        .filter_map(|entry| entry.split_once('='))
        .map(|(key, value)| (key.trim(), value.trim()))
}

/// Decodes `%XX` escapes; `None` when an escape is malformed or the result is not UTF-8.
pub(crate) fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = value.get(index + 1..index + 3)?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

/// A lookup over fixed `(name, value)` pairs, standing in for the environment in tests.
#[cfg(test)]
pub(crate) fn fixed(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let vars: std::collections::HashMap<String, String> = pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    move |name| vars.get(name).cloned()
}

#[cfg(test)]
mod tests {
    use super::super::variable::Fallback;
    use super::*;

    const PORT: Variable = Variable::user("TEST_PORT", Fallback::Value("9009"));
    const SWITCH: Variable = Variable::user("TEST_SWITCH", Fallback::Value("false"));
    const WAIT: Variable = Variable::user("TEST_WAIT_MS", Fallback::Value("250"));
    const SIGNAL: Variable = Variable::user("TEST_TRACES_X", Fallback::None);
    const GENERIC: Variable = Variable::user("TEST_X", Fallback::None);

    fn read<T>(vars: &[(&str, &str)], read: impl FnOnce(&mut Env<'_>) -> T) -> (T, Vec<String>) {
        let lookup = fixed(vars);
        let mut env = Env::new(&lookup);
        let value = read(&mut env);
        let warnings = env
            .into_warnings()
            .iter()
            .map(ToString::to_string)
            .collect();
        (value, warnings)
    }

    #[test]
    fn blank_values_count_as_unset() {
        let (value, warnings) = read(&[("TEST_PORT", " \t")], |env| env.get(&PORT));
        assert_eq!((value, warnings), (None, vec![]));
        let (value, _) = read(&[("TEST_PORT", " 1 ")], |env| env.get(&PORT));
        assert_eq!(value.as_deref(), Some(" 1 "), "values are not trimmed here");
    }

    #[test]
    fn booleans_are_true_or_false_in_any_case() {
        for (raw, expected) in [
            ("true", Some(true)),
            (" FALSE ", Some(false)),
            ("True", Some(true)),
        ] {
            assert_eq!(boolean(raw), expected, "{raw}");
        }
        for raw in ["yes", "1", "on", "t", ""] {
            assert_eq!(boolean(raw), None, "{raw}");
        }
        let (value, warnings) = read(&[("TEST_SWITCH", "yes")], |env| env.flag(&SWITCH, false));
        assert!(!value);
        assert_eq!(
            warnings,
            ["TEST_SWITCH=\"yes\" ignored: expected true or false; using the default false"]
        );
    }

    #[test]
    fn integers_respect_their_bounds() {
        let port = |raw: &str| {
            read(&[("TEST_PORT", raw)], |env| {
                env.integer(
                    &PORT,
                    9009_u16,
                    "a port number",
                    Bounds::between(0, u16::MAX),
                )
            })
        };
        assert_eq!(port(" 0 "), (0, vec![]));
        assert_eq!(port("65535"), (65535, vec![]));
        let (value, warnings) = port("70000");
        assert_eq!(value, 9009);
        assert_eq!(
            warnings,
            ["TEST_PORT=\"70000\" ignored: expected a port number from 0 to 65535; using the default 9009"]
        );
        for bad in ["-1", "1.5", "ten", "0x10"] {
            assert_eq!(port(bad).0, 9009, "{bad}");
        }
        let (value, warnings) = read(&[("TEST_PORT", "0")], |env| {
            env.integer(&PORT, 7_u64, "a count", Bounds::at_least(1))
        });
        assert_eq!(value, 7);
        assert!(
            warnings[0].contains("expected a count of at least 1"),
            "{warnings:?}"
        );
    }

    #[test]
    fn durations_are_whole_milliseconds() {
        let wait = |raw: &str| {
            read(&[("TEST_WAIT_MS", raw)], |env| {
                env.millis(&WAIT, Duration::from_millis(250), Bounds::between(0, 2000))
            })
        };
        assert_eq!(wait("0"), (Duration::ZERO, vec![]));
        assert_eq!(wait("2000"), (Duration::from_millis(2000), vec![]));
        let (value, warnings) = wait("2001");
        assert_eq!(value, Duration::from_millis(250));
        assert!(
            warnings[0].contains("a number of milliseconds from 0 to 2000"),
            "{warnings:?}"
        );
        assert_eq!(wait("1s").0, Duration::from_millis(250));
    }

    #[test]
    fn names_match_in_any_case() {
        let choices = [("passthrough", 1), ("pass-through", 1), ("fail", 2)];
        assert_eq!(one_of(" FAIL ", &choices), Some(2));
        assert_eq!(one_of("Pass-Through", &choices), Some(1));
        assert_eq!(one_of("explode", &choices), None);
    }

    #[test]
    fn the_signal_specific_variable_wins() {
        let (found, _) = read(&[("TEST_TRACES_X", "a"), ("TEST_X", "b")], |env| {
            env.find(&[SIGNAL, GENERIC])
                .map(|(variable, value)| (variable.name, value))
        });
        assert_eq!(found, Some(("TEST_TRACES_X", "a".to_owned())));
        let (found, _) = read(&[("TEST_TRACES_X", " "), ("TEST_X", "b")], |env| {
            env.find(&[SIGNAL, GENERIC])
                .map(|(variable, value)| (variable.name, value))
        });
        assert_eq!(found, Some(("TEST_X", "b".to_owned())));
    }

    #[test]
    fn lists_are_trimmed_and_skip_empty_entries() {
        assert_eq!(
            comma_list(" a, b ,,c ,").collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert_eq!(comma_list(" , ").count(), 0);
        assert_eq!(
            key_values(" k = v ,novalue,,x=,=y,a=b=c").collect::<Vec<_>>(),
            [("k", "v"), ("x", ""), ("", "y"), ("a", "b=c")]
        );
    }

    #[test]
    fn percent_escapes_decode_or_fail() {
        assert_eq!(percent_decode("a%20b").as_deref(), Some("a b"));
        assert_eq!(percent_decode("%C3%A9").as_deref(), Some("é"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%2"), None);
        assert_eq!(percent_decode("%FF"), None, "not UTF-8");
    }
}
