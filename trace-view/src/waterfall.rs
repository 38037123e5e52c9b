//! The waterfall printer: renders received spans as text, one block per trace, children
//! indented under their parents, with a duration bar scaled to the trace's time range.
//!
//! The output depends only on the input spans and options (traces ordered by their first
//! start time, siblings by start time then name), so it can be golden-tested.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

use serde_json::Value;

use crate::model::{ReceivedSpan, StatusCode};

/// The attributes shown by default: the Lambda invocation attributes, the error type and
/// every `http.*` attribute.
pub const DEFAULT_KEY_ATTRIBUTES: &[&str] = &[
    "faas.invocation_id",
    "faas.trigger",
    "faas.coldstart",
    "error.type",
    "http.*",
];

/// How [`render_waterfall_with`] lays out its output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaterfallOptions {
    /// The width of the name and bar columns together; the duration, status and attributes
    /// follow them. At least 20 is used.
    pub width: usize,
    /// Span attributes to show, in this order; a pattern ending in `.*` shows every
    /// attribute with that prefix, in key order.
    pub key_attributes: Vec<String>,
    /// Whether to colour `ERROR` with ANSI escapes (for terminals only).
    pub color: bool,
}

impl WaterfallOptions {
    /// The default options with the given width.
    pub fn with_width(width: usize) -> Self {
        Self {
            width,
            key_attributes: DEFAULT_KEY_ATTRIBUTES
                .iter()
                .map(|key| (*key).to_owned())
                .collect(),
            color: false,
        }
    }
}

/// Renders `spans` with the default options and the given width; see
/// [`render_waterfall_with`].
pub fn render_waterfall(spans: &[ReceivedSpan], width: usize) -> String {
    render_waterfall_with(spans, &WaterfallOptions::with_width(width))
}

/// Renders `spans` as one block per trace:
///
/// ```text
/// trace 4bf92f3577b34da6a3ce929d0e0e4736 · 2 spans · 120.000 ms · service.name=orders
///   invoke       |████████████████████████████| 120.000 ms OK faas.coldstart=true
///     handler    |    ██████████████          |  60.000 ms ERROR: boom
///       · exception +5.000 ms exception.message=boom
///       ↪ link 5b8aa5a2d2c872e8321cf37308d69df2/051581bf3cb55c13 messaging.message.id=m-1
/// ```
///
/// Spans whose parent was not received are shown at the root, marked `(remote parent)` when the
/// sender said the parent is another service's span (expected: it is not in this receiver), else
/// `(orphan)` (a parent of the same service that never arrived). Event times are relative to the
/// start of their span. A span's links follow its events, each with the linked trace and span ids.
pub fn render_waterfall_with(spans: &[ReceivedSpan], options: &WaterfallOptions) -> String {
    let mut traces: BTreeMap<&str, Vec<&ReceivedSpan>> = BTreeMap::new();
    for span in spans {
        traces.entry(&span.trace_id).or_default().push(span);
    }
    let mut traces: Vec<Vec<&ReceivedSpan>> = traces.into_values().collect();
    for trace in &mut traces {
        trace.sort_by(|a, b| span_order(a, b));
    }
    // Each trace is sorted, so its first span starts first; ties fall back to the trace id.
    traces.sort_by(|a, b| span_order(a[0], b[0]).then(a[0].trace_id.cmp(&b[0].trace_id)));

    let mut out = String::new();
    for (index, trace) in traces.iter().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        render_trace(&mut out, trace, options);
    }
    out
}

fn span_order(a: &ReceivedSpan, b: &ReceivedSpan) -> std::cmp::Ordering {
    (a.start_unix_nanos, &a.name, &a.span_id).cmp(&(b.start_unix_nanos, &b.name, &b.span_id))
}

/// A span placed in the tree: its depth and whether its parent is missing.
struct Row<'a> {
    span: &'a ReceivedSpan,
    depth: usize,
    orphan: bool,
}

impl Row<'_> {
    /// What the label says of a parent that is not in the tree.
    fn missing_parent(&self) -> &'static str {
        match (self.orphan, self.span.parent_is_remote()) {
            (false, _) => "",
            (true, true) => " (remote parent)",
            (true, false) => " (orphan)",
        }
    }
}

/// Renders one trace whose spans are sorted by [`span_order`].
fn render_trace(out: &mut String, spans: &[&ReceivedSpan], options: &WaterfallOptions) {
    let rows = tree_rows(spans);
    let start = spans
        .iter()
        .map(|span| span.start_unix_nanos)
        .min()
        .unwrap_or(0);
    let end = spans
        .iter()
        .map(|span| span.end_unix_nanos.max(span.start_unix_nanos))
        .max()
        .unwrap_or(start);
    let range = end - start;

    let first = spans[0];
    let _ = write!(
        out,
        "trace {} · {} span{} · {}",
        first.trace_id,
        spans.len(),
        if spans.len() == 1 { "" } else { "s" },
        millis(range)
    );
    if let Some(service) = first.resource.get("service.name") {
        let _ = write!(out, " · service.name={}", show_value(service));
    }
    out.push('\n');

    let width = options.width.max(20);
    let labels: Vec<String> = rows
        .iter()
        .map(|row| {
            format!(
                "{}{}{}",
                "  ".repeat(row.depth + 1),
                row.span.name,
                row.missing_parent()
            )
        })
        .collect();
    let longest = labels
        .iter()
        .map(|label| label.chars().count())
        .max()
        .unwrap_or(0);
    // The name column takes what it needs, up to half the width; the bar gets the rest.
    let name_width = longest.min(width / 2);
    let bar_width = width - name_width - 3;
    let duration_width = rows
        .iter()
        .map(|row| millis(row.span.duration_nanos()).len())
        .max()
        .unwrap_or(0);

    for (row, label) in rows.iter().zip(&labels) {
        let span = row.span;
        let _ = write!(
            out,
            "{} |{}| {:>duration_width$}",
            fit(label, name_width),
            bar(span, start, range, bar_width),
            millis(span.duration_nanos()),
        );
        match span.status_code {
            StatusCode::Unset => {}
            StatusCode::Ok => out.push_str(" OK"),
            StatusCode::Error => {
                let error = if options.color {
                    "\x1b[31mERROR\x1b[0m"
                } else {
                    "ERROR"
                };
                out.push(' ');
                out.push_str(error);
                if !span.status_message.is_empty() {
                    let _ = write!(out, ": {}", span.status_message);
                }
            }
        }
        for (key, value) in key_attributes(&span.attributes, &options.key_attributes) {
            let _ = write!(out, " {key}={}", show_value(value));
        }
        out.push('\n');

        for event in &span.events {
            let offset = event.time_unix_nanos.saturating_sub(span.start_unix_nanos);
            let _ = write!(
                out,
                "{}· {} +{}",
                "  ".repeat(row.depth + 2),
                event.name,
                millis(offset)
            );
            for (key, value) in &event.attributes {
                let _ = write!(out, " {key}={}", show_value(value));
            }
            out.push('\n');
        }
        for link in &span.links {
            let _ = write!(
                out,
                "{}↪ link {}/{}",
                "  ".repeat(row.depth + 2),
                link.trace_id,
                link.span_id
            );
            for (key, value) in &link.attributes {
                let _ = write!(out, " {key}={}", show_value(value));
            }
            out.push('\n');
        }
    }
}

/// Orders the spans depth-first, children under their parents. Spans whose parent is
/// missing (or that sit in a parent cycle) become roots.
fn tree_rows<'a>(spans: &[&'a ReceivedSpan]) -> Vec<Row<'a>> {
    let ids: HashSet<&str> = spans.iter().map(|span| span.span_id.as_str()).collect();
    let mut children: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for (index, span) in spans.iter().enumerate() {
        match span.parent_span_id.as_deref() {
            Some(parent) if ids.contains(parent) => children.entry(parent).or_default().push(index),
            _ => roots.push(index),
        }
    }

    let mut rows = Vec::with_capacity(spans.len());
    let mut placed = vec![false; spans.len()];
    let visit = |root: usize, rows: &mut Vec<Row<'a>>, placed: &mut Vec<bool>| {
        let mut stack = vec![(root, 0)];
        while let Some((index, depth)) = stack.pop() {
            if std::mem::replace(&mut placed[index], true) {
                continue;
            }
            let span = spans[index];
            rows.push(Row {
                span,
                depth,
                orphan: depth == 0 && span.parent_span_id.is_some(),
            });
            if let Some(kids) = children.get(span.span_id.as_str()) {
                // Reversed so the earliest child is popped first.
                stack.extend(kids.iter().rev().map(|kid| (*kid, depth + 1)));
            }
        }
    };
    for root in roots {
        visit(root, &mut rows, &mut placed);
    }
    // Only spans in a parent cycle are left; show them rather than lose them.
    for index in 0..spans.len() {
        if !placed[index] {
            visit(index, &mut rows, &mut placed);
        }
    }
    rows
}

/// The bar for one span: its cells from start to end of the trace range, at least one.
fn bar(span: &ReceivedSpan, trace_start: u64, range: u64, width: usize) -> String {
    let (from, to) = if range == 0 {
        (0, width)
    } else {
        let cell = |nanos: u64, round_up: bool| {
            let scaled = u128::from(nanos - trace_start) * width as u128;
            let range = u128::from(range);
            let cells = if round_up {
                scaled.div_ceil(range)
            } else {
                scaled / range
            };
            usize::try_from(cells).unwrap_or(width).min(width)
        };
        let from = cell(span.start_unix_nanos, false).min(width - 1);
        let to = cell(span.end_unix_nanos.max(span.start_unix_nanos), true).max(from + 1);
        (from, to)
    };
    format!(
        "{}{}{}",
        " ".repeat(from),
        "█".repeat(to - from),
        " ".repeat(width - to)
    )
}

/// `label` padded or cut (with `…`) to exactly `width` characters.
fn fit(label: &str, width: usize) -> String {
    let length = label.chars().count();
    if length <= width {
        format!("{label}{}", " ".repeat(width - length))
    } else {
        let mut cut: String = label.chars().take(width.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

fn millis(nanos: u64) -> String {
    format!("{}.{:03} ms", nanos / 1_000_000, nanos % 1_000_000 / 1_000)
}

/// The attributes matching `patterns`, in pattern order, each shown once.
fn key_attributes<'a>(
    attributes: &'a BTreeMap<String, Value>,
    patterns: &[String],
) -> Vec<(&'a str, &'a Value)> {
    let mut shown: Vec<(&str, &Value)> = Vec::new();
    for pattern in patterns {
        let matches: Vec<(&str, &Value)> = match pattern.strip_suffix('*') {
            Some(prefix) => attributes
                .range(prefix.to_owned()..)
                .take_while(|(key, _)| key.starts_with(prefix))
                .map(|(key, value)| (key.as_str(), value))
                .collect(),
            None => attributes
                .get_key_value(pattern.as_str())
                .map(|(key, value)| (key.as_str(), value))
                .into_iter()
                .collect(),
        };
        for matched in matches {
            if !shown.iter().any(|(key, _)| *key == matched.0) {
                shown.push(matched);
            }
        }
    }
    shown
}

/// Strings as they are unless they contain whitespace or are empty (then JSON-quoted);
/// everything else as compact JSON.
fn show_value(value: &Value) -> String {
    match value {
        Value::String(text) if !text.is_empty() && !text.contains(char::is_whitespace) => {
            text.clone()
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SpanKind;

    fn span(id: &str, parent: Option<&str>, start_ms: u64, end_ms: u64) -> ReceivedSpan {
        ReceivedSpan {
            resource: BTreeMap::new(),
            scope_name: String::new(),
            trace_id: "t".repeat(32),
            span_id: id.to_owned(),
            parent_span_id: parent.map(str::to_owned),
            name: format!("span-{id}"),
            kind: SpanKind::Internal,
            start_unix_nanos: start_ms * 1_000_000,
            end_unix_nanos: end_ms * 1_000_000,
            status_code: StatusCode::Unset,
            status_message: String::new(),
            attributes: BTreeMap::new(),
            events: Vec::new(),
            links: Vec::new(),
            flags: 0,
        }
    }

    #[test]
    fn cycles_and_orphans_are_still_shown() {
        let spans = [
            span("a", Some("b"), 0, 10),
            span("b", Some("a"), 1, 5),
            span("c", Some("gone"), 2, 3),
        ];
        let text = render_waterfall(&spans, 40);
        for name in ["span-a", "span-b", "span-c (orphan)"] {
            assert!(text.contains(name), "{name} missing from\n{text}");
        }
    }

    #[test]
    fn a_missing_remote_parent_is_not_an_orphan() {
        let mut remote = span("r", Some("caller"), 0, 10);
        remote.flags = 0x301;
        let mut local = span("l", Some("lost"), 0, 10);
        local.flags = 0x101;
        let text = render_waterfall(&[remote, local], 80);
        assert!(text.contains("span-r (remote parent)"), "{text}");
        assert!(text.contains("span-l (orphan)"), "{text}");
    }

    #[test]
    fn prefix_patterns_match_in_key_order_without_repeats() {
        let attributes: BTreeMap<String, Value> = [
            ("http.route", "/x"),
            ("http.method", "GET"),
            ("httpx", "no"),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), Value::from(value)))
        .collect();
        let patterns = ["http.route".to_owned(), "http.*".to_owned()];
        let keys: Vec<&str> = key_attributes(&attributes, &patterns)
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        assert_eq!(keys, ["http.route", "http.method"]);
    }

    #[test]
    fn links_follow_their_span() {
        let mut consumer = span("c", None, 0, 10);
        consumer.links.push(crate::model::SpanLink {
            trace_id: "5b8aa5a2d2c872e8321cf37308d69df2".into(),
            span_id: "051581bf3cb55c13".into(),
            attributes: BTreeMap::from([("messaging.message.id".to_owned(), Value::from("m-1"))]),
            flags: 1,
            trace_state: String::new(),
        });
        let text = render_waterfall(&[consumer], 40);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[1].starts_with("  span-c"), "{text}");
        assert_eq!(
            lines[2],
            "    ↪ link 5b8aa5a2d2c872e8321cf37308d69df2/051581bf3cb55c13 messaging.message.id=m-1"
        );
    }

    #[test]
    fn bars_cover_at_least_one_cell() {
        assert_eq!(bar(&span("a", None, 0, 0), 0, 0, 4), "████");
        let ten_ms = 10_000_000;
        assert_eq!(bar(&span("a", None, 10, 10), 0, ten_ms, 4), "   █");
        assert_eq!(bar(&span("a", None, 0, 5), 0, ten_ms, 4), "██  ");
        assert_eq!(bar(&span("a", None, 3, 4), 0, ten_ms, 4), " █  ");
    }
}
