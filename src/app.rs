//! Start-up and the main loop: bind the proxy, hand its address to the wrapper, register, then serve
//! lifecycle events until SHUTDOWN.
//!
//! Order matters: Lambda starts the runtime as soon as every extension has registered, so the proxy
//! listens and the hand-off file is written before `/extension/register` is called.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::net::TcpListener;

use crate::config::{Config, StartupErrorPolicy};
use crate::handoff;
use crate::http_client;
use crate::lifecycle::{
    time_until, ExtensionEvent, ExtensionId, ExtensionsClient, LifecycleError, Subscription,
};
use crate::proxy::Proxy;
use crate::record::RecordSender;
use crate::recorder::Recorder;

/// Kept free before the SHUTDOWN deadline so the process exits before the platform's SIGKILL.
const SHUTDOWN_MARGIN: Duration = Duration::from_millis(100);
/// Drain budget when SHUTDOWN carries no usable deadline (emulators send `deadlineMs: 0`).
const DEFAULT_SHUTDOWN_BUDGET: Duration = Duration::from_millis(500);
/// Error type reported with `/extension/init/error` under `LAMBDA_LENS_ON_STARTUP_ERROR=fail`.
const STARTUP_ERROR_TYPE: &str = "Extension.LambdaLensStartupError";

/// Process exit status.
pub type ExitStatus = u8;

/// Binds the proxy on 127.0.0.1:`port`; if that port is taken, on a free port instead (the wrapper
/// reads the address from the hand-off file, so any port works).
pub async fn bind_proxy(port: u16) -> io::Result<TcpListener> {
    let wanted = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    match TcpListener::bind(wanted).await {
        Err(e) if e.kind() == io::ErrorKind::AddrInUse && port != 0 => {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
            tracing::warn!(
                "proxy port {port} is already in use; listening on {} instead (the wrapper reads it from the hand-off file)",
                listener.local_addr()?
            );
            Ok(listener)
        }
        other => other,
    }
}

/// Starts the proxy and publishes its address; an error means lambda-lens runs without a proxy.
async fn start_proxy(config: &Config, records: RecordSender) -> Result<SocketAddr, String> {
    let listener = bind_proxy(config.proxy_port)
        .await
        .map_err(|e| format!("the proxy cannot listen on 127.0.0.1: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("the proxy's address is unknown: {e}"))?;
    handoff::publish(&config.handoff_file, addr).map_err(|e| {
        format!(
            "cannot write the hand-off file {}: {e}",
            config.handoff_file.display()
        )
    })?;
    let proxy = Proxy::new(
        http_client::build(),
        config.upstream.clone(),
        config.capture_bytes,
        records,
    );
    tokio::spawn(proxy.serve(listener));
    Ok(addr)
}

/// Runs the extension until SHUTDOWN (exit 0) or an unrecoverable Extensions API failure (exit 1).
pub async fn run(config: Config) -> ExitStatus {
    if let Err(e) = handoff::clear(&config.handoff_file) {
        tracing::warn!(file = %config.handoff_file.display(), error = %e, "cannot remove a stale hand-off file");
    }
    let (records, record_rx) = RecordSender::channel();
    let recorder = Recorder::spawn(record_rx);

    let startup_error = if config.disabled {
        tracing::info!(
            "LAMBDA_LENS_DISABLED=true: no proxy; the runtime talks to the Runtime API directly"
        );
        None
    } else {
        match start_proxy(&config, records).await {
            Ok(addr) => {
                tracing::info!(proxy = %addr, upstream = %config.upstream, "Runtime API proxy listening");
                None
            }
            Err(message) => {
                tracing::error!("{message}; the function runs unobserved (pass-through)");
                Some(message)
            }
        }
    };

    let extensions = ExtensionsClient::new(http_client::build(), config.runtime_api.clone());
    let events = Subscription::for_initialization_type(config.initialization_type.as_deref());
    let registration = match extensions.register(&config.extension_name, events).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(name = %config.extension_name, error = %e, "extension registration failed");
            return exit_failed(&config);
        }
    };
    tracing::info!(
        extension_id = %registration.extension_id,
        function = registration.function_name.as_deref().unwrap_or("?"),
        "registered"
    );

    if let (Some(message), StartupErrorPolicy::Fail) = (&startup_error, config.on_startup_error) {
        if let Err(e) = extensions
            .init_error(&registration.extension_id, STARTUP_ERROR_TYPE, message)
            .await
        {
            tracing::error!(error = %e, "could not report the init error");
        }
        return exit_failed(&config);
    }

    match event_loop(&extensions, &registration.extension_id, &recorder).await {
        0 => 0,
        _ => exit_failed(&config),
    }
}

/// Leaving without SHUTDOWN: withdraw the hand-off file so a runtime started later (an emulator
/// that carries on, a re-init) talks to the Runtime API instead of a dead proxy.
fn exit_failed(config: &Config) -> ExitStatus {
    if let Err(e) = handoff::clear(&config.handoff_file) {
        tracing::warn!(file = %config.handoff_file.display(), error = %e, "cannot remove the hand-off file");
    }
    1
}

async fn event_loop(
    extensions: &ExtensionsClient,
    id: &ExtensionId,
    recorder: &Recorder,
) -> ExitStatus {
    let mut sigterm =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    loop {
        let event = tokio::select! {
            event = extensions.next_event(id) => event,
            Some(()) = async { match sigterm.as_mut() { Some(s) => s.recv().await, None => None } } => {
                tracing::info!("SIGTERM: draining and exiting");
                recorder.drain().await;
                return 0;
            }
        };
        match event {
            Ok(ExtensionEvent::Shutdown {
                reason,
                deadline_ms,
            }) => {
                let budget = match time_until(deadline_ms).saturating_sub(SHUTDOWN_MARGIN) {
                    Duration::ZERO => DEFAULT_SHUTDOWN_BUDGET,
                    left => left,
                };
                tracing::info!(?reason, budget_ms = budget.as_millis() as u64, "SHUTDOWN");
                if tokio::time::timeout(budget, recorder.drain())
                    .await
                    .is_err()
                {
                    tracing::warn!("shutdown budget used up before all records were handled");
                }
                return 0;
            }
            Ok(event) => recorder.lifecycle(event).await,
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
