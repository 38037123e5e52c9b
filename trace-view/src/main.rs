//! The `trace-view` binary: runs a receiver and prints a waterfall of each trace once it has
//! gone quiet, and of everything still pending on Ctrl-C / SIGTERM, then the metrics and log
//! records received; optionally writes every span as JSON lines.

use std::collections::BTreeMap;
use std::io::{self, IsTerminal as _, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use tokio::time::Instant;
use trace_view::{
    render_signals, render_waterfall_with, JsonlWriter, ReceivedSpan, Receiver, ReceiverConfig,
    WaterfallOptions,
};

const USAGE: &str = "\
usage: trace-view [--http ADDR] [--grpc ADDR] [--jsonl PATH] [--once-after-idle MS]
                  [--trace-idle MS] [--width N]

  --http ADDR           OTLP/HTTP address (default 127.0.0.1:4318; port 0 picks one)
  --grpc ADDR           OTLP/gRPC address (default 127.0.0.1:4317; port 0 picks one)
  --jsonl PATH          also write every span as one JSON object per line; `-` is stdout
                        (the waterfalls then go to stderr)
  --once-after-idle MS  exit once spans were received and none came for MS milliseconds
  --trace-idle MS       print a trace after MS milliseconds without new spans (default 500)
  --width N             width of the name and bar columns (default 100)";

/// How often pending traces are checked for idleness.
const TICK: Duration = Duration::from_millis(50);

/// The parsed command line.
#[derive(Debug)]
struct Args {
    http: SocketAddr,
    grpc: SocketAddr,
    jsonl: Option<PathBuf>,
    once_after_idle: Option<Duration>,
    trace_idle: Duration,
    width: usize,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        http: SocketAddr::from(([127, 0, 0, 1], 4318)),
        grpc: SocketAddr::from(([127, 0, 0, 1], 4317)),
        jsonl: None,
        once_after_idle: None,
        trace_idle: Duration::from_millis(500),
        width: 100,
    };
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let invalid = |error: &dyn std::fmt::Display| format!("invalid {flag} {value:?}: {error}");
        let millis = |value: &str| {
            value
                .parse()
                .map(Duration::from_millis)
                .map_err(|error| invalid(&error))
        };
        match flag.as_str() {
            "--http" => parsed.http = value.parse().map_err(|error| invalid(&error))?,
            "--grpc" => parsed.grpc = value.parse().map_err(|error| invalid(&error))?,
            "--jsonl" => parsed.jsonl = Some(PathBuf::from(&value)),
            "--once-after-idle" => parsed.once_after_idle = Some(millis(&value)?),
            "--trace-idle" => parsed.trace_idle = millis(&value)?,
            "--width" => parsed.width = value.parse().map_err(|error| invalid(&error))?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(parsed)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("trace-view: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("trace-view: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let mut jsonl = match &args.jsonl {
        Some(path) => Some(
            JsonlWriter::create(path)
                .map_err(|error| format!("cannot write {}: {error}", path.display()))?,
        ),
        None => None,
    };
    // Keep stdout clean for the JSON lines when they go there.
    let jsonl_on_stdout = args.jsonl.as_deref() == Some(std::path::Path::new("-"));
    let mut report: Box<dyn Write> = if jsonl_on_stdout {
        Box::new(io::stderr())
    } else {
        Box::new(io::stdout())
    };
    let is_terminal = if jsonl_on_stdout {
        io::stderr().is_terminal()
    } else {
        io::stdout().is_terminal()
    };
    let options = WaterfallOptions {
        color: is_terminal && std::env::var_os("NO_COLOR").is_none(),
        ..WaterfallOptions::with_width(args.width)
    };

    let receiver = Receiver::start(ReceiverConfig {
        http_addr: args.http,
        grpc_addr: args.grpc,
        ..ReceiverConfig::default()
    })
    .map_err(|error| error.to_string())?;
    let mut incoming = receiver.subscribe();
    let say = |report: &mut dyn Write, text: &str| {
        // A closed stdout (e.g. `| head`) is no reason to stop receiving.
        let _ = report
            .write_all(text.as_bytes())
            .and_then(|()| report.flush());
    };
    say(
        &mut report,
        &format!(
            "OTLP/HTTP listening on {}\nOTLP/gRPC listening on {}\n",
            receiver.http_endpoint(),
            receiver.grpc_endpoint()
        ),
    );

    let mut pending: BTreeMap<String, (Vec<ReceivedSpan>, Instant)> = BTreeMap::new();
    let mut last_span_at: Option<Instant> = None;
    let mut tick = tokio::time::interval(TICK);
    let stop = stop_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            Some(span) = incoming.recv() => {
                if let Some(writer) = &mut jsonl {
                    if let Err(error) = writer.write_span(&span) {
                        eprintln!("trace-view: stopped writing JSON lines: {error}");
                        jsonl = None;
                    }
                }
                let now = Instant::now();
                last_span_at = Some(now);
                let entry = pending
                    .entry(span.trace_id.clone())
                    .or_insert_with(|| (Vec::new(), now));
                entry.0.push(span);
                entry.1 = now;
            }
            _ = tick.tick() => {
                let now = Instant::now();
                let idle: Vec<String> = pending
                    .iter()
                    .filter(|(_, (_, seen))| now - *seen >= args.trace_idle)
                    .map(|(trace_id, _)| trace_id.clone())
                    .collect();
                for trace_id in idle {
                    let (spans, _) = pending.remove(&trace_id).expect("the id was just listed");
                    say(&mut report, &format!("{}\n", render_waterfall_with(&spans, &options)));
                }
                let quiet = |since: Instant| args.once_after_idle.is_some_and(|idle| now - since >= idle);
                if last_span_at.is_some_and(quiet) {
                    break;
                }
            }
            () = &mut stop => break,
        }
    }

    let rest: Vec<ReceivedSpan> = pending.into_values().flat_map(|(spans, _)| spans).collect();
    if !rest.is_empty() {
        say(
            &mut report,
            &format!("{}\n", render_waterfall_with(&rest, &options)),
        );
    }
    say(
        &mut report,
        &render_signals(&receiver.metrics(), &receiver.logs()),
    );
    receiver.shutdown().await;
    Ok(())
}

/// Completes on Ctrl-C, or on SIGTERM where there is one (how `make` and shells stop a
/// background process).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
