//! Trace contexts that the records of a batch event carry, one per record that has one, for span
//! links from the invocation to each message's producer; and the words sources use to say where in
//! a record they are ([`RecordField`], read by [`super::RecordScanner`]).
//!
//! Contexts are handed over as the record carries them (not validated: parsing and checking belong
//! to whoever links them).

/// A trace context as a record carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Carrier {
    /// An X-Ray tracing header (`Root=1-…;Parent=…;Sampled=…`).
    XRay(String),
    /// W3C Trace Context.
    W3c {
        /// `traceparent`.
        traceparent: String,
        /// `tracestate`, when the record has one.
        tracestate: Option<String>,
    },
}

/// One record's trace context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordContext {
    /// The record's position in the batch, counted in the order the event lists its records.
    pub record: usize,
    /// The record's message id (`messaging.message.id` on its link), when it has one.
    pub message_id: Option<String>,
    /// The context as the record carries it.
    pub carrier: Carrier,
}

/// A W3C Trace Context field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum W3cField {
    /// `traceparent`.
    TraceParent,
    /// `tracestate`.
    TraceState,
}

impl W3cField {
    /// The field an attribute or header name names, ignoring ASCII case (message attribute and
    /// header names are case-insensitive in practice).
    pub fn named(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("traceparent") {
            Some(Self::TraceParent)
        } else if name.eq_ignore_ascii_case("tracestate") {
            Some(Self::TraceState)
        } else {
            None
        }
    }
}

/// What a value inside a record holds for the record's link
/// ([`super::EventSource::record_field`]). A value of another type than the field's (a number
/// where a string belongs) reads as absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordField {
    /// The message id, a string.
    MessageId,
    /// The ARN of where the record was sent (queue, topic, stream, table), a string.
    Destination,
    /// An X-Ray tracing header, a string.
    XRay,
    /// A W3C field, a string.
    W3c(W3cField),
    /// A W3C field as an array of byte values, UTF-8 once decoded (Kafka record headers).
    W3cBytes(W3cField),
}
