//! The shape every trace lambda-lens exports must have, checked on what a receiver got: each span
//! ends at or after its start; each child lies within its parent and shares its trace id; and no
//! span names as its local parent a span that was not exported (only a parent marked remote, the
//! caller's span, may be missing).

use std::collections::HashMap;

use trace_view::ReceivedSpan;

/// Why a set of received spans is not a well-formed set of traces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Breach {
    /// The span ends before it starts.
    EndsBeforeStart {
        /// The span's name.
        span: String,
    },
    /// The child starts before or ends after its parent.
    OutsideParent {
        /// The child's name.
        child: String,
        /// The parent's name.
        parent: String,
    },
    /// The child and its parent are in different traces.
    OtherTrace {
        /// The child's name.
        child: String,
    },
    /// The span's parent is a local span that was not exported.
    Orphan {
        /// The span's name.
        span: String,
        /// The missing parent's id.
        parent_id: String,
    },
}

/// Every breach of the rules above among `spans` (all the spans a receiver got), in span order.
pub fn breaches(spans: &[ReceivedSpan]) -> Vec<Breach> {
    let by_id: HashMap<&str, &ReceivedSpan> =
        spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let mut found = Vec::new();
    for span in spans {
        if span.end_unix_nanos < span.start_unix_nanos {
            found.push(Breach::EndsBeforeStart {
                span: span.name.clone(),
            });
        }
        let Some(parent_id) = &span.parent_span_id else {
            continue;
        };
        match by_id.get(parent_id.as_str()) {
            Some(parent) if parent.trace_id != span.trace_id => found.push(Breach::OtherTrace {
                child: span.name.clone(),
            }),
            Some(parent) => {
                if span.start_unix_nanos < parent.start_unix_nanos
                    || span.end_unix_nanos > parent.end_unix_nanos
                {
                    found.push(Breach::OutsideParent {
                        child: span.name.clone(),
                        parent: parent.name.clone(),
                    });
                }
            }
            None if span.parent_is_remote() => {}
            None => found.push(Breach::Orphan {
                span: span.name.clone(),
                parent_id: parent_id.clone(),
            }),
        }
    }
    found
}

/// Panics, naming every breach, unless `spans` are well-formed traces.
pub fn assert_contained(spans: &[ReceivedSpan]) {
    let found = breaches(spans);
    assert!(found.is_empty(), "traces out of shape: {found:?}");
}

#[cfg(test)]
mod tests {
    use trace_view::{SpanKind, StatusCode};

    use super::*;

    /// `SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK | SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK`.
    const REMOTE_PARENT: u32 = 0x300;

    fn span(id: &str, parent: Option<&str>, (start, end): (u64, u64)) -> ReceivedSpan {
        ReceivedSpan {
            resource: Default::default(),
            scope_name: "lambda-lens".into(),
            trace_id: "5759e988bd862e3fe1be46a994272793".into(),
            span_id: id.into(),
            parent_span_id: parent.map(str::to_owned),
            name: id.into(),
            kind: SpanKind::Internal,
            start_unix_nanos: start,
            end_unix_nanos: end,
            status_code: StatusCode::Unset,
            status_message: String::new(),
            attributes: Default::default(),
            events: Vec::new(),
            links: Vec::new(),
            flags: 0x100,
        }
    }

    #[test]
    fn a_nested_tree_under_a_remote_parent_is_well_formed() {
        let root = ReceivedSpan {
            flags: REMOTE_PARENT,
            ..span("inv", Some("caller"), (10, 50))
        };
        let spans = [
            root,
            span("a", Some("inv"), (10, 50)),
            span("b", Some("inv"), (20, 30)),
        ];
        assert_eq!(breaches(&spans), []);
    }

    #[test]
    fn every_kind_of_breach_is_named() {
        let other_trace = ReceivedSpan {
            trace_id: "00000000000000000000000000000001".into(),
            ..span("d", Some("inv"), (20, 30))
        };
        let spans = [
            span("inv", None, (10, 50)),
            span("a", Some("inv"), (5, 30)),
            span("b", Some("inv"), (40, 35)),
            span("c", Some("gone"), (20, 30)),
            other_trace,
        ];
        assert_eq!(
            breaches(&spans),
            [
                Breach::OutsideParent {
                    child: "a".into(),
                    parent: "inv".into()
                },
                Breach::EndsBeforeStart { span: "b".into() },
                Breach::Orphan {
                    span: "c".into(),
                    parent_id: "gone".into()
                },
                Breach::OtherTrace { child: "d".into() },
            ]
        );
    }
}
