//! Start-up and the main loop: bind the proxy and the telemetry listener, hand the proxy's address to
//! the wrapper, register, subscribe to telemetry, then serve lifecycle events until SHUTDOWN.
//!
//! Order matters: Lambda starts the runtime as soon as every extension has registered, so both
//! listeners are bound and the hand-off file is written before `/extension/register` is called; the
//! telemetry subscription is only accepted during init, so it happens before the first
//! `/extension/event/next`. After each INVOKE, `/extension/event/next` is called only once the
//! invocation's spans are exported (or the flush budget ran out): the sandbox freezes right after.
//! With export disabled (and records not logged) nothing is recorded and there is no telemetry
//! subscription: lambda-lens is then a plain relay.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::net::TcpListener;

use crate::correlate::DEADLINE_GRACE;
use crate::export::Exporter;
use crate::lifecycle::{
    time_until, EventPoller, ExtensionEvent, ExtensionId, ExtensionsClient, LifecycleError,
    Subscription,
};
use crate::net;
use crate::pipeline::{OwnerPlacement, Pipeline, PipelineSetup};
use crate::platform_http::{self, PlatformClient};
use crate::proxy::{Exported, Proxy};
use crate::record::RecordSender;
use crate::settings::{ExportSettings, RuntimeSettings, Settings, StartupErrorPolicy};
use crate::spans::{self, CaptureSettings, FunctionInfo};
use crate::telemetry::{self, BatchSender, TELEMETRY_QUEUE_CAPACITY};
use crate::trace_context::TraceRules;
use crate::transform::Transforms;
use crate::{handoff, logging};

/// Kept free before the SHUTDOWN deadline so the process exits before the platform's SIGKILL.
const SHUTDOWN_MARGIN: Duration = Duration::from_millis(100);
/// The owner task's SHUTDOWN work ends this much before the budget this loop waits on it for, so
/// that its line saying what is lost is written before the loop gives up (its flush may take the
/// whole of what it is given, and it starts a little after the loop's wait).
const OWNER_SHUTDOWN_LEAD: Duration = Duration::from_millis(20);
/// Drain budget when SHUTDOWN carries no usable deadline (emulators send `deadlineMs: 0`).
const DEFAULT_SHUTDOWN_BUDGET: Duration = Duration::from_millis(500);
/// Error type reported with `/extension/init/error` under `LAMBDA_LENS_ON_STARTUP_ERROR=fail`.
const STARTUP_ERROR_TYPE: &str = "Extension.LambdaLensStartupError";
/// Extra wait for the owner task beyond the invocation's own limits, should it misbehave: the
/// lifecycle loop must always get back to `/extension/event/next`.
const FINISH_SAFETY: Duration = Duration::from_secs(1);

/// Process exit status.
pub type ExitStatus = u8;

/// Starts the proxy and publishes its address; an error means lambda-lens runs without a proxy.
async fn start_proxy(settings: &Settings, records: RecordSender) -> Result<SocketAddr, String> {
    let runtime = &settings.runtime;
    // Any port works for the proxy: the wrapper reads it from the hand-off file.
    let listener = net::bind_with_fallback(Ipv4Addr::LOCALHOST, runtime.proxy_port, "proxy")
        .await
        .map_err(|e| format!("the proxy cannot listen on 127.0.0.1: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("the proxy's address is unknown: {e}"))?;
    handoff::publish(&runtime.handoff_file, addr).map_err(|e| {
        format!(
            "cannot write the hand-off file {}: {e}",
            runtime.handoff_file.display()
        )
    })?;
    // Bodies are kept for records somebody reads, and for transforms: they stamp the parent read
    // from the captured head of the event.
    let transforms = Transforms::new(&settings.transforms);
    let capture_bytes = if records.is_read() || transforms.any_at_all() {
        settings.bodies.capture_bytes
    } else {
        0
    };
    let proxy = Proxy::new(runtime.upstream.clone(), capture_bytes, records)
        .with_transforms(transforms)
        .with_export(if settings.export.disabled {
            Exported::Nothing
        } else if settings.export.destination.traces {
            Exported::Spans
        } else {
            Exported::NoSpans
        })
        .with_trace_rules(TraceRules {
            propagators: settings.propagators.clone(),
            target: settings.export.destination.target,
            sampler: settings.sampler.clone(),
        });
    tokio::spawn(proxy.serve(listener));
    Ok(addr)
}

/// Runs the extension until SHUTDOWN (exit 0) or an unrecoverable Extensions API failure (exit 1).
pub async fn run(settings: Settings) -> ExitStatus {
    let runtime = &settings.runtime;
    if let Err(e) = handoff::clear(&runtime.handoff_file) {
        tracing::warn!(file = %runtime.handoff_file.display(), error = %e, "cannot remove a stale hand-off file");
    }
    let client = platform_http::build();
    // With export disabled and records not logged, nothing reads what the proxy and the Telemetry
    // API would tell: lambda-lens is then a plain relay that records nothing.
    let observed = !settings.export.disabled || logging::records_requested();
    let (records, record_rx) = if observed {
        RecordSender::channel()
    } else {
        RecordSender::unread()
    };
    let (telemetry_tx, telemetry_rx) = telemetry::queue(TELEMETRY_QUEUE_CAPACITY);

    let startup_error = if runtime.disabled {
        tracing::info!(
            "LAMBDA_LENS_DISABLED=true: no proxy; the runtime talks to the Runtime API directly"
        );
        None
    } else {
        match start_proxy(&settings, records).await {
            Ok(addr) => {
                tracing::info!(proxy = %addr, upstream = %runtime.upstream, "Runtime API proxy listening");
                None
            }
            Err(message) => {
                tracing::error!("{message}; the function runs unobserved (pass-through)");
                Some(message)
            }
        }
    };
    if settings.export.disabled && observed {
        tracing::info!("export is disabled; invocations are still recorded for the record log");
    }
    let telemetry_listener = if !observed {
        tracing::info!("export is disabled: no Telemetry API subscription, nothing recorded");
        None
    } else {
        match telemetry::bind_listener(runtime.telemetry_port).await {
            Ok(listener) => Some(listener),
            Err(e) => {
                tracing::warn!(error = %e, "the telemetry listener cannot start; spans will lack the platform's view");
                None
            }
        }
    };

    let extensions = ExtensionsClient::new(client.clone(), runtime.runtime_api.clone());
    let events = Subscription::for_initialization_type(runtime.initialization_type.as_deref());
    let registration = match extensions.register(&runtime.extension_name, events).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(name = %runtime.extension_name, error = %e, "extension registration failed");
            return exit_failed(runtime);
        }
    };
    tracing::info!(
        extension_id = %registration.extension_id,
        function = registration.function_name.as_deref().unwrap_or("?"),
        "registered"
    );

    if let (Some(message), StartupErrorPolicy::Fail) = (&startup_error, runtime.on_startup_error) {
        if let Err(e) = extensions
            .init_error(&registration.extension_id, STARTUP_ERROR_TYPE, message)
            .await
        {
            tracing::error!(error = %e, "could not report the init error");
        }
        return exit_failed(runtime);
    }

    let function = FunctionInfo::new(&settings.function, registration.account_id.clone());
    let export = settings.export.clone();
    let setup = PipelineSetup {
        function,
        exporter: None,
        flush_timeout: export.flush_timeout,
        sampler: settings.sampler.clone(),
        runtime_done_wait: runtime.runtime_done_wait,
        capture: CaptureSettings::new(&settings.bodies, &settings.redaction),
        propagators: settings.propagators.clone(),
        signals: settings.signals,
    };
    // Built on the owner's thread: the exporter's connections belong to the runtime that uses them.
    // With nothing observed the owner has no work, and no thread of its own either.
    let placement = match events {
        Subscription::ShutdownOnly if observed => OwnerPlacement::OwnThread,
        _ => OwnerPlacement::MainThread,
    };
    let pipeline =
        match Pipeline::spawn(record_rx, telemetry_rx, placement, move || PipelineSetup {
            exporter: build_exporter(&export, &setup.function),
            ..setup
        }) {
            Ok(pipeline) => pipeline,
            Err(e) => {
                tracing::error!(error = %e, "the owner thread cannot start");
                return exit_failed(runtime);
            }
        };
    let telemetry_expected = match telemetry_listener {
        Some(listener) => {
            subscribe_telemetry(
                &client,
                runtime,
                &registration.extension_id,
                listener,
                telemetry_tx,
            )
            .await
        }
        None => false,
    };
    pipeline.telemetry_expected(telemetry_expected).await;

    let poller = match extensions.events(&registration.extension_id) {
        Ok(poller) => poller,
        Err(e) => {
            tracing::error!(error = %e, "the event long poll cannot be set up");
            return exit_failed(runtime);
        }
    };
    match event_loop(poller, &pipeline, settings.export.flush_timeout).await {
        0 => 0,
        _ => exit_failed(runtime),
    }
}

/// The exporter `export` asks for; `None` when export is disabled or cannot be built.
fn build_exporter(export: &ExportSettings, function: &FunctionInfo) -> Option<Exporter> {
    match Exporter::new(export, spans::resource(function, None)) {
        Ok(exporter) => exporter,
        Err(e) => {
            tracing::error!(error = %e, "the OTLP exporter cannot be built; nothing is exported");
            None
        }
    }
}

/// Serves the telemetry listener and subscribes to it; true when `platform.*` events will arrive.
async fn subscribe_telemetry(
    client: &PlatformClient,
    runtime: &RuntimeSettings,
    id: &ExtensionId,
    listener: TcpListener,
    sink: BatchSender,
) -> bool {
    let port = match listener.local_addr() {
        Ok(addr) => addr.port(),
        Err(e) => {
            tracing::warn!(error = %e, "the telemetry listener's port is unknown");
            return false;
        }
    };
    tokio::spawn(telemetry::serve(listener, sink));
    match telemetry::subscribe(client, &runtime.runtime_api, &id.to_string(), port).await {
        Ok(telemetry::Subscription::Subscribed(version)) => {
            tracing::info!(
                schema = version.as_str(),
                port,
                "subscribed to the Telemetry API"
            );
            true
        }
        Ok(telemetry::Subscription::NotSupported) => {
            tracing::info!(
                "the Telemetry API is not supported here; spans use the proxy's view only"
            );
            false
        }
        Err(e) => {
            tracing::warn!(error = %e, "telemetry subscription failed; spans use the proxy's view only");
            false
        }
    }
}

/// Leaving without SHUTDOWN: withdraw the hand-off file so a runtime started later (an emulator
/// that carries on, a re-init) talks to the Runtime API instead of a dead proxy.
fn exit_failed(runtime: &RuntimeSettings) -> ExitStatus {
    if let Err(e) = handoff::clear(&runtime.handoff_file) {
        tracing::warn!(file = %runtime.handoff_file.display(), error = %e, "cannot remove the hand-off file");
    }
    1
}

async fn event_loop(
    mut poller: EventPoller,
    pipeline: &Pipeline,
    flush_timeout: Duration,
) -> ExitStatus {
    let mut sigterm =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    loop {
        let event = tokio::select! {
            event = poller.next() => event,
            Some(()) = async { match sigterm.as_mut() { Some(s) => s.recv().await, None => None } } => {
                tracing::info!("SIGTERM: exporting what is queued and exiting");
                pipeline.shutdown(DEFAULT_SHUTDOWN_BUDGET).await;
                return 0;
            }
        };
        match event {
            Ok(ExtensionEvent::Invoke(invoke)) => {
                let (request_id, deadline_ms) = (invoke.request_id.clone(), invoke.deadline_ms);
                let exported = pipeline.invoke(invoke).await;
                let limit =
                    time_until(deadline_ms) + DEADLINE_GRACE + flush_timeout + FINISH_SAFETY;
                if tokio::time::timeout(limit, exported.wait()).await.is_err() {
                    tracing::warn!(%request_id, "gave up waiting for the invocation's spans");
                }
            }
            Ok(ExtensionEvent::Shutdown {
                reason,
                deadline_ms,
            }) => {
                let budget = match time_until(deadline_ms).saturating_sub(SHUTDOWN_MARGIN) {
                    Duration::ZERO => DEFAULT_SHUTDOWN_BUDGET,
                    left => left,
                };
                tracing::info!(?reason, budget_ms = budget.as_millis() as u64, "SHUTDOWN");
                let owner_budget = budget.saturating_sub(OWNER_SHUTDOWN_LEAD);
                if tokio::time::timeout(budget, pipeline.shutdown(owner_budget))
                    .await
                    .is_err()
                {
                    tracing::warn!("shutdown budget used up before all spans were exported");
                }
                return 0;
            }
            Err(LifecycleError::Protocol { detail, .. }) => {
                tracing::warn!(%detail, "ignoring an event lambda-lens does not understand");
            }
            Err(e) => {
                tracing::error!(error = %e, "the Extensions API failed; exiting");
                return 1;
            }
        }
    }
}
