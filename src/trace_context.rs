//! Trace context from X-Ray headers, id generation and sampling (being written).
