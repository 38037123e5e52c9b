//! `lambda-sandbox` command line: `run` a local Lambda environment (serving, or scripted for demos)
//! and `invoke` a running one over its RIE-compatible endpoint.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use lambda_sandbox::{
    invoke_over_http, FreezeMode, Invocation, LogFormat, Sandbox, SandboxConfig, ShutdownReason,
    TraceMode,
};

const USAGE: &str = "\
usage:
  lambda-sandbox run --task-root DIR [--opt DIR] [--env K=V]... [--timeout-ms N] [--memory-mb N]
                     [--init-timeout-ms N] [--handler NAME] [--function-name NAME]
                     [--freeze signals|telemetry] [--log-format text|json] [--listen ADDR]
                     [--api-listen ADDR] [--quiet] [--trace MODE] [--managed-instances N]
                     [--snap-start]
                     [--invoke FILE]... [--exit-after] [--otlp-view] -- CMD ARGS...
  lambda-sandbox invoke --url URL [--event FILE] [--count N] [--trace active|unsampled|lineage|none]";

/// A command-line mistake, printed with the usage text.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct UsageError(String);

fn usage(msg: impl Into<String>) -> UsageError {
    UsageError(msg.into())
}

/// The value that follows `flag` on the command line.
fn flag_value<'a>(
    rest: &mut impl Iterator<Item = &'a String>,
    flag: &str,
) -> Result<String, UsageError> {
    rest.next()
        .cloned()
        .ok_or_else(|| usage(format!("{flag} expects a value")))
}

/// Parsed `run` options.
struct RunArgs {
    config: SandboxConfig,
    invokes: Vec<PathBuf>,
    exit_after: bool,
    trace: TraceMode,
    /// Receive OTLP in-process and print a waterfall of the spans at the end.
    otlp_view: bool,
}

/// Parsed `invoke` options.
struct InvokeArgs {
    url: String,
    event: Option<PathBuf>,
    count: u32,
    trace: TraceMode,
}

fn parse_number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, UsageError> {
    value
        .parse()
        .map_err(|_| usage(format!("{flag} expects a number, got {value:?}")))
}

fn parse_run(args: &[String]) -> Result<RunArgs, UsageError> {
    let split = args
        .iter()
        .position(|a| a == "--")
        .ok_or_else(|| usage("missing `-- CMD ARGS...`"))?;
    let command = args[split + 1..].to_vec();
    if command.is_empty() {
        return Err(usage("missing runtime command after `--`"));
    }
    let mut config = SandboxConfig::new(".", command);
    config.invoke_listen = Some(SocketAddr::from(([127, 0, 0, 1], 9000)));
    let mut otlp_view = false;
    let (mut invokes, mut exit_after, mut trace, mut task_root) =
        (Vec::new(), false, TraceMode::None, None);
    let mut it = args[..split].iter();
    while let Some(flag) = it.next() {
        let mut value = || flag_value(&mut it, flag);
        match flag.as_str() {
            "--opt" => config.opt_dir = Some(PathBuf::from(value()?)),
            "--task-root" => task_root = Some(PathBuf::from(value()?)),
            "--env" => {
                let kv = value()?;
                let (k, v) = kv
                    .split_once('=')
                    .ok_or_else(|| usage(format!("--env expects K=V, got {kv:?}")))?;
                config.function_env.insert(k.to_owned(), v.to_owned());
            }
            "--timeout-ms" => {
                config.timeout = Duration::from_millis(parse_number(flag, &value()?)?)
            }
            "--init-timeout-ms" => {
                config.init_timeout = Duration::from_millis(parse_number(flag, &value()?)?)
            }
            "--memory-mb" => config.memory_mb = parse_number(flag, &value()?)?,
            "--handler" => config.handler = value()?,
            "--function-name" => config.function_name = value()?,
            "--freeze" => {
                config.freeze = value()?
                    .parse::<FreezeMode>()
                    .map_err(|e| usage(e.to_string()))?
            }
            "--log-format" => {
                config.log_format = value()?
                    .parse::<LogFormat>()
                    .map_err(|e| usage(e.to_string()))?
            }
            "--listen" => {
                config.invoke_listen = Some(
                    value()?
                        .parse()
                        .map_err(|_| usage("--listen expects HOST:PORT"))?,
                )
            }
            "--api-listen" => {
                config.api_listen = value()?
                    .parse()
                    .map_err(|_| usage("--api-listen expects HOST:PORT"))?
            }
            "--managed-instances" => {
                config = config.with_managed_instances(parse_number(flag, &value()?)?)
            }
            "--snap-start" => config = config.with_snap_start(),
            "--quiet" => config.quiet = true,
            "--trace" => {
                trace = value()?
                    .parse()
                    .map_err(|e: lambda_sandbox::UnknownTraceMode| usage(e.to_string()))?
            }
            "--invoke" => invokes.push(PathBuf::from(value()?)),
            "--exit-after" => exit_after = true,
            "--otlp-view" => otlp_view = true,
            other => return Err(usage(format!("unknown option {other}"))),
        }
    }
    config.task_root = task_root.ok_or_else(|| usage("--task-root is required"))?;
    Ok(RunArgs {
        config,
        invokes,
        exit_after,
        trace,
        otlp_view,
    })
}

fn parse_invoke(args: &[String]) -> Result<InvokeArgs, UsageError> {
    let (mut url, mut event, mut count, mut trace) = (None, None, 1, TraceMode::None);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || flag_value(&mut it, flag);
        match flag.as_str() {
            "--url" => url = Some(value()?),
            "--event" => event = Some(PathBuf::from(value()?)),
            "--count" => count = parse_number(flag, &value()?)?,
            "--trace" => {
                trace = value()?
                    .parse()
                    .map_err(|e: lambda_sandbox::UnknownTraceMode| usage(e.to_string()))?
            }
            other => return Err(usage(format!("unknown option {other}"))),
        }
    }
    let mut url = url.ok_or_else(|| usage("--url is required"))?;
    if !url.contains("/2015-03-31/") {
        url = format!(
            "{}/2015-03-31/functions/function/invocations",
            url.trim_end_matches('/')
        );
    }
    Ok(InvokeArgs {
        url,
        event,
        count,
        trace,
    })
}

fn read_event(path: Option<&PathBuf>) -> Result<Bytes, String> {
    match path {
        Some(p) => std::fs::read(p)
            .map(Bytes::from)
            .map_err(|e| format!("cannot read {}: {e}", p.display())),
        None => Ok(Bytes::from_static(b"{}")),
    }
}

async fn run(mut args: RunArgs) -> Result<(), String> {
    // The embedded default backend: spans exported by the function's extensions land here.
    let receiver = if args.otlp_view {
        let receiver = trace_view::Receiver::start(trace_view::ReceiverConfig::default())
            .map_err(|e| e.to_string())?;
        println!(
            "lambda-sandbox: OTLP receiver on {} (HTTP) and {} (gRPC)",
            receiver.http_endpoint(),
            receiver.grpc_endpoint()
        );
        args.config.function_env.insert(
            "OTEL_EXPORTER_OTLP_ENDPOINT".into(),
            receiver.http_endpoint(),
        );
        Some(receiver)
    } else {
        None
    };
    let sandbox = Sandbox::start(args.config)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "lambda-sandbox: runtime API on {}",
        sandbox.runtime_api_addr()
    );
    if let Some(url) = sandbox.invoke_url() {
        println!("lambda-sandbox: invoke with POST {url}");
    }
    for file in &args.invokes {
        let payload = read_event(Some(file))?;
        let outcome = sandbox
            .invoke(Invocation::new(payload).with_trace(args.trace))
            .await;
        println!(
            "invoke {}: request {} status {}{} in {:.1} ms\n  body: {}",
            file.display(),
            outcome.request_id,
            outcome.status,
            outcome
                .error_type
                .as_deref()
                .map(|t| format!(" ({t})"))
                .unwrap_or_default(),
            outcome.duration.as_secs_f64() * 1000.0,
            outcome.body_text()
        );
    }
    if !args.exit_after {
        wait_for_signal().await;
    }
    let outcome = sandbox.shutdown(ShutdownReason::Spindown).await;
    for p in &outcome.processes {
        println!(
            "lambda-sandbox: {} (pid {}) ended: code {:?} signal {:?}{}",
            p.name,
            p.pid,
            p.code,
            p.signal,
            if p.sent_sigkill { " (killed)" } else { "" }
        );
    }
    if let Some(receiver) = receiver {
        let spans = receiver.spans();
        println!(
            "\nlambda-sandbox: {} spans received over OTLP\n",
            spans.len()
        );
        print!("{}", trace_view::render_waterfall(&spans, 100));
        print!(
            "\n{}",
            trace_view::render_signals(&receiver.metrics(), &receiver.logs())
        );
    }
    Ok(())
}

async fn wait_for_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler installs");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

async fn invoke(args: InvokeArgs) -> Result<(), String> {
    let payload = read_event(args.event.as_ref())?;
    for _ in 0..args.count {
        let header = args.trace.header();
        let result = invoke_over_http(&args.url, payload.clone(), header.as_deref())
            .await
            .map_err(|e| e.to_string())?;
        println!(
            "request {} HTTP {}{} in {:.1} ms\n  body: {}",
            result.request_id().unwrap_or("-"),
            result.status.as_u16(),
            result
                .function_error()
                .map(|e| format!(" function error {e}"))
                .unwrap_or_default(),
            result.elapsed.as_secs_f64() * 1000.0,
            String::from_utf8_lossy(&result.body)
        );
        if let Some(trailers) = &result.trailers {
            println!("  trailers: {trailers:?}");
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env(
            "LAMBDA_SANDBOX_LOG",
        ))
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => match parse_run(&args[1..]) {
            Ok(a) => run(a).await,
            Err(e) => Err(format!("{e}\n{USAGE}")),
        },
        Some("invoke") => match parse_invoke(&args[1..]) {
            Ok(a) => invoke(a).await,
            Err(e) => Err(format!("{e}\n{USAGE}")),
        },
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lambda-sandbox: {e}");
            ExitCode::FAILURE
        }
    }
}
