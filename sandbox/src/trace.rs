//! X-Ray trace headers in the shapes Lambda hands to functions.

use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::ids::random_hex;

/// Which `X-Amzn-Trace-Id` shape an invocation carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TraceMode {
    /// Active tracing: `Root=1-…;Parent=<16 hex>;Sampled=1`.
    Active,
    /// Sampled out: `Root=1-…;Parent=<16 hex>;Sampled=0`.
    Unsampled,
    /// PassThrough since 2024: `Root=1-…;Lineage=<8 hex>:0`, no Parent, no Sampled.
    Lineage,
    /// No trace header at all.
    #[default]
    None,
}

impl TraceMode {
    /// Generates a fresh header of this shape (`None` for [`TraceMode::None`]).
    pub fn header(self) -> Option<String> {
        let root = xray_trace_id();
        match self {
            TraceMode::Active => Some(format!("Root={root};Parent={};Sampled=1", random_hex(8))),
            TraceMode::Unsampled => Some(format!("Root={root};Parent={};Sampled=0", random_hex(8))),
            TraceMode::Lineage => Some(format!("Root={root};Lineage={}:0", random_hex(4))),
            TraceMode::None => None,
        }
    }
}

/// Error for an unknown trace mode name.
#[derive(Debug, thiserror::Error)]
#[error("unknown trace mode {0:?} (expected active, unsampled, lineage or none)")]
pub struct UnknownTraceMode(String);

impl FromStr for TraceMode {
    type Err = UnknownTraceMode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "active" => Ok(TraceMode::Active),
            "unsampled" => Ok(TraceMode::Unsampled),
            "lineage" => Ok(TraceMode::Lineage),
            "none" => Ok(TraceMode::None),
            _ => Err(UnknownTraceMode(s.to_owned())),
        }
    }
}

/// An X-Ray trace id, `1-<8 hex epoch seconds>-<24 hex random>`, so X-Ray would accept it.
pub fn xray_trace_id() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("1-{secs:08x}-{}", random_hex(12))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let active = TraceMode::Active.header().expect("active has a header");
        let parts: Vec<&str> = active.split(';').collect();
        assert_eq!(parts.len(), 3);
        assert!(parts[0].starts_with("Root=1-") && parts[0].len() == "Root=1-".len() + 8 + 1 + 24);
        assert!(parts[1].starts_with("Parent=") && parts[1].len() == "Parent=".len() + 16);
        assert_eq!(parts[2], "Sampled=1");
        assert!(TraceMode::Unsampled
            .header()
            .expect("header")
            .ends_with(";Sampled=0"));
        let lineage = TraceMode::Lineage.header().expect("header");
        assert!(
            lineage.contains(";Lineage=") && lineage.ends_with(":0") && !lineage.contains("Parent")
        );
        assert_eq!(TraceMode::None.header(), None);
    }
}
