//! Test support: temp dirs, the venv python, fake extensions/runtimes, a telemetry listener and a
//! small HTTP client for poking the sandbox's APIs.
#![allow(dead_code)] // each test binary uses a different subset of the helpers

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use lambda_sandbox::SandboxConfig;
use serde_json::{json, Value};

/// The workspace's venv python; panics (never skips) when `make venv` has not been run.
pub fn venv_python() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    assert!(
        p.exists(),
        "{} is missing: run `make venv` in the workspace root first",
        p.display()
    );
    p
}

pub fn support(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(file)
}

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("workspace root exists")
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "lambda-sandbox-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A test environment: `<root>/opt/extensions/*`, `<root>/task`, logs in `<root>`.
pub struct Env {
    pub dir: TempDir,
}

impl Env {
    pub fn new(tag: &str) -> Self {
        let dir = TempDir::new(tag);
        std::fs::create_dir_all(dir.join("opt/extensions")).expect("create extensions dir");
        std::fs::create_dir_all(dir.join("task")).expect("create task dir");
        Env { dir }
    }

    pub fn opt(&self) -> PathBuf {
        self.dir.join("opt")
    }

    pub fn task(&self) -> PathBuf {
        self.dir.join("task")
    }

    /// Installs `<opt>/extensions/<name>` running the fake extension with `vars`; logs to `<name>.log`.
    pub fn add_extension(&self, name: &str, vars: &[(&str, &str)]) -> PathBuf {
        let log = self.dir.join(&format!("{name}.log"));
        let mut script = format!("#!/bin/sh\nexport FAKE_LOG='{}'\n", log.display());
        for (k, v) in vars {
            script.push_str(&format!("export {k}='{}'\n", v.replace('\'', "'\\''")));
        }
        script.push_str(&format!(
            "exec '{}' '{}' '{name}'\n",
            venv_python().display(),
            support("fake_extension.py").display()
        ));
        let path = self.dir.join(&format!("opt/extensions/{name}"));
        std::fs::write(&path, script).expect("write extension launcher");
        make_executable(&path);
        log
    }

    /// A config running the fake runtime (log in `runtime.log`), quiet, 3 s timeout.
    pub fn fake_runtime_config(&self) -> SandboxConfig {
        let mut cfg = SandboxConfig::new(
            self.task(),
            vec![
                venv_python().display().to_string(),
                support("fake_runtime.py").display().to_string(),
            ],
        )
        .with_opt_dir(self.opt())
        .with_env("FAKE_RT_LOG", self.runtime_log().display().to_string())
        .quiet();
        cfg.invoke_listen = Some("127.0.0.1:0".parse().expect("addr"));
        cfg
    }

    /// A config running the example Python function under `awslambdaric`, quiet.
    pub fn python_function_config(&self) -> SandboxConfig {
        let mut cfg = SandboxConfig::new(
            workspace().join("examples/python-function"),
            vec![
                venv_python().display().to_string(),
                "-m".into(),
                "awslambdaric".into(),
                "app.handler".into(),
            ],
        )
        .with_opt_dir(self.opt())
        .quiet();
        cfg.invoke_listen = Some("127.0.0.1:0".parse().expect("addr"));
        cfg
    }

    pub fn runtime_log(&self) -> PathBuf {
        self.dir.join("runtime.log")
    }
}

pub fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod +x");
}

/// Reads a JSONL log written by a fake process.
pub fn read_log(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("log lines are JSON"))
        .collect()
}

pub fn log_entries(path: &Path, kind: &str) -> Vec<Value> {
    read_log(path)
        .into_iter()
        .filter(|e| e["kind"] == kind)
        .collect()
}

/// Types of the emitted events that start with `platform.`, in order.
pub fn platform_types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| e["type"].as_str())
        .filter(|t| t.starts_with("platform."))
        .map(str::to_owned)
        .collect()
}

pub fn find_event<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

/// One batch a listener received.
#[derive(Debug, Clone)]
pub struct Batch {
    pub at: Instant,
    pub path: String,
    pub events: Vec<Value>,
    pub bytes: usize,
}

/// A telemetry listener on an ephemeral port recording every POSTed batch.
#[derive(Clone)]
pub struct Listener {
    pub port: u16,
    pub batches: Arc<Mutex<Vec<Batch>>>,
}

impl Listener {
    pub async fn start() -> Listener {
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind listener");
        let port = tcp.local_addr().expect("addr").port();
        let batches = Arc::new(Mutex::new(Vec::new()));
        let store = batches.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = tcp.accept().await else {
                    continue;
                };
                let store = store.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let store = store.clone();
                        async move {
                            let path = req.uri().path().to_owned();
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|c| c.to_bytes())
                                .unwrap_or_default();
                            let events: Vec<Value> =
                                serde_json::from_slice(&body).expect("batches are JSON arrays");
                            store.lock().expect("lock").push(Batch {
                                at: Instant::now(),
                                path,
                                events,
                                bytes: body.len(),
                            });
                            Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::new())))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Listener { port, batches }
    }

    /// A subscription body for this listener.
    pub fn subscription(&self, schema: &str, types: &[&str], timeout_ms: u64) -> String {
        json!({
            "schemaVersion": schema,
            "types": types,
            "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": timeout_ms},
            "destination": {"protocol": "HTTP", "URI": format!("http://sandbox.localdomain:{}/telemetry", self.port)},
        })
        .to_string()
    }

    pub fn events(&self) -> Vec<Value> {
        self.batches
            .lock()
            .expect("lock")
            .iter()
            .flat_map(|b| b.events.clone())
            .collect()
    }

    /// Waits until a delivered event satisfies `pred`.
    pub async fn wait_for(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(e) = self.events().into_iter().find(|e| pred(e)) {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "listener never received {what}; got {:#?}",
                self.events()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A response from the sandbox's APIs.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Value,
}

/// Sends one request to `addr` (no timeout: callers only use non-blocking endpoints).
pub async fn request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut b = hyper::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let resp = client
        .request(
            b.body(Full::new(Bytes::from(body.to_owned())))
                .expect("request"),
        )
        .await
        .expect("API reachable");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Reply {
        status,
        headers,
        body,
    }
}

/// `{"errorType": t, ...}` check with exact message when given.
pub fn assert_error(reply: &Reply, status: u16, error_type: &str) {
    assert_eq!(reply.status, status, "{reply:?}");
    assert_eq!(reply.body["errorType"], error_type, "{reply:?}");
    assert!(reply.body["errorMessage"].is_string(), "{reply:?}");
}

/// `[status, headers, body]` triple recorded by the fake processes.
pub fn assert_probe(probe: &Value, status: u64, error_type: &str) {
    assert_eq!(probe[0], status, "{probe}");
    assert_eq!(probe[2]["errorType"], error_type, "{probe}");
}

pub fn env_of(entry: &Value) -> BTreeMap<String, String> {
    serde_json::from_value(entry["env"].clone()).expect("env is a string map")
}
