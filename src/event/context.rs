//! Trace contexts that the records of a batch event carry, one per record that has one, for span
//! links from the invocation to each message's producer ([`super::EventSource::record_contexts`]).
//!
//! Contexts are handed over as the record carries them (not validated: parsing and checking belong
//! to whoever links them), borrowed from the parsed event where the record holds them as text.

use std::borrow::Cow;

/// A trace context as a record carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Carrier<'a> {
    /// An X-Ray tracing header (`Root=1-…;Parent=…;Sampled=…`).
    XRay(&'a str),
    /// W3C Trace Context.
    W3c {
        /// `traceparent`.
        traceparent: Cow<'a, str>,
        /// `tracestate`, when the record has one.
        tracestate: Option<Cow<'a, str>>,
    },
}

impl<'a> Carrier<'a> {
    /// The W3C context found by `lookup` (a case-insensitive read of the record's attributes or
    /// headers), when it has a `traceparent`.
    pub(super) fn w3c(lookup: impl Fn(&str) -> Option<Cow<'a, str>>) -> Option<Self> {
        Some(Self::W3c {
            traceparent: lookup("traceparent")?,
            tracestate: lookup("tracestate"),
        })
    }
}

/// One record's trace context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordContext<'a> {
    /// The record's position in the batch, counted in the order the source lists its records.
    pub record: usize,
    /// The context as the record carries it.
    pub carrier: Carrier<'a>,
}
