//! SnapStart end to end: the real extension binary as a layer in the local sandbox running as a
//! SnapStart function (init, snapshot, restore under a fresh instance id), the Python example function
//! under `awslambdaric` (which waits in `/runtime/restore/next` through the proxy), and trace-view
//! decoding what was exported. The first invocation after the restore draws a `restore` span as its
//! cold start and its report carries the restore duration; the second is warm.

use std::time::Duration;

use lambda_sandbox::{Invocation, Sandbox, ShutdownReason, Status};
use serde_json::{json, Value};
use trace_view::{ReceivedLog, ReceivedSpan, Receiver, ReceiverConfig, SpanKind};

use lambda_lens::logs::names as log_names;
use lambda_lens::spans::names::{lens, semconv};
use lambda_lens_test_support::layer::build_layer;
use lambda_lens_test_support::received::{invocation_span, wait_for_reports, REPORT_PREFIX};
use lambda_lens_test_support::sandbox::python_sandbox_config;

/// This build's extension binary, installed in the test's layer.
const LAMBDA_LENS: &str = env!("CARGO_BIN_EXE_lambda-lens");
/// Long enough for the export at SHUTDOWN to have arrived.
const WAIT: Duration = Duration::from_secs(15);
/// The one record of `kind` the sandbox emitted.
fn emitted_record(emitted: &[Value], kind: &str) -> Value {
    let records: Vec<&Value> = emitted
        .iter()
        .filter(|e| e["type"] == kind)
        .map(|e| &e["record"])
        .collect();
    assert_eq!(records.len(), 1, "{kind}: {records:#?}");
    records[0].clone()
}

fn report_of<'a>(logs: &'a [ReceivedLog], request_id: &str) -> &'a ReceivedLog {
    let found: Vec<&ReceivedLog> = logs
        .iter()
        .filter(|l| {
            l.body
                .starts_with(&format!("{REPORT_PREFIX}{request_id}\t"))
        })
        .collect();
    assert_eq!(found.len(), 1, "{request_id}: {logs:#?}");
    found[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_invocation_after_a_restore_draws_the_restore_as_its_cold_start() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("OTLP receiver starts");
    let opt = build_layer(LAMBDA_LENS, "snap-start");
    let sandbox = Sandbox::start(
        python_sandbox_config(&opt)
            .with_snap_start()
            .with_env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.http_endpoint()),
    )
    .await
    .expect("sandbox starts");

    let restored = sandbox
        .invoke(Invocation::json(&json!({"name": "restored"})))
        .await;
    assert_eq!(restored.status, Status::Success, "{}", restored.body_text());
    assert_eq!(
        restored.body_json()["requestId"],
        restored.request_id.as_str()
    );
    assert_eq!(restored.body_json()["keys"], json!(["name"]));
    let warm = sandbox
        .invoke(Invocation::json(&json!({"echo": true, "name": "warm"})))
        .await;
    assert_eq!(warm.status, Status::Success, "{}", warm.body_text());
    assert_eq!(warm.body_json(), json!({"echo": true, "name": "warm"}));
    let shutdown = sandbox.shutdown(ShutdownReason::Spindown).await;
    let lens_exit = shutdown.process("lambda-lens").expect("lambda-lens ran");
    assert_eq!(lens_exit.code, Some(0), "{lens_exit:?}");

    // What the platform said: the snapshot's instance, the restored one, the restore's duration.
    let emitted = sandbox.telemetry_emitted();
    let init_start = emitted_record(&emitted, "platform.initStart");
    assert_eq!(init_start["initializationType"], "snap-start");
    let restore_start = emitted_record(&emitted, "platform.restoreStart");
    let instance = restore_start["instanceId"]
        .as_str()
        .expect("restored instance id")
        .to_owned();
    assert_ne!(init_start["instanceId"], restore_start["instanceId"]);
    let restore_ms = emitted_record(&emitted, "platform.restoreReport")["metrics"]["durationMs"]
        .as_f64()
        .expect("restore duration");

    let (logs, _) = wait_for_reports(&receiver, 2, WAIT).await;
    let spans = receiver.spans();

    // The first invocation: its span and the restore as its sibling, under the same (absent) parent.
    let first = invocation_span(&spans, restored.request_id.as_str());
    assert_eq!(first.attributes[semconv::FAAS_COLDSTART], json!(true));
    let cold: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|s| s.name == lens::RESTORE_SPAN || s.name == lens::INIT_SPAN)
        .collect();
    assert_eq!(cold.len(), 1, "one cold start, a restore: {cold:#?}");
    let restore = cold[0];
    assert_eq!(restore.name, "restore");
    assert_eq!(restore.kind, SpanKind::Internal);
    assert_eq!(restore.trace_id, first.trace_id);
    assert_eq!(restore.parent_span_id, first.parent_span_id);
    // `restoreRuntimeDone` and `restoreReport` come in one batch; the first invocation waits for
    // the report, so its restore span carries the platform's duration.
    let attributes: Vec<(String, Value)> = restore.attributes.clone().into_iter().collect();
    assert_eq!(
        attributes,
        [(
            "lambda_lens.restore.duration_ms".to_owned(),
            json!(restore_ms)
        )]
    );
    assert!(restore.end_unix_nanos >= restore.start_unix_nanos);

    // The second invocation is warm and has a trace of its own without a cold start.
    let second = invocation_span(&spans, warm.request_id.as_str());
    assert_eq!(second.attributes[semconv::FAAS_COLDSTART], json!(false));
    assert_ne!(second.trace_id, first.trace_id);

    // Every span and record names the restored environment, not the snapshot's.
    for resource in spans
        .iter()
        .map(|s| &s.resource)
        .chain(logs.iter().map(|l| &l.resource))
    {
        assert_eq!(resource[semconv::FAAS_INSTANCE], json!(instance));
        assert_eq!(resource[semconv::SERVICE_INSTANCE_ID], json!(instance));
    }

    // The first report carries the restore duration (and no init duration); the second neither.
    let first_report = report_of(&logs, restored.request_id.as_str());
    assert_eq!(
        first_report.attributes[log_names::REPORT_RESTORE_DURATION_MS],
        json!(restore_ms)
    );
    assert_eq!(
        first_report
            .attributes
            .get(log_names::REPORT_INIT_DURATION_MS),
        None
    );
    assert!(
        first_report
            .body
            .ends_with(&format!("\tRestore Duration: {restore_ms:.2} ms")),
        "{}",
        first_report.body
    );
    assert_eq!(first_report.trace_id, first.trace_id);
    let second_report = report_of(&logs, warm.request_id.as_str());
    for name in [
        log_names::REPORT_RESTORE_DURATION_MS,
        log_names::REPORT_INIT_DURATION_MS,
    ] {
        assert_eq!(second_report.attributes.get(name), None, "{name}");
    }
    for label in ["\tRestore Duration: ", "\tInit Duration: "] {
        assert!(
            !second_report.body.contains(label),
            "{}",
            second_report.body
        );
    }
    std::fs::remove_dir_all(&opt).expect("layer removed");
}
