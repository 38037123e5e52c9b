//! One captured body parsed once: [`ParsedBody`] is built in span building for the event (and for
//! the response, which redaction judges by the same shapes) and handed to trigger inference, the
//! attributes and redaction, so a head is parsed as JSON at most once and its source inferred once.
//!
//! Both happen lazily, on first use: a complete head is parsed whole (and its source read from the
//! document); a head that is cut, or does not parse, has its source read from its bytes
//! ([`super::sniff`]) and is parsed as its longest complete prefix ([`crate::json::prefix`]) only
//! when something asks for its value.

use std::borrow::Cow;
use std::cell::OnceCell;

use serde_json::Value;

use super::context::RecordContext;
use super::detect::{detect, detect_head};
use super::http::Headers;
use super::stream::RecordScanner;
use super::{EventAttributes, Source, Trigger};
use crate::json::prefix::{parse_prefix, parse_whole};
use crate::redact::RedactionRules;

/// A captured body (an event head, or a response head) with what is parsed of it.
pub struct ParsedBody<'a> {
    head: &'a [u8],
    complete: bool,
    parse: Cow<'a, BodyParse>,
}

/// What has been parsed of a body so far, kept apart from the body so that it can travel with it:
/// the proxy parses an event's head to choose the invocation's parent, and span building
/// continues from there instead of parsing the head again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyParse {
    whole: OnceCell<Option<Value>>,
    prefix: OnceCell<Option<Value>>,
    source: OnceCell<Source>,
}

impl<'a> ParsedBody<'a> {
    /// A body whose captured head is `head`; `complete`: the head is the whole body.
    pub fn new(head: &'a [u8], complete: bool) -> Self {
        Self {
            head,
            complete,
            parse: Cow::Owned(BodyParse::default()),
        }
    }

    /// The body `head` (`complete` as in [`ParsedBody::new`]) with what `parse` already holds of
    /// it; `parse` must come from [`ParsedBody::into_parse`] of the same head and completeness.
    pub fn resume(head: &'a [u8], complete: bool, parse: &'a BodyParse) -> Self {
        Self {
            head,
            complete,
            parse: Cow::Borrowed(parse),
        }
    }

    /// What has been parsed of the body, to resume from later.
    pub fn into_parse(self) -> BodyParse {
        self.parse.into_owned()
    }

    /// The captured bytes.
    pub fn head(&self) -> &'a [u8] {
        self.head
    }

    /// Whether the head is the whole body.
    pub fn complete(&self) -> bool {
        self.complete
    }

    /// Whether the head is a whole, valid JSON document (as serde_json builds documents).
    pub fn is_whole_json(&self) -> bool {
        self.whole().is_some()
    }

    /// Whether the head parsed as a whole, valid JSON document, if that was tried already; never
    /// parses.
    pub fn parsed_whole(&self) -> Option<bool> {
        self.parse.whole.get().map(Option::is_some)
    }

    /// The parsed head: the whole document, or the longest complete prefix of a cut or damaged
    /// one; `None` when nothing of it parses.
    pub fn value(&self) -> Option<&Value> {
        self.whole().or_else(|| {
            self.parse
                .prefix
                .get_or_init(|| parse_prefix(self.head))
                .as_ref()
        })
    }

    /// The event source: judged on the document when the whole body was captured and parses,
    /// otherwise on the head's bytes.
    pub fn source(&self) -> Source {
        *self.parse.source.get_or_init(|| {
            // A cut head is never parsed just for this: its bytes decide.
            let whole = if self.complete { self.whole() } else { None };
            match whole {
                Some(event) => detect(event),
                None => detect_head(self.head),
            }
        })
    }

    /// `faas.trigger`.
    pub fn trigger(&self) -> Trigger {
        self.source().behaviour().trigger()
    }

    /// The source's attributes; `rules` decide which URL query parameters lose their values.
    ///
    /// When a messaging or data-source event yields none (a cut head judged by an `eventSource`
    /// nested in an EventBridge event's `detail`, or a batch whose first record is another
    /// source's) but carries an EventBridge envelope, the EventBridge attributes describe it.
    pub fn attributes(&self, rules: &RedactionRules) -> EventAttributes {
        let mut out = EventAttributes::default();
        let source = self.source();
        source.behaviour().attributes(self, rules, &mut out);
        let messaging = matches!(self.trigger(), Trigger::PubSub | Trigger::Datasource);
        if out.attributes.is_empty() && messaging {
            Source::EventBridge
                .behaviour()
                .attributes(self, rules, &mut out);
        }
        out
    }

    /// The trace contexts the records in the head carry (read as [`RecordScanner`] reads a whole
    /// event; a record the head ends inside gives what was read of it).
    pub fn record_contexts(&self) -> Vec<RecordContext> {
        RecordScanner::scan(self.head).contexts
    }

    /// The HTTP headers of an HTTP-shaped event, for context extraction.
    pub fn headers(&self) -> Option<Headers<'_>> {
        self.source().behaviour().headers(self.value()?)
    }

    fn whole(&self) -> Option<&Value> {
        self.parse
            .whole
            .get_or_init(|| parse_whole(self.head))
            .as_ref()
    }
}
