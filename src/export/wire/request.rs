//! The export request around the items, the same for every signal:
//! `Export…ServiceRequest { resource_… [1]: [Resource… { resource [1], scope_… [2]: [Scope… {
//! scope [1], items [2], schema_url [3] }], schema_url [3] }] }`, written into one buffer of the
//! request's exact size.

use prost::encoding::message;

use super::{
    bytes_len, framed_len, message_len, write_bytes, write_framed, write_message, Message,
};

/// A message encoded ahead (the resource, lambda-lens's scope), written as it is.
#[derive(Debug, Clone)]
pub(crate) struct Encoded(Vec<u8>);

impl Encoded {
    /// `message`'s fields.
    pub(crate) fn new(message: &impl prost::Message) -> Self {
        Self(message.encode_to_vec())
    }
}

impl Message for Encoded {
    fn body_len(&self) -> usize {
        self.0.len()
    }

    fn write_body(&self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(&self.0);
    }
}

/// One item of a scope entry, as a repeated message field.
pub(crate) trait Item {
    /// The bytes it takes as field `tag`.
    fn field_len(&self, tag: u32) -> usize;

    /// Writes it as field `tag`.
    fn write_field(&self, tag: u32, buf: &mut Vec<u8>);
}

impl<T: Message> Item for T {
    fn field_len(&self, tag: u32) -> usize {
        message_len(tag, self)
    }

    fn write_field(&self, tag: u32, buf: &mut Vec<u8>) {
        write_message(tag, self, buf);
    }
}

/// A queued prost message (a log record, a metric), borrowed and measured once.
pub(crate) struct ProtoMessage<'a, M> {
    message: &'a M,
    len: usize,
}

impl<'a, M: prost::Message> ProtoMessage<'a, M> {
    /// `message`, measured.
    pub(crate) fn new(message: &'a M) -> Self {
        Self {
            message,
            len: message.encoded_len(),
        }
    }
}

impl<M: prost::Message> Item for ProtoMessage<'_, M> {
    fn field_len(&self, tag: u32) -> usize {
        framed_len(tag, self.len)
    }

    fn write_field(&self, tag: u32, buf: &mut Vec<u8>) {
        message::encode(tag, self.message, buf);
    }
}

/// One scope entry of a request (`ScopeSpans`, `ScopeLogs`, `ScopeMetrics`): the scope and its
/// items.
pub(crate) struct ScopeEntry<'a, S, I> {
    scope: S,
    schema_url: &'a str,
    items: Vec<I>,
}

impl<'a, S: Message, I: Item> ScopeEntry<'a, S, I> {
    /// An entry for `scope` (whose schema URL is `schema_url`) holding `items`.
    pub(crate) fn new(scope: S, schema_url: &'a str, items: Vec<I>) -> Self {
        Self {
            scope,
            schema_url,
            items,
        }
    }

    /// The scope.
    pub(crate) fn scope(&self) -> &S {
        &self.scope
    }

    /// Adds an item.
    pub(crate) fn push(&mut self, item: I) {
        self.items.push(item);
    }
}

impl<S: Message, I: Item> Message for ScopeEntry<'_, S, I> {
    fn body_len(&self) -> usize {
        message_len(1, &self.scope)
            + self
                .items
                .iter()
                .map(|item| item.field_len(2))
                .sum::<usize>()
            + bytes_len(3, self.schema_url.as_bytes())
    }

    fn write_body(&self, buf: &mut Vec<u8>) {
        write_message(1, &self.scope, buf);
        for item in &self.items {
            item.write_field(2, buf);
        }
        write_bytes(3, self.schema_url.as_bytes(), buf);
    }
}

/// The resource entry of a request: the resource and the scope entries.
struct ResourceEntry<'a, S, I> {
    resource: &'a Encoded,
    schema_url: &'a str,
    scopes: &'a [ScopeEntry<'a, S, I>],
}

impl<S: Message, I: Item> Message for ResourceEntry<'_, S, I> {
    fn body_len(&self) -> usize {
        message_len(1, self.resource)
            + self
                .scopes
                .iter()
                .map(|scope| message_len(2, scope))
                .sum::<usize>()
            + bytes_len(3, self.schema_url.as_bytes())
    }

    fn write_body(&self, buf: &mut Vec<u8>) {
        write_message(1, self.resource, buf);
        for scope in self.scopes {
            write_message(2, scope, buf);
        }
        write_bytes(3, self.schema_url.as_bytes(), buf);
    }
}

/// The export request for `resource` (with its `schema_url`) carrying `scopes`.
pub(crate) fn export_request<S: Message, I: Item>(
    resource: &Encoded,
    schema_url: &str,
    scopes: &[ScopeEntry<'_, S, I>],
) -> Vec<u8> {
    let entry = ResourceEntry {
        resource,
        schema_url,
        scopes,
    };
    let body_len = entry.body_len();
    let mut buf = Vec::with_capacity(framed_len(1, body_len));
    write_framed(1, body_len, &mut buf);
    entry.write_body(&mut buf);
    buf
}

/// The length of a resource entry for `resource` (with its `schema_url`) without scope entries.
pub(crate) fn resource_entry_len(resource: &Encoded, schema_url: &str) -> usize {
    ResourceEntry::<Encoded, Encoded> {
        resource,
        schema_url,
        scopes: &[],
    }
    .body_len()
}
