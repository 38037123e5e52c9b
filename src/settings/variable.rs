//! The table's row: one environment variable lambda-lens reads, who sets it and what applies when
//! it is unset. Every read goes through a [`Variable`], so the table (`super::variables`) and the
//! README's configuration tables are checked against what the code really reads.

use std::fmt;

/// Who sets a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The user, on the function: documented in the README's configuration table.
    User,
    /// Lambda itself: documented in the README's "read from the platform" table.
    Platform,
}

/// What applies when a variable is unset, as the README's Default column says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// Nothing: the feature is off or the value is simply unknown.
    None,
    /// A value that, when set explicitly, means the same as leaving the variable unset.
    Value(&'static str),
    /// A rule, in words (for example "the function name").
    Described(&'static str),
}

impl fmt::Display for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("(none)"),
            Self::Value(text) | Self::Described(text) => f.write_str(text),
        }
    }
}

/// One environment variable lambda-lens reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variable {
    /// Its name, e.g. `LAMBDA_LENS_PROXY_PORT`.
    pub name: &'static str,
    /// Who sets it.
    pub origin: Origin,
    /// What applies when it is unset.
    pub fallback: Fallback,
}

impl Variable {
    /// A variable the user sets on the function.
    pub const fn user(name: &'static str, fallback: Fallback) -> Self {
        Self {
            name,
            origin: Origin::User,
            fallback,
        }
    }

    /// A variable Lambda sets in every execution environment.
    pub const fn platform(name: &'static str) -> Self {
        Self {
            name,
            origin: Origin::Platform,
            fallback: Fallback::None,
        }
    }
}
