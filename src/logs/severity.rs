//! A log line's severity: from a JSON record's `level`, or from the line's text — a `[LEVEL]`
//! prefix (Python's Lambda format, `[ERROR]\t<time>\t<request id>\t<message>`), a leading
//! `LEVEL` word (`ERROR: …`, `WARN …`), or the third tab-separated field (Node's format,
//! `<time>\t<request id>\tERROR\t<message>`). Anything else has no severity.

use opentelemetry_proto::tonic::logs::v1::SeverityNumber;

/// The severity ranges of the OpenTelemetry log data model, at their first number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// `TRACE`.
    Trace,
    /// `DEBUG`.
    Debug,
    /// `INFO`.
    Info,
    /// `WARN`, `WARNING`.
    Warn,
    /// `ERROR`.
    Error,
    /// `FATAL`, `CRITICAL`.
    Fatal,
}

/// Longest level word read from a line (`CRITICAL`, `WARNING`).
const MAX_LEVEL_CHARS: usize = 8;
/// Tab-separated fields read from a line: Node's level is the third.
const LEVEL_FIELD: usize = 2;
/// The level words, in capitals, and the severity each names.
const LEVEL_WORDS: [(&str, Severity); 8] = [
    ("TRACE", Severity::Trace),
    ("DEBUG", Severity::Debug),
    ("INFO", Severity::Info),
    ("WARN", Severity::Warn),
    ("WARNING", Severity::Warn),
    ("ERROR", Severity::Error),
    ("FATAL", Severity::Fatal),
    ("CRITICAL", Severity::Fatal),
];

impl Severity {
    /// The severity a level word names (any case), if it names one.
    pub fn from_level(level: &str) -> Option<Self> {
        level_word(level).map(|(_, severity)| severity)
    }

    /// The severity a text line states, and the word that states it (trimmed, in capitals as
    /// written, so one of the level words: no copy of it is needed).
    pub fn from_text(line: &str) -> Option<(Self, &'static str)> {
        let bracketed = line
            .strip_prefix('[')
            .and_then(|rest| rest.split_once(']'))
            .map(|(word, _)| word);
        let leading = line
            .split(|c: char| c == ':' || c.is_whitespace())
            .next()
            .filter(|word| word.len() < line.len());
        let tab_field = line.split('\t').nth(LEVEL_FIELD);
        [bracketed, leading, tab_field]
            .into_iter()
            .flatten()
            // Text prefixes are written in capitals; `error while reading` is a message.
            .filter(|word| !word.chars().any(|c| c.is_ascii_lowercase()))
            .find_map(|word| level_word(word).map(|(word, severity)| (severity, word)))
    }

    /// The OTLP severity number.
    pub fn number(self) -> SeverityNumber {
        match self {
            Self::Trace => SeverityNumber::Trace,
            Self::Debug => SeverityNumber::Debug,
            Self::Info => SeverityNumber::Info,
            Self::Warn => SeverityNumber::Warn,
            Self::Error => SeverityNumber::Error,
            Self::Fatal => SeverityNumber::Fatal,
        }
    }
}

/// The level word `level` is (any case, surrounding white space ignored), in capitals, and the
/// severity it names.
fn level_word(level: &str) -> Option<(&'static str, Severity)> {
    let level = level.trim();
    if level.is_empty() || level.len() > MAX_LEVEL_CHARS {
        return None;
    }
    // Compared without case in place: no upper-cased copy per line.
    LEVEL_WORDS
        .iter()
        .find(|(word, _)| level.eq_ignore_ascii_case(word))
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_levels_in_any_case() {
        assert_eq!(Severity::from_level("INFO"), Some(Severity::Info));
        assert_eq!(Severity::from_level("warning"), Some(Severity::Warn));
        assert_eq!(Severity::from_level("Critical"), Some(Severity::Fatal));
        assert_eq!(Severity::from_level("trace"), Some(Severity::Trace));
        assert_eq!(Severity::from_level("verbose"), None);
        assert_eq!(Severity::from_level(""), None);
    }

    #[test]
    fn text_prefixes_of_the_runtimes() {
        let python = "[ERROR]\t2024-05-01T10:00:00.000Z\tf2b3c\tboom";
        assert_eq!(
            Severity::from_text(python),
            Some((Severity::Error, "ERROR"))
        );
        let node = "2024-05-01T10:00:00.000Z\tf2b3c\tWARN\tslow";
        assert_eq!(Severity::from_text(node), Some((Severity::Warn, "WARN")));
        assert_eq!(
            Severity::from_text("ERROR: disk full"),
            Some((Severity::Error, "ERROR"))
        );
        assert_eq!(
            Severity::from_text("DEBUG cache miss"),
            Some((Severity::Debug, "DEBUG"))
        );
        assert_eq!(
            Severity::from_text("[INFO] started"),
            Some((Severity::Info, "INFO"))
        );
    }

    #[test]
    fn ordinary_text_has_no_severity() {
        assert_eq!(Severity::from_text("error while reading"), None);
        assert_eq!(
            Severity::from_text("ERROR"),
            None,
            "a lone word is a message"
        );
        assert_eq!(Severity::from_text("hello\tworld"), None);
        assert_eq!(Severity::from_text(""), None);
        assert_eq!(Severity::from_text("[link] text"), None);
    }
}
