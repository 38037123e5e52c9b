//! The `lambda-lens` binary as a child process against the in-test Extensions + Runtime API:
//! start-up order, registration headers, SHUTDOWN, configuration errors, and the wrapper script.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use lambda_lens_test_support::fake_lambda::{
    FakeInvocation, FakeLambda, FUNCTION_ARN, TRACE_HEADER,
};
use lambda_lens_test_support::repo::repo_root;
use lambda_lens_test_support::runtimes::spawn_python_function;

struct Extension {
    child: Child,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Extension {
    fn start(env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lambda-lens"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("lambda-lens starts");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let lines = Arc::clone(&stderr);
        let pipe = child.stderr.take().expect("stderr piped");
        tokio::spawn(async move {
            let mut reader = BufReader::new(pipe).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                lines.lock().expect("log lock").push(line);
            }
        });
        Self { child, stderr }
    }

    fn logs(&self) -> Vec<String> {
        self.stderr.lock().expect("log lock").clone()
    }

    async fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(line) = self.logs().into_iter().find(|l| l.contains(needle)) {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "no log line with {needle:?}: {:#?}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn exit_code(&mut self, within: Duration) -> i32 {
        let status = tokio::time::timeout(within, self.child.wait())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "lambda-lens did not exit within {within:?}: {:#?}",
                    self.logs()
                )
            })
            .expect("wait for lambda-lens");
        // Let the stderr reader catch up with the last lines.
        tokio::time::sleep(Duration::from_millis(50)).await;
        status.code().expect("exited normally")
    }
}

fn temp_handoff(name: &str) -> PathBuf {
    std::env::temp_dir()
        .join(format!("lens-bin-{}-{name}", std::process::id()))
        .join("runtime-api")
}

fn read_handoff(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
}

fn epoch_ms_in(ms: u64) -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after epoch")
        .as_millis() as u64
        + ms
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binds_before_registering_proxies_an_invocation_and_exits_on_shutdown() {
    let fake = FakeLambda::start().await;
    let handoff = temp_handoff("lifecycle");
    std::fs::create_dir_all(handoff.parent().expect("parent")).expect("temp dir");
    std::fs::write(&handoff, "127.0.0.1:1\n").expect("stale file from an earlier sandbox");
    let probe_path = handoff.clone();
    fake.on_register(move || match read_handoff(&probe_path) {
        Some(addr) if std::net::TcpStream::connect(&addr).is_ok() => format!("listening:{addr}"),
        Some(addr) => format!("not-listening:{addr}"),
        None => "no-handoff-file".into(),
    });

    let mut ext = Extension::start(&[
        ("AWS_LAMBDA_RUNTIME_API", &fake.runtime_api()),
        ("LAMBDA_LENS_PROXY_PORT", "0"),
        (
            "LAMBDA_LENS_HANDOFF_FILE",
            handoff.to_str().expect("utf-8 path"),
        ),
        ("LAMBDA_LENS_LOG", "info,lambda_lens::record=debug"),
    ]);
    let register = fake
        .wait_for_call("register", |c| c.path == "/2020-01-01/extension/register")
        .await;
    assert_eq!(register.headers["lambda-extension-name"], "lambda-lens");
    assert_eq!(
        register.headers["lambda-extension-accept-feature"],
        "accountId"
    );
    let body: serde_json::Value = serde_json::from_slice(&register.body).expect("JSON body");
    assert_eq!(body, serde_json::json!({"events": ["INVOKE", "SHUTDOWN"]}));
    let probe = fake.probe_results();
    assert_eq!(probe.len(), 1);
    assert!(probe[0].starts_with("listening:127.0.0.1:"), "{probe:?}");
    let proxy_addr = read_handoff(&handoff).expect("hand-off file written");
    assert_ne!(proxy_addr, "127.0.0.1:1", "stale address replaced");

    let next = fake
        .wait_for_call("event/next", |c| {
            c.path == "/2020-01-01/extension/event/next"
        })
        .await;
    assert_eq!(
        next.headers["lambda-extension-identifier"],
        "2d1c4ff3-6bd8-4d9a-9c4c-0e4c4f1e0a11"
    );

    // One invocation of the Python function through the binary's proxy.
    let runtime = spawn_python_function(&proxy_addr);
    fake.push_extension_event(serde_json::json!({
        "eventType": "INVOKE", "deadlineMs": epoch_ms_in(30_000), "requestId": "bin-1",
        "invokedFunctionArn": FUNCTION_ARN,
        "tracing": {"type": "X-Amzn-Trace-Id", "value": TRACE_HEADER}
    }));
    fake.push_invocation(FakeInvocation::new("bin-1", r#"{"name":"binary"}"#));
    let result = fake.wait_for_result("bin-1").await;
    assert!(result.path.ends_with("/response"));
    let invocation_line = ext.wait_for_log(r#""record":"invocation""#).await;
    assert!(
        invocation_line.contains(r#""request_id":"bin-1""#),
        "{invocation_line}"
    );
    assert!(
        invocation_line.contains(r#""head":"{\"name\":\"binary\"}""#),
        "{invocation_line}"
    );
    let result_line = ext.wait_for_log(r#""record":"result""#).await;
    assert!(
        result_line.contains(r#""kind":"response""#),
        "{result_line}"
    );
    assert!(
        result_line.contains(r#""upstream_status":202"#),
        "{result_line}"
    );

    // As in Lambda, the runtime is stopped before extensions get SHUTDOWN.
    drop(runtime);
    let started = Instant::now();
    fake.push_extension_event(serde_json::json!({
        "eventType": "SHUTDOWN", "shutdownReason": "spindown", "deadlineMs": epoch_ms_in(2_000)
    }));
    assert_eq!(ext.exit_code(Duration::from_secs(2)).await, 0);
    assert!(started.elapsed() < Duration::from_secs(2));
    ext.wait_for_log("SHUTDOWN").await;
    assert!(
        ext.logs().iter().all(|l| !l.contains("ERROR")),
        "no errors in a clean run: {:#?}",
        ext.logs()
    );
    std::fs::remove_dir_all(handoff.parent().expect("parent")).expect("cleanup");
}

#[tokio::test]
async fn an_unusable_runtime_api_gives_one_clear_line_and_exit_1() {
    let mut ext = Extension::start(&[("AWS_LAMBDA_RUNTIME_API", "https://127.0.0.1:9001")]);
    assert_eq!(ext.exit_code(Duration::from_secs(10)).await, 1);
    let logs = ext.logs();
    assert_eq!(logs.len(), 1, "{logs:#?}");
    assert!(logs[0].contains("ERROR"), "{logs:?}");
    assert!(
        logs[0].contains(r#"AWS_LAMBDA_RUNTIME_API="https://127.0.0.1:9001" is unusable: unsupported scheme "https""#),
        "{logs:?}"
    );

    let mut ext = Extension::start(&[]);
    assert_eq!(ext.exit_code(Duration::from_secs(10)).await, 1);
    assert!(ext.logs()[0].contains("AWS_LAMBDA_RUNTIME_API is not set"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_upstream_override_or_busy_port_falls_back_and_still_proxies() {
    let fake = FakeLambda::start().await;
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("occupy a port");
    let busy_port = busy.local_addr().expect("addr").port().to_string();
    let handoff = temp_handoff("fallback");
    let mut ext = Extension::start(&[
        ("AWS_LAMBDA_RUNTIME_API", &fake.runtime_api()),
        ("LAMBDA_LENS_RUNTIME_API_UPSTREAM", "not a url"),
        ("LAMBDA_LENS_PROXY_PORT", &busy_port),
        ("LAMBDA_LENS_CAPTURE_BYTES", "-1"),
        (
            "LAMBDA_LENS_HANDOFF_FILE",
            handoff.to_str().expect("utf-8 path"),
        ),
    ]);
    let upstream_warning = ext.wait_for_log("LAMBDA_LENS_RUNTIME_API_UPSTREAM").await;
    assert!(upstream_warning.contains("WARN"), "{upstream_warning}");
    assert!(
        upstream_warning.contains(&format!(
            "forwarding to AWS_LAMBDA_RUNTIME_API (http://{})",
            fake.runtime_api()
        )),
        "{upstream_warning}"
    );
    let capture_warning = ext.wait_for_log("LAMBDA_LENS_CAPTURE_BYTES").await;
    assert!(
        capture_warning.contains("using the default 4096"),
        "{capture_warning}"
    );
    let port_warning = ext.wait_for_log("already in use").await;
    assert!(
        port_warning.contains(&format!("proxy port {busy_port} is already in use")),
        "{port_warning}"
    );

    fake.wait_for_call("register", |c| c.path == "/2020-01-01/extension/register")
        .await;
    let proxy_addr = read_handoff(&handoff).expect("hand-off file written");
    assert_ne!(proxy_addr, format!("127.0.0.1:{busy_port}"));
    fake.push_invocation(FakeInvocation::new("fallback-1", "{}"));
    let resp = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(&proxy_addr).expect("proxy listening");
        use std::io::{Read, Write};
        s.write_all(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .expect("request");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("answer");
        out
    })
    .await
    .expect("blocking task");
    assert!(resp.starts_with("HTTP/1.1 200 OK"), "{resp}");
    assert!(
        resp.to_ascii_lowercase()
            .contains("lambda-runtime-aws-request-id: fallback-1"),
        "{resp}"
    );
    drop(busy);
    ext.child.start_kill().expect("kill");
    let _ = std::fs::remove_dir_all(handoff.parent().expect("parent"));
}

#[tokio::test]
async fn when_the_proxy_cannot_start_the_policy_decides() {
    // A hand-off path that cannot be created: the proxy cannot be announced.
    let impossible = "/proc/self/lambda-lens/runtime-api";

    let fake = FakeLambda::start().await;
    let mut ext = Extension::start(&[
        ("AWS_LAMBDA_RUNTIME_API", &fake.runtime_api()),
        ("LAMBDA_LENS_PROXY_PORT", "0"),
        ("LAMBDA_LENS_HANDOFF_FILE", impossible),
        ("LAMBDA_LENS_ON_STARTUP_ERROR", "fail"),
    ]);
    let init_error = fake
        .wait_for_call("init/error", |c| {
            c.path == "/2020-01-01/extension/init/error"
        })
        .await;
    assert_eq!(
        init_error.headers["lambda-extension-function-error-type"],
        "Extension.LambdaLensStartupError"
    );
    let body: serde_json::Value = serde_json::from_slice(&init_error.body).expect("JSON");
    assert_eq!(body["errorType"], "Extension.LambdaLensStartupError");
    assert!(
        body["errorMessage"]
            .as_str()
            .expect("message")
            .starts_with("cannot write the hand-off file /proc/self/lambda-lens/runtime-api"),
        "{body}"
    );
    assert_eq!(ext.exit_code(Duration::from_secs(10)).await, 1);

    // Default policy: log once, keep the lifecycle going, no init error.
    let fake = FakeLambda::start().await;
    let mut ext = Extension::start(&[
        ("AWS_LAMBDA_RUNTIME_API", &fake.runtime_api()),
        ("LAMBDA_LENS_PROXY_PORT", "0"),
        ("LAMBDA_LENS_HANDOFF_FILE", impossible),
    ]);
    let line = ext.wait_for_log("pass-through").await;
    assert!(
        line.contains("ERROR") && line.contains("cannot write the hand-off file"),
        "{line}"
    );
    fake.wait_for_call("event/next", |c| {
        c.path == "/2020-01-01/extension/event/next"
    })
    .await;
    assert!(fake
        .calls()
        .iter()
        .all(|c| !c.path.ends_with("/init/error")));
    // Emulators send deadlineMs 0: lambda-lens still drains within its default budget and exits 0.
    fake.push_extension_event(serde_json::json!({
        "eventType": "SHUTDOWN", "shutdownReason": "SPINDOWN", "deadlineMs": 0
    }));
    assert_eq!(ext.exit_code(Duration::from_secs(2)).await, 0);
}

#[tokio::test]
async fn on_managed_instances_it_registers_for_shutdown_only() {
    let fake = FakeLambda::start().await;
    let handoff = temp_handoff("lmi");
    let mut ext = Extension::start(&[
        ("AWS_LAMBDA_RUNTIME_API", &fake.runtime_api()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "lambda-managed-instances"),
        ("LAMBDA_LENS_PROXY_PORT", "0"),
        (
            "LAMBDA_LENS_HANDOFF_FILE",
            handoff.to_str().expect("utf-8 path"),
        ),
    ]);
    let register = fake
        .wait_for_call("register", |c| c.path == "/2020-01-01/extension/register")
        .await;
    let body: serde_json::Value = serde_json::from_slice(&register.body).expect("JSON body");
    assert_eq!(body, serde_json::json!({"events": ["SHUTDOWN"]}));
    fake.push_extension_event(serde_json::json!({
        "eventType": "SHUTDOWN", "shutdownReason": "spindown", "deadlineMs": epoch_ms_in(2_000)
    }));
    assert_eq!(ext.exit_code(Duration::from_secs(2)).await, 0);
    let _ = std::fs::remove_dir_all(handoff.parent().expect("parent"));
}

#[tokio::test]
async fn a_failed_registration_withdraws_the_handoff_file() {
    let fake = FakeLambda::start().await;
    fake.answer(
        "/extension/register",
        403,
        r#"{"errorType":"Extension.RegistrationClosed","errorMessage":"closed"}"#,
    );
    let handoff = temp_handoff("regfail");
    let mut ext = Extension::start(&[
        ("AWS_LAMBDA_RUNTIME_API", &fake.runtime_api()),
        ("LAMBDA_LENS_PROXY_PORT", "0"),
        (
            "LAMBDA_LENS_HANDOFF_FILE",
            handoff.to_str().expect("utf-8 path"),
        ),
    ]);
    assert_eq!(ext.exit_code(Duration::from_secs(10)).await, 1);
    let line = ext.wait_for_log("extension registration failed").await;
    assert!(line.contains("Extension.RegistrationClosed"), "{line}");
    assert!(
        !handoff.exists(),
        "a dead proxy's address must not be left for the wrapper"
    );
    let _ = std::fs::remove_dir_all(handoff.parent().expect("parent"));
}

#[tokio::test]
async fn the_wrapper_points_the_runtime_at_the_proxy_only_when_it_runs() {
    let wrapper = repo_root().join("layer/lambda-lens-wrapper");
    let handoff = temp_handoff("wrapper");
    std::fs::create_dir_all(handoff.parent().expect("parent")).expect("temp dir");
    let run = |handoff: &Path| {
        std::process::Command::new(&wrapper)
            .args([
                "sh",
                "-c",
                "echo \"$AWS_LAMBDA_RUNTIME_API|$LAMBDA_LENS_ORIGINAL_RUNTIME_API|$1\"",
                "sh",
                "arg with spaces",
            ])
            .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")
            .env("LAMBDA_LENS_HANDOFF_FILE", handoff)
            .output()
            .expect("wrapper runs")
    };
    std::fs::write(&handoff, "127.0.0.1:9009\n").expect("hand-off written");
    let out = run(&handoff);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "127.0.0.1:9009|127.0.0.1:9001|arg with spaces\n"
    );

    std::fs::remove_file(&handoff).expect("remove hand-off");
    let out = run(&handoff);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "127.0.0.1:9001||arg with spaces\n"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("runtime uses the Runtime API directly"));
    std::fs::remove_dir_all(handoff.parent().expect("parent")).expect("cleanup");
}

/// Peak resident memory (`VmHWM`) of `pid`, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("process status")
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse().ok())
        .expect("VmHWM in kB")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_bounded_for_six_megabyte_bodies_and_a_100_megabyte_stream() {
    use bytes::Bytes;
    use http_body_util::{BodyExt, StreamBody};
    use hyper::body::Frame;

    let fake = FakeLambda::start().await;
    let handoff = temp_handoff("memory");
    let ext = Extension::start(&[
        ("AWS_LAMBDA_RUNTIME_API", &fake.runtime_api()),
        ("LAMBDA_LENS_PROXY_PORT", "0"),
        (
            "LAMBDA_LENS_HANDOFF_FILE",
            handoff.to_str().expect("utf-8 path"),
        ),
        ("LAMBDA_LENS_CAPTURE_BYTES", "65536"),
    ]);
    fake.wait_for_call("event/next", |c| {
        c.path == "/2020-01-01/extension/event/next"
    })
    .await;
    let proxy = read_handoff(&handoff).expect("hand-off file written");
    let pid = ext.child.id().expect("running");
    let baseline = peak_rss_kib(pid);

    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::combinators::BoxBody<Bytes, std::io::Error>>();
    let six_mb = Bytes::from(vec![b'e'; 6 * 1024 * 1024]);
    fake.push_invocation(FakeInvocation::new("big-1", six_mb.clone()));
    let event = client
        .get(
            format!("http://{proxy}/2018-06-01/runtime/invocation/next")
                .parse()
                .expect("uri"),
        )
        .await
        .expect("event");
    assert_eq!(
        event
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .len(),
        six_mb.len()
    );
    let response = http::Request::post(format!(
        "http://{proxy}/2018-06-01/runtime/invocation/big-1/response"
    ))
    .body(
        http_body_util::Full::new(six_mb)
            .map_err(|never| match never {})
            .boxed(),
    )
    .expect("request");
    assert_eq!(
        client.request(response).await.expect("answer").status(),
        202
    );

    // 100 MiB streamed in 1 MiB chunks, generated as it is sent.
    let chunks = futures_stream(100);
    let streamed = http::Request::post(format!(
        "http://{proxy}/2018-06-01/runtime/invocation/big-2/response"
    ))
    .header("Lambda-Runtime-Function-Response-Mode", "streaming")
    .header("Transfer-Encoding", "chunked")
    .body(StreamBody::new(chunks).boxed())
    .expect("request");
    assert_eq!(
        client.request(streamed).await.expect("answer").status(),
        202
    );
    let call = fake.wait_for_result("big-2").await;
    assert_eq!(call.body.len(), 100 * 1024 * 1024);

    let peak = peak_rss_kib(pid);
    println!("lambda-lens peak RSS: {baseline} KiB before, {peak} KiB after the large bodies");
    assert!(
        peak < baseline + 24 * 1024,
        "lambda-lens peak RSS grew from {baseline} KiB to {peak} KiB for bodies of 6 MiB and 100 MiB"
    );
    let _ = std::fs::remove_dir_all(handoff.parent().expect("parent"));

    fn futures_stream(
        mib: usize,
    ) -> impl tokio_stream::Stream<Item = Result<Frame<Bytes>, std::io::Error>> + Send + Sync {
        let chunk = Bytes::from(vec![b's'; 1024 * 1024]);
        tokio_stream::iter((0..mib).map(move |_| Ok(Frame::data(chunk.clone()))))
    }
}

#[tokio::test]
async fn without_proxy_or_telemetry_event_next_is_not_held_until_the_deadline() {
    // Nothing can tell lambda-lens when the invocation ends (proxy disabled, no Telemetry API here):
    // it must go back to /event/next at once, not sit on the invocation until its deadline, which
    // would make every invocation time out.
    let fake = FakeLambda::start().await;
    let handoff = temp_handoff("no-view");
    let mut ext = Extension::start(&[
        ("AWS_LAMBDA_RUNTIME_API", &fake.runtime_api()),
        ("LAMBDA_LENS_DISABLED", "true"),
        ("LAMBDA_LENS_TELEMETRY_PORT", "0"),
        (
            "LAMBDA_LENS_HANDOFF_FILE",
            handoff.to_str().expect("utf-8 path"),
        ),
    ]);
    fake.wait_for_call("event/next", |c| {
        c.path == "/2020-01-01/extension/event/next"
    })
    .await;
    let invoked = Instant::now();
    fake.push_extension_event(serde_json::json!({
        "eventType": "INVOKE", "deadlineMs": epoch_ms_in(10_000), "requestId": "blind-1",
        "invokedFunctionArn": FUNCTION_ARN
    }));
    let count_next = || {
        fake.calls()
            .iter()
            .filter(|c| c.path == "/2020-01-01/extension/event/next")
            .count()
    };
    while count_next() < 2 {
        assert!(
            invoked.elapsed() < Duration::from_secs(5),
            "lambda-lens held the invocation towards its deadline"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    fake.push_extension_event(serde_json::json!({
        "eventType": "SHUTDOWN", "shutdownReason": "spindown", "deadlineMs": epoch_ms_in(2_000)
    }));
    assert_eq!(ext.exit_code(Duration::from_secs(3)).await, 0);
}
