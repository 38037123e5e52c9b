//! lambda-lens's own log filter (`LAMBDA_LENS_LOG`): a level, or `target=level,...`; `info` by
//! default. Read before anything else, so that every other warning, and a fatal error, is logged
//! through it.

use tracing_subscriber::filter::{LevelFilter, Targets};

use super::parse::Env;
use super::variable::{Fallback, Variable};
use super::SettingsGroup;
use crate::logging::RECORD_TARGET;

const LOG: Variable = Variable::user("LAMBDA_LENS_LOG", Fallback::Value("info"));

/// The variables of this group.
pub(super) const VARIABLES: &[Variable] = &[LOG];

/// What lambda-lens logs about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct LogSettings {
    /// Which targets log at which level.
    pub filter: Targets,
    /// Whether the filter names the per-record target explicitly. Records carry unredacted
    /// payload bytes, so a bare `debug` must not print them into CloudWatch.
    pub records: bool,
}

impl Default for LogSettings {
    /// `info` for everything, no records.
    fn default() -> Self {
        Self {
            filter: Targets::new().with_default(LevelFilter::INFO),
            records: false,
        }
    }
}

impl SettingsGroup for LogSettings {
    fn read(env: &mut Env<'_>) -> Self {
        let Some(raw) = env.get(&LOG) else {
            return Self::default();
        };
        match raw.parse::<Targets>() {
            Ok(filter) => Self {
                filter,
                records: raw.contains(RECORD_TARGET),
            },
            Err(e) => {
                env.warn(&LOG, &raw, format!("{e}; using info"));
                Self {
                    records: raw.contains(RECORD_TARGET),
                    ..Self::default()
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(value: &'static str) -> (LogSettings, Vec<String>) {
        let (settings, warnings) =
            LogSettings::from_lookup(|name| (name == "LAMBDA_LENS_LOG").then(|| value.to_owned()));
        (settings, warnings.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn info_by_default_and_records_only_when_named() {
        assert_eq!(log(" "), (LogSettings::default(), vec![]));
        let (debug, warnings) = log("debug");
        assert!(warnings.is_empty() && !debug.records);
        assert_eq!(debug.filter, "debug".parse::<Targets>().expect("a level"));
        let (records, _) = log("info,lambda_lens::record=debug");
        assert!(records.records);
    }

    #[test]
    fn an_unusable_filter_warns_and_logs_at_info() {
        let (settings, warnings) = log("lambda_lens=loud");
        assert_eq!(settings.filter, LogSettings::default().filter);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].starts_with("LAMBDA_LENS_LOG=\"lambda_lens=loud\" ignored:")
                && warnings[0].ends_with("; using info"),
            "{warnings:?}"
        );
    }
}
