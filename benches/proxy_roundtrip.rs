//! Proxy benchmark: one invocation round trip (`GET /next`, then `POST /{id}/response` with a body
//! as large as the event) measured four ways in one run on loopback:
//!
//! * **direct**: the client talks to the fake Runtime API;
//! * **forwarder**: through a plain tokio `copy_bidirectional` TCP relay, the floor for any proxy
//!   process (one more hop, no HTTP parsing);
//! * **lens export-off**: through the real release binary, started as Lambda would start an
//!   extension, with `OTEL_SDK_DISABLED=true`;
//! * **lens export-on**: a second instance of the binary that exports every invocation's spans
//!   over OTLP/HTTP to an in-bench trace-view receiver while the round trips run;
//! * **base export-off / base export-on**: the same two with the binary `PROXY_ROUNDTRIP_BASE_BIN`
//!   names (the build before a change), when it is set, so before and after share one run.
//!
//! Each round trip is timed on its own, so the table shows percentiles, not means. Modes are run
//! in interleaved batches (rotating order) so that drift in machine load hits all four alike.
//! The same run measures the lambda-lens processes themselves: CPU per 1000 invocations, idle and
//! peak RSS, and start-up (exec to the register request, and to the first `/event/next`).
//!
//! With `PROXY_ROUNDTRIP_CALLGRIND=<dir>` or `PROXY_ROUNDTRIP_STRACE=<dir>` it profiles instead of
//! timing: instructions or system calls per round trip of each binary (see `profile`).
//!
//! It is a measurement, not a test: targets are printed as PASS/MISS and the process exits 0.
//! Run: `cargo bench --bench proxy_roundtrip` (see benches/README.md).

use std::convert::Infallible;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use trace_view::SpanKind;

use common::{current_thread_runtime, loadavg, spawn_runtime_thread, summarize, us, Summary};

mod common;
#[path = "proxy_roundtrip/profile.rs"]
mod profile;

/// The binary under test, built by `cargo bench` itself (bench profile = release, not stripped).
const LAMBDA_LENS_BIN: &str = env!("CARGO_BIN_EXE_lambda-lens");
/// Names a second binary to measure in the same run (the build before a change).
const BASE_BIN_ENV: &str = "PROXY_ROUNDTRIP_BASE_BIN";

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

/// Starts measured for start-up; the median is reported because the first exec pays page-cache
/// and allocator warm-up that later ones do not.
const STARTS: usize = 10;
/// How long to wait for the extension to reach a lifecycle step before giving up.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);

// Targets from the issue.
const TARGET_P50_RATIO: f64 = 1.3;
const TARGET_P99_RATIO: f64 = 1.5;
const TARGET_MAX: Duration = Duration::from_millis(10);
const TARGET_REGISTER: Duration = Duration::from_millis(3);
const TARGET_IDLE_RSS_KIB: u64 = 6 * 1024;

/// How many round trips to make at one size.
struct Plan {
    size: usize,
    label: &'static str,
    /// Unmeasured round trips per mode first: connections, pools and allocators settle.
    warmup: usize,
    /// Measured round trips per mode, split evenly over `rounds` interleaved batches.
    samples: usize,
    rounds: usize,
}

const PLANS: [Plan; 2] = [
    Plan {
        size: KIB,
        label: "1 KiB",
        warmup: 300,
        samples: 20_000,
        rounds: 20,
    },
    Plan {
        size: MIB,
        label: "1 MiB",
        warmup: 30,
        // A p99 of 2000 samples (the 20th slowest) swung by 3× between runs on this machine.
        samples: 5_000,
        rounds: 20,
    },
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Direct,
    Forwarder,
    ExportOff,
    ExportOn,
    BaseExportOff,
    BaseExportOn,
}

/// The modes of every run; the base modes follow when a base binary is given.
const MODES: [Mode; 4] = [
    Mode::Direct,
    Mode::Forwarder,
    Mode::ExportOff,
    Mode::ExportOn,
];
const BASE_MODES: [Mode; 2] = [Mode::BaseExportOff, Mode::BaseExportOn];

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Direct => "direct",
            Mode::Forwarder => "forwarder",
            Mode::ExportOff => "lens export-off",
            Mode::ExportOn => "lens export-on",
            Mode::BaseExportOff => "base export-off",
            Mode::BaseExportOn => "base export-on",
        }
    }

    /// The modes that go through a lambda-lens process, which the targets apply to.
    fn is_lens(self) -> bool {
        !matches!(self, Mode::Direct | Mode::Forwarder)
    }

    /// The modes whose instance exports, one span per round trip.
    fn exports(self) -> bool {
        matches!(self, Mode::ExportOn | Mode::BaseExportOn)
    }
}

// ---------------------------------------------------------------------------------------------
// Fake Runtime + Extensions API

/// A lifecycle step of the extension, as the fake saw it arrive.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Register,
    EventNext,
}

/// Shared by the fake's connections.
struct FakeState {
    /// Pre-built event bodies, one per plan; `event_size` picks which one `/next` hands out.
    events: Vec<Bytes>,
    event_size: AtomicUsize,
    invocations: AtomicU64,
    /// Far enough ahead that no run ever reaches it.
    deadline_ms: String,
    steps: mpsc::Sender<(Step, Instant)>,
    /// Bumped to answer the pending `/event/next` with SHUTDOWN.
    shutdown: watch::Sender<u64>,
}

/// The fake's handle in the main thread.
struct Fake {
    addr: SocketAddr,
    state: Arc<FakeState>,
    steps: mpsc::Receiver<(Step, Instant)>,
}

impl Fake {
    /// Starts the fake on its own OS thread and single-threaded runtime, so it never competes
    /// with the client's runtime for a scheduler.
    fn start() -> Self {
        let deadline_ms = (SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after epoch")
            .as_millis()
            + 3_600_000)
            .to_string();
        let (steps_tx, steps) = mpsc::channel();
        let state = Arc::new(FakeState {
            events: PLANS.iter().map(|p| json_body(p.size)).collect(),
            event_size: AtomicUsize::new(PLANS[0].size),
            invocations: AtomicU64::new(0),
            deadline_ms,
            steps: steps_tx,
            shutdown: watch::channel(0).0,
        });
        let (listener, addr) = bind_loopback();
        let serve_state = Arc::clone(&state);
        spawn_runtime_thread("fake-lambda", async move {
            let listener =
                TcpListener::from_std(listener).expect("fake listener joins the runtime");
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                // Lambda's Runtime API sets TCP_NODELAY (Go's default); so does the fake.
                stream.set_nodelay(true).expect("nodelay on the fake");
                let state = Arc::clone(&serve_state);
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let state = Arc::clone(&state);
                        async move { Ok::<_, Infallible>(fake_handle(&state, req).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, state, steps }
    }

    fn set_event_size(&self, size: usize) {
        self.state.event_size.store(size, Ordering::Relaxed);
    }

    /// Waits for the extension's next lifecycle step, which must be `want`.
    fn wait_step(&self, want: Step) -> Instant {
        match self.steps.recv_timeout(STEP_TIMEOUT) {
            Ok((step, at)) if step == want => at,
            Ok((step, _)) => panic!("expected {want:?} from lambda-lens, got {step:?}"),
            Err(e) => panic!("lambda-lens never sent {want:?}: {e}"),
        }
    }

    /// Answers the extension's pending `/event/next` with SHUTDOWN.
    fn shut_down_extension(&self) {
        self.state
            .shutdown
            .send_modify(|generation| *generation += 1);
    }
}

async fn fake_handle(state: &FakeState, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    match (req.method(), path) {
        (&Method::GET, "/2018-06-01/runtime/invocation/next") => {
            let size = state.event_size.load(Ordering::Relaxed);
            let body = state
                .events
                .iter()
                .find(|b| b.len() == size)
                .expect("an event is pre-built for every plan size")
                .clone();
            let n = state.invocations.fetch_add(1, Ordering::Relaxed);
            Response::builder()
                .header("Lambda-Runtime-Aws-Request-Id", format!("bench-{n}"))
                .header("Lambda-Runtime-Deadline-Ms", state.deadline_ms.as_str())
                .header(
                    "Lambda-Runtime-Invoked-Function-Arn",
                    "arn:aws:lambda:us-east-1:123456789012:function:bench",
                )
                .header(
                    "Lambda-Runtime-Trace-Id",
                    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
                )
                .header("Content-Type", "application/json")
                .body(Full::new(body))
                .expect("static response parts")
        }
        (&Method::POST, p) if p.ends_with("/response") => {
            // Read the whole result, as the Runtime API does before it answers.
            let _ = req.into_body().collect().await;
            json_response(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
        }
        (&Method::POST, "/2020-01-01/extension/register") => {
            let _ = state.steps.send((Step::Register, Instant::now()));
            let mut resp = json_response(
                StatusCode::OK,
                r#"{"functionName":"bench","functionVersion":"$LATEST","handler":"bench.handler"}"#,
            );
            resp.headers_mut().insert(
                "Lambda-Extension-Identifier",
                http::HeaderValue::from_static("bench-extension-id"),
            );
            resp
        }
        (&Method::PUT, "/2022-07-01/telemetry") => {
            // What the AWS emulator answers. lambda-lens then expects no platform events and
            // closes each invocation as soon as its result passed the proxy; with no INVOKE to
            // wait for, the export-on instance exports them in the background, in batches.
            json_response(
                StatusCode::ACCEPTED,
                r#"{"errorMessage":"Telemetry API is not supported","errorType":"Telemetry.NotSupported"}"#,
            )
        }
        (&Method::GET, "/2020-01-01/extension/event/next") => {
            // Subscribe before reporting the step, so a SHUTDOWN sent in reply cannot be missed.
            let mut shutdown = state.shutdown.subscribe();
            let _ = state.steps.send((Step::EventNext, Instant::now()));
            let _ = shutdown.changed().await;
            let deadline = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("clock after epoch")
                .as_millis()
                + 2_000;
            json_response(
                StatusCode::OK,
                &format!(
                    r#"{{"eventType":"SHUTDOWN","shutdownReason":"spindown","deadlineMs":{deadline}}}"#
                ),
            )
        }
        _ => json_response(StatusCode::NOT_FOUND, r#"{"errorType":"NotFound"}"#),
    }
}

fn json_response(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
        .expect("static response parts")
}

/// A JSON document of exactly `size` bytes.
fn json_body(size: usize) -> Bytes {
    let frame = r#"{"data":""}"#;
    let mut body = String::with_capacity(size);
    body.push_str(r#"{"data":""#);
    body.push_str(&"x".repeat(size - frame.len()));
    body.push_str(r#""}"#);
    Bytes::from(body)
}

// ---------------------------------------------------------------------------------------------
// Plain TCP forwarder

/// The plain forwarder's copy buffer per direction. `copy_bidirectional`'s default 8 KiB costs
/// 128 reads and 128 writes (and as many wake-ups of the peer) per MiB, which made the "floor"
/// slower than lambda-lens at 1 MiB; hyper's read buffer grows to 400 KiB, so a floor gets a
/// comparable one.
const FORWARDER_BUFFER: usize = 256 * KIB;

/// In the environment of the bench's own re-exec: run as the forwarder, relaying to this address.
const FORWARD_TO_ENV: &str = "PROXY_ROUNDTRIP_FORWARD_TO";

/// The plain forwarder, a child process like lambda-lens: a relay on a thread of the bench process
/// would share its address space with the client and the fake, skip the address-space switch on
/// every hop, and make the floor lower than any real proxy process can reach.
struct Forwarder {
    child: Child,
    addr: SocketAddr,
}

/// Re-execs the bench binary as the forwarder and reads the address it listens on.
fn start_forwarder(upstream: SocketAddr) -> Forwarder {
    let mut child = Command::new(std::env::current_exe().expect("the bench knows its path"))
        .env(FORWARD_TO_ENV, upstream.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("re-exec the bench as the forwarder");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("forwarder prints its address");
    let addr = line.trim().parse().expect("forwarder address");
    Forwarder { child, addr }
}

/// The floor for any proxy process: accept, connect upstream, copy bytes both ways. Nagle is off
/// on both legs, as it must be for any fair relay of small HTTP messages. One thread with a
/// single-threaded runtime, as lambda-lens uses, so their CPU times compare.
fn run_forwarder(upstream: &str) {
    let upstream: SocketAddr = upstream.parse().expect("forwarder upstream is host:port");
    let (listener, addr) = bind_loopback();
    println!("{addr}");
    current_thread_runtime().block_on(async move {
        let listener =
            TcpListener::from_std(listener).expect("forwarder listener joins the runtime");
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut outbound = TcpStream::connect(upstream)
                    .await
                    .expect("forwarder reaches the fake");
                inbound.set_nodelay(true).expect("nodelay inbound");
                outbound.set_nodelay(true).expect("nodelay outbound");
                let _ = tokio::io::copy_bidirectional_with_sizes(
                    &mut inbound,
                    &mut outbound,
                    FORWARDER_BUFFER,
                    FORWARDER_BUFFER,
                )
                .await;
            });
        }
    });
}

/// Ends the forwarder, which otherwise runs until killed.
fn stop_forwarder(mut forwarder: Forwarder) {
    let _ = forwarder.child.kill();
    let _ = forwarder.child.wait();
}

fn bind_loopback() -> (std::net::TcpListener, SocketAddr) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener
        .set_nonblocking(true)
        .expect("listener made non-blocking for tokio");
    let addr = listener.local_addr().expect("bound address");
    (listener, addr)
}

// ---------------------------------------------------------------------------------------------
// lambda-lens as a child process

/// Whether the instance under test exports spans.
#[derive(Clone, Copy)]
enum Export<'a> {
    /// `OTEL_SDK_DISABLED=true`: nothing is recorded or exported; the proxy only relays.
    Off,
    /// OTLP/HTTP protobuf (the default protocol) to this endpoint, registered as on Lambda Managed
    /// Instances (SHUTDOWN only): the fake sends no INVOKE, so exports run while round trips pass.
    To(&'a str),
}

/// What Lambda Managed Instances set, so that the extension registers for SHUTDOWN only.
const MANAGED_INSTANCES: &str = "lambda-managed-instances";

impl Export<'_> {
    fn env(self) -> Vec<(&'static str, String)> {
        match self {
            Export::Off => vec![("OTEL_SDK_DISABLED", "true".to_owned())],
            Export::To(endpoint) => vec![
                ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.to_owned()),
                (
                    "AWS_LAMBDA_INITIALIZATION_TYPE",
                    MANAGED_INSTANCES.to_owned(),
                ),
            ],
        }
    }
}

struct Extension {
    child: Child,
    proxy: SocketAddr,
    spawned_at: Instant,
    registered_at: Instant,
    polling_at: Instant,
}

impl Extension {
    /// Execs the binary with the environment Lambda gives an extension and waits until it polls
    /// `/event/next`, i.e. until it is idle and its proxy is serving.
    fn start(fake: &Fake, binary: &Path, scratch: &Path, n: usize, export: Export) -> Self {
        let handoff = scratch.join(format!("runtime-api-{n}"));
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", fake.addr.to_string())
            .env("LAMBDA_LENS_PROXY_PORT", "0")
            .env("LAMBDA_LENS_HANDOFF_FILE", &handoff)
            .envs(export.env())
            .envs(passed_through_settings())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // Default logging stays on (one JSON line per record, as in production); /dev/null
            // instead of Lambda's log pipe is the only difference.
            .stderr(Stdio::null());
        let spawned_at = Instant::now();
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot exec {}: {e}", binary.display()));
        let registered_at = fake.wait_step(Step::Register);
        let polling_at = fake.wait_step(Step::EventNext);
        // Written before register, so it is complete by now.
        let proxy = std::fs::read_to_string(&handoff)
            .expect("hand-off file written before register")
            .trim()
            .parse()
            .expect("hand-off file holds host:port");
        Self {
            child,
            proxy,
            spawned_at,
            registered_at,
            polling_at,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SHUTDOWN and waits for the process to exit. The SHUTDOWN goes to every extension
    /// polling the fake; stopping another one afterwards still works, it has just exited already.
    fn stop(mut self, fake: &Fake) {
        fake.shut_down_extension();
        let status = self.child.wait().expect("wait for lambda-lens");
        if !status.success() {
            eprintln!("warning: lambda-lens exited with {status}");
        }
    }
}

/// `LAMBDA_LENS_*` settings from the bench's own environment, so that variants (say
/// `LAMBDA_LENS_LOG=off` or `LAMBDA_LENS_CAPTURE_BYTES=0`) can be compared without editing the bench.
/// The three the bench must control itself are left out.
fn passed_through_settings() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(k, _)| {
            k.starts_with("LAMBDA_LENS_")
                && ![
                    "LAMBDA_LENS_PROXY_PORT",
                    "LAMBDA_LENS_HANDOFF_FILE",
                    "LAMBDA_LENS_RUNTIME_API_UPSTREAM",
                ]
                .contains(&k.as_str())
        })
        .collect()
}

/// User + system CPU time of a whole process (all threads, including exited ones).
fn process_cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/pid/stat");
    // Fields after the parenthesised command name, which may itself contain spaces; utime and
    // stime are fields 14 and 15 of the line, i.e. 12th and 13th after the name.
    let rest = &stat[stat.rfind(')').expect("stat has a command name") + 2..];
    let fields: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|f| f.parse().expect("numeric utime/stime"))
        .collect();
    // SAFETY: sysconf only reads a configuration value.
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let ticks_per_second = if ticks_per_second > 0 {
        ticks_per_second as u64
    } else {
        100
    };
    Duration::from_nanos((fields[0] + fields[1]) * 1_000_000_000 / ticks_per_second)
}

/// A `/proc/<pid>/status` value in KiB (`VmRSS`, `VmHWM`).
fn status_kib(pid: u32, key: &str) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/pid/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{key} missing from /proc/{pid}/status"))
}

// ---------------------------------------------------------------------------------------------
// The runtime-side client

type BenchClient = Client<HttpConnector, Full<Bytes>>;

/// Identical in every mode: a keep-alive HTTP/1 pool with Nagle off, like real runtime clients.
fn bench_client() -> BenchClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new()).build(connector)
}

/// Wall times of one invocation: the whole round trip and its slower call.
struct Timing {
    round_trip: Duration,
    slowest_call: Duration,
}

/// One invocation as a runtime makes it.
async fn round_trip(client: &BenchClient, target: SocketAddr, result: &Bytes) -> Timing {
    let started = Instant::now();
    let next = client
        .get(
            format!("http://{target}/2018-06-01/runtime/invocation/next")
                .parse()
                .expect("valid uri"),
        )
        .await
        .expect("/next answered");
    assert_eq!(next.status(), StatusCode::OK, "/next status");
    let id = next
        .headers()
        .get("lambda-runtime-aws-request-id")
        .expect("request id header")
        .to_str()
        .expect("ascii request id")
        .to_owned();
    let event = next.into_body().collect().await.expect("event body");
    assert_eq!(event.to_bytes().len(), result.len(), "event size");
    let posted = Instant::now();
    let post = Request::post(format!(
        "http://{target}/2018-06-01/runtime/invocation/{id}/response"
    ))
    .header("Content-Type", "application/json")
    .body(Full::new(result.clone()))
    .expect("valid request");
    let answer = client.request(post).await.expect("/response answered");
    assert_eq!(answer.status(), StatusCode::ACCEPTED, "/response status");
    answer.into_body().collect().await.expect("answer body");
    let done = Instant::now();
    Timing {
        round_trip: done - started,
        slowest_call: (posted - started).max(done - posted),
    }
}

// ---------------------------------------------------------------------------------------------
// Statistics and report

fn added(mode: Duration, direct: Duration) -> f64 {
    us(mode) - us(direct)
}

fn verdict(pass: bool) -> &'static str {
    if pass {
        "PASS"
    } else {
        "MISS"
    }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort_unstable();
    values[values.len() / 2]
}

fn main() {
    if let Ok(upstream) = std::env::var(FORWARD_TO_ENV) {
        return run_forwarder(&upstream);
    }
    // `cargo bench` passes `--bench`; there are no options to parse.
    let run_started = Instant::now();
    let scratch = std::env::temp_dir().join(format!("lambda-lens-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch dir");
    let base_bin = std::env::var_os(BASE_BIN_ENV).map(PathBuf::from);
    println!("proxy_roundtrip: {LAMBDA_LENS_BIN}");
    if let Some(base) = &base_bin {
        println!("base: {}", base.display());
    }
    let modes: Vec<Mode> = match base_bin {
        Some(_) => MODES.iter().chain(&BASE_MODES).copied().collect(),
        None => MODES.to_vec(),
    };
    for (k, v) in passed_through_settings() {
        println!("passed to lambda-lens: {k}={v}");
    }
    println!("load average at start: {}", loadavg());

    let fake = Fake::start();
    let receiver = common::start_receiver();
    let endpoint = receiver.http_endpoint();
    if let Some((tool, dir)) = profile::Tool::from_env() {
        let mut binaries = vec![("new", Path::new(LAMBDA_LENS_BIN))];
        binaries.extend(base_bin.as_deref().map(|base| ("base", base)));
        profile::run(tool, &dir, &binaries, &fake, &endpoint);
        return;
    }
    let forwarder = start_forwarder(fake.addr);
    // One after the other: the fake reports lifecycle steps in arrival order.
    let lenses: Vec<(Mode, Extension)> = modes
        .iter()
        .filter(|mode| mode.is_lens())
        .enumerate()
        .map(|(n, &mode)| {
            let binary = match (mode, &base_bin) {
                (Mode::BaseExportOff | Mode::BaseExportOn, Some(base)) => base.as_path(),
                _ => Path::new(LAMBDA_LENS_BIN),
            };
            let export = if mode.exports() {
                Export::To(&endpoint)
            } else {
                Export::Off
            };
            (mode, Extension::start(&fake, binary, &scratch, n, export))
        })
        .collect();
    let idle_rss_kib: Vec<u64> = lenses
        .iter()
        .map(|(_, lens)| status_kib(lens.pid(), "VmRSS"))
        .collect();
    let lens = |mode: Mode| lenses.iter().find(|(m, _)| *m == mode).map(|(_, l)| l);
    let target = |mode: Mode| match mode {
        Mode::Direct => fake.addr,
        Mode::Forwarder => forwarder.addr,
        _ => lens(mode).expect("an instance per lens mode").proxy,
    };
    let proxy_pid = |mode: Mode| match mode {
        Mode::Direct => None,
        Mode::Forwarder => Some(forwarder.child.id()),
        _ => lens(mode).map(Extension::pid),
    };

    let rt = current_thread_runtime();
    let client = bench_client();
    let mut report = String::new();
    let mut cpu_lines = Vec::new();
    let mut slowest_call_overall = vec![Duration::ZERO; modes.len()];
    let mut ratio_verdicts = Vec::new();
    // Every round trip through the export-on instance closes one invocation, to be exported.
    let mut exported_invocations = 0;
    writeln!(
        report,
        "{:<15} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "mode",
        "size",
        "p50 µs",
        "p99 µs",
        "max µs",
        "call≤ µs",
        "+p50 µs",
        "+p99 µs",
        "p50 ×fwd",
        "p99 ×fwd"
    )
    .expect("write to string");

    for plan in &PLANS {
        fake.set_event_size(plan.size);
        let result = json_body(plan.size);
        let mut samples: Vec<Vec<Duration>> = modes.iter().map(|_| Vec::new()).collect();
        let mut slowest_call = vec![Duration::ZERO; modes.len()];
        let mut cpu = vec![Duration::ZERO; modes.len()];
        let batch = plan.samples / plan.rounds;
        rt.block_on(async {
            for &mode in &modes {
                for _ in 0..plan.warmup {
                    round_trip(&client, target(mode), &result).await;
                }
            }
            for round in 0..plan.rounds {
                // Rotate the order so no mode always runs right after another.
                for k in 0..modes.len() {
                    let i = (round + k) % modes.len();
                    let mode = modes[i];
                    let proxy_cpu = || proxy_pid(mode).map_or(Duration::ZERO, process_cpu);
                    let cpu_before = proxy_cpu();
                    for _ in 0..batch {
                        let t = round_trip(&client, target(mode), &result).await;
                        samples[i].push(t.round_trip);
                        slowest_call[i] = slowest_call[i].max(t.slowest_call);
                    }
                    cpu[i] += proxy_cpu() - cpu_before;
                }
            }
        });
        exported_invocations += (plan.warmup + batch * plan.rounds)
            * modes.iter().filter(|mode| mode.exports()).count();
        let summaries: Vec<Summary> = samples.iter_mut().map(|s| summarize(s)).collect();
        let direct = &summaries[0];
        let fwd = &summaries[1];
        for (i, (mode, s)) in modes.iter().zip(&summaries).enumerate() {
            slowest_call_overall[i] = slowest_call_overall[i].max(slowest_call[i]);
            let (add50, add99, r50, r99) = match mode {
                Mode::Direct => (String::new(), String::new(), String::new(), String::new()),
                _ => {
                    let a50 = added(s.p50, direct.p50);
                    let a99 = added(s.p99, direct.p99);
                    let (r50, r99) = if mode.is_lens() {
                        let r50 = a50 / added(fwd.p50, direct.p50);
                        let r99 = a99 / added(fwd.p99, direct.p99);
                        ratio_verdicts.push(format!(
                            "{} {}: p50 {r50:.2} {}, p99 {r99:.2} {}",
                            plan.label,
                            mode.name(),
                            verdict(r50 <= TARGET_P50_RATIO),
                            verdict(r99 <= TARGET_P99_RATIO)
                        ));
                        (format!("{r50:.2}"), format!("{r99:.2}"))
                    } else {
                        (String::new(), String::new())
                    };
                    (format!("{a50:.1}"), format!("{a99:.1}"), r50, r99)
                }
            };
            writeln!(
                report,
                "{:<15} {:>6} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9} {:>9} {:>9} {:>9}",
                mode.name(),
                plan.label,
                us(s.p50),
                us(s.p99),
                us(s.max),
                us(slowest_call[i]),
                add50,
                add99,
                r50,
                r99
            )
            .expect("write to string");
        }
        let invocations = (batch * plan.rounds) as f64;
        let per_1000 = |d: Duration| d.as_secs_f64() * 1e3 * 1000.0 / invocations;
        let per_mode: Vec<String> = modes
            .iter()
            .zip(&cpu)
            .skip(1)
            .map(|(mode, &cpu)| format!("{} {:.1} ms", mode.name(), per_1000(cpu)))
            .collect();
        cpu_lines.push(format!(
            "proxy CPU per 1000 invocations at {}: {} (user+system over {invocations} invocations each)",
            plan.label,
            per_mode.join(", "),
        ));
    }
    // Counted before SHUTDOWN, which flushes whatever is still queued: this shows whether export
    // kept up while the round trips ran.
    let invocation_spans = || {
        receiver
            .spans()
            .iter()
            .filter(|span| span.kind == SpanKind::Server)
            .count()
    };
    let spans_after_runs = invocation_spans();
    let rss_lines: Vec<String> = lenses
        .iter()
        .zip(&idle_rss_kib)
        .map(|((mode, lens), idle_kib)| {
            format!(
                "{} RSS: idle after registration {:.2} MiB, after the runs {:.2} MiB, peak {:.2} MiB",
                mode.name(),
                *idle_kib as f64 / 1024.0,
                status_kib(lens.pid(), "VmRSS") as f64 / 1024.0,
                status_kib(lens.pid(), "VmHWM") as f64 / 1024.0
            )
        })
        .collect();
    for (_, lens) in lenses {
        lens.stop(&fake);
    }
    stop_forwarder(forwarder);
    let spans_after_shutdown = invocation_spans();
    let export_requests = receiver.requests().len();

    // Start-up: fresh processes, nothing else running through the proxy, configured to export as
    // a production function would be (the exporter is built before the first `/event/next`).
    let mut to_register = Vec::with_capacity(STARTS);
    let mut to_poll = Vec::with_capacity(STARTS);
    for n in 0..STARTS {
        let ext = Extension::start(
            &fake,
            Path::new(LAMBDA_LENS_BIN),
            &scratch,
            modes.len() + n,
            Export::To(&endpoint),
        );
        to_register.push(ext.registered_at - ext.spawned_at);
        to_poll.push(ext.polling_at - ext.spawned_at);
        ext.stop(&fake);
    }
    let register = median(to_register.clone());
    let poll = median(to_poll);
    let _ = std::fs::remove_dir_all(&scratch);

    println!();
    print!("{report}");
    println!(
        "(max = slowest round trip; call≤ = slowest single call; + = added over direct, a difference of \
         percentiles; ×fwd = lens added / forwarder added)"
    );
    for line in cpu_lines {
        println!("{line}");
    }
    for line in rss_lines {
        println!("{line}");
    }
    println!(
        "receiver (the export-on instances' collector): {spans_after_runs} invocation spans when the \
         runs ended, {spans_after_shutdown} after SHUTDOWN, in {export_requests} export requests; expected \
         {exported_invocations} (one invocation span per round trip through an exporting instance, no telemetry): {}",
        if spans_after_shutdown == exported_invocations {
            "OK"
        } else {
            "MISMATCH"
        }
    );
    println!(
        "lambda-lens start-up, exporting (median of {STARTS}): exec → register {:.2} ms (min {:.2}, max {:.2}), exec → first /event/next {:.2} ms",
        register.as_secs_f64() * 1e3,
        to_register.iter().min().expect("starts").as_secs_f64() * 1e3,
        to_register.iter().max().expect("starts").as_secs_f64() * 1e3,
        poll.as_secs_f64() * 1e3
    );
    println!();
    println!(
        "target: added latency ≤ {TARGET_P50_RATIO}× forwarder at p50, ≤ {TARGET_P99_RATIO}× at p99: {}",
        ratio_verdicts.join("; ")
    );
    for (mode, slowest) in modes.iter().zip(slowest_call_overall) {
        if mode.is_lens() {
            println!(
                "target: no {} call over {} ms: {} (slowest {:.2} ms)",
                mode.name(),
                TARGET_MAX.as_millis(),
                verdict(slowest <= TARGET_MAX),
                slowest.as_secs_f64() * 1e3
            );
        }
    }
    println!(
        "target: register within {} ms of exec: {}",
        TARGET_REGISTER.as_millis(),
        verdict(register <= TARGET_REGISTER)
    );
    let rss_verdicts: Vec<String> = modes
        .iter()
        .filter(|mode| mode.is_lens())
        .zip(&idle_rss_kib)
        .map(|(mode, &kib)| format!("{} {}", mode.name(), verdict(kib <= TARGET_IDLE_RSS_KIB)))
        .collect();
    println!(
        "target: idle RSS ≤ {} MiB: {}",
        TARGET_IDLE_RSS_KIB / 1024,
        rss_verdicts.join(", ")
    );
    println!(
        "load average at end: {}; run took {:.1} s",
        loadavg(),
        run_started.elapsed().as_secs_f64()
    );
}
