//! The text outputs: a golden test of the waterfall (run with `UPDATE_GOLDEN=1` to rewrite
//! `tests/golden/waterfall.txt` after an intended change) and a JSON-lines round trip.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{json, Value};
use trace_view::{
    render_waterfall, render_waterfall_with, JsonlWriter, ReceivedSpan, SpanEvent, SpanKind,
    StatusCode, WaterfallOptions,
};

const T0_NANOS: u64 = 1_700_000_000_000_000_000;

fn attributes(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), value.clone()))
        .collect()
}

fn span(trace: &str, id: &str, parent: Option<&str>, name: &str, ms: (u64, u64)) -> ReceivedSpan {
    ReceivedSpan {
        resource: attributes(&[("service.name", json!("orders"))]),
        scope_name: "lambda-lens".to_owned(),
        trace_id: trace.repeat(32),
        span_id: id.repeat(16),
        parent_span_id: parent.map(|parent| parent.repeat(16)),
        name: name.to_owned(),
        kind: SpanKind::Internal,
        start_unix_nanos: T0_NANOS + ms.0 * 1_000_000,
        end_unix_nanos: T0_NANOS + ms.1 * 1_000_000,
        status_code: StatusCode::Unset,
        status_message: String::new(),
        attributes: BTreeMap::new(),
        events: Vec::new(),
        links: Vec::new(),
        flags: 0x101,
    }
}

/// Two traces, deliberately out of order: a cold-start invocation with a failing handler
/// and an orphaned span, and a warm invocation with an HTTP call.
fn sample_spans() -> Vec<ReceivedSpan> {
    let mut cold = span("a", "1", None, "invoke", (0, 250));
    cold.status_code = StatusCode::Ok;
    cold.attributes = attributes(&[
        ("faas.coldstart", json!(true)),
        ("faas.invocation_id", json!("req-1")),
        ("faas.trigger", json!("http")),
        ("ignored", json!("not a key attribute")),
    ]);
    let mut init = span("a", "2", Some("1"), "init", (0, 90));
    init.attributes = attributes(&[("runtime", json!("provided.al2023"))]);
    let mut handler = span("a", "3", Some("1"), "handler", (100, 240));
    handler.status_code = StatusCode::Error;
    handler.status_message = "task timed out".to_owned();
    handler.attributes = attributes(&[("error.type", json!("Timeout"))]);
    handler.events = vec![SpanEvent {
        name: "exception".to_owned(),
        time_unix_nanos: T0_NANOS + 230_000_000,
        attributes: attributes(&[
            ("exception.message", json!("task timed out after 0.14 s")),
            ("exception.type", json!("Timeout")),
        ]),
    }];
    let orphan = span("a", "4", Some("9"), "late-flush", (245, 250));

    let mut warm = span("b", "5", None, "invoke", (1_000, 1_040));
    warm.attributes = attributes(&[
        ("faas.coldstart", json!(false)),
        ("faas.invocation_id", json!("req-2")),
    ]);
    let mut call = span("b", "6", Some("5"), "GET /orders", (1_005, 1_035));
    call.kind = SpanKind::Client;
    call.status_code = StatusCode::Ok;
    call.attributes = attributes(&[
        ("http.request.method", json!("GET")),
        ("http.response.status_code", json!(200)),
    ]);

    vec![call, warm, orphan, handler, init, cold]
}

#[test]
fn waterfall_matches_the_golden_file() {
    let rendered = render_waterfall(&sample_spans(), 72);
    let golden = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/waterfall.txt");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &rendered).expect("the golden file is writable");
    }
    let expected = std::fs::read_to_string(&golden).expect("the golden file exists");
    assert_eq!(rendered, expected, "rendered:\n{rendered}");
}

#[test]
fn waterfall_is_independent_of_input_order() {
    let mut reversed = sample_spans();
    reversed.reverse();
    assert_eq!(
        render_waterfall(&reversed, 72),
        render_waterfall(&sample_spans(), 72)
    );
}

#[test]
fn key_attributes_are_configurable() {
    let options = WaterfallOptions {
        key_attributes: vec!["runtime".to_owned()],
        ..WaterfallOptions::with_width(72)
    };
    let rendered = render_waterfall_with(&sample_spans(), &options);
    assert!(rendered.contains("runtime=provided.al2023"), "{rendered}");
    assert!(!rendered.contains("faas.invocation_id"), "{rendered}");
}

#[test]
fn jsonl_writes_one_decodable_span_per_line() {
    let path = std::env::temp_dir().join(format!("trace-view-jsonl-{}.jsonl", std::process::id()));
    let spans = sample_spans();
    let mut writer = JsonlWriter::create(&path).expect("the temp file can be created");
    for span in &spans {
        writer.write_span(span).expect("the span is written");
    }
    drop(writer);

    let text = std::fs::read_to_string(&path).expect("the file is readable");
    std::fs::remove_file(&path).expect("the temp file can be removed");
    let decoded: Vec<ReceivedSpan> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is one span"))
        .collect();
    assert_eq!(decoded, spans);
    let first: Value = serde_json::from_str(text.lines().next().expect("a first line"))
        .expect("the first line is JSON");
    assert_eq!(first["kind"], "client");
    assert_eq!(first["status_code"], "ok");
}
