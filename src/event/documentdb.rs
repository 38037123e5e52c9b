//! Amazon DocumentDB change streams: top-level `eventSource` `aws:docdb`.
//!
//! No attributes yet.

use super::{EventSource, Trigger};

/// Amazon DocumentDB change streams.
pub(super) struct DocumentDb;

impl EventSource for DocumentDb {
    fn trigger(&self) -> Trigger {
        Trigger::Datasource
    }

    fn names(&self) -> &'static [&'static str] {
        &["aws:docdb"]
    }
}
