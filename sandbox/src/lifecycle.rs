//! The environment lifecycle: init and re-init, the invoke cycle with its
//! deadline and failure handling, the freeze between invocations, and shutdown/reset.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::clock::{epoch_ms, iso8601_ms, Stamp};
use crate::core::{
    Core, ExtensionPhase, FunctionResponse, InvokeSlot, LifecycleEvent, NextEvent, PlatformError,
    ProcessExit, ProcessRole, RuntimePhase, State,
};
use crate::ids::{random_hex, RequestId};
use crate::model::{EventKind, FreezeMode, InitPhase, ShutdownReason, Status};
use crate::process::{
    extension_env, launch, list_extensions, new_instance_id, runtime_env, signal_process, stop_all,
    wait_exited, Launch,
};

/// Total shutdown budget with at least one external extension.
const SHUTDOWN_BUDGET: Duration = Duration::from_secs(2);
/// The runtime's share of the budget for a graceful SIGTERM stop.
const RUNTIME_GRACE: Duration = Duration::from_millis(300);
/// How long to wait for a SIGKILLed process to be reaped.
const REAP_WAIT: Duration = Duration::from_secs(2);

/// One invocation as the platform receives it.
pub(crate) struct InvokeRequest {
    pub request_id: RequestId,
    pub payload: Bytes,
    pub trace_header: Option<String>,
    pub client_context: Option<String>,
    pub cognito_identity: Option<String>,
    pub tenant_id: Option<String>,
}

/// How an invoke cycle ended, for the caller's outcome.
#[derive(Debug, Clone)]
pub(crate) struct CycleSummary {
    pub status: Status,
    pub error_type: Option<String>,
}

/// Environment-instance bookkeeping across invocations; owned by whoever holds the invoke lock.
#[derive(Debug, Default)]
pub(crate) struct EnvState {
    /// Init to run before the next invocation (after a reset or shutdown).
    pub needs_init: Option<InitPhase>,
    /// A failed init whose error is served to the next invocation.
    pub pending_init_error: Option<PlatformError>,
    /// Init duration to report in the next `platform.report` (cold start).
    pub cold_init_ms: Option<f64>,
    /// SnapStart restore duration to report in the next `platform.report` (cold start).
    pub cold_restore_ms: Option<f64>,
    pub frozen: bool,
}

/// The `tracing` object of `platform.*` records for an invocation with an X-Ray header.
pub(crate) fn tracing_json(trace: Option<&str>, span_id: &str) -> Option<Value> {
    trace.map(|t| json!({"spanId": span_id, "type": "X-Amzn-Trace-Id", "value": t}))
}

/// One `{name, start, durationMs}` entry of a `platform.*` record's `spans`.
pub(crate) fn span(name: &str, from: &Stamp, to: &Stamp) -> Value {
    json!({"name": name, "start": iso8601_ms(from.wall), "durationMs": from.ms_until(to)})
}

impl Core {
    fn emit_init(
        &self,
        kind: &str,
        phase: InitPhase,
        status: Option<(Status, Option<&str>)>,
        duration_ms: Option<f64>,
    ) {
        let mut record = json!({
            "initializationType": self.config.initialization.as_str(),
            "phase": phase.as_str(),
        });
        if let Some((status, error_type)) = status {
            record["status"] = json!(status.as_str());
            if let Some(t) = error_type {
                record["errorType"] = json!(t);
            }
        }
        if let Some(ms) = duration_ms {
            record["metrics"] = json!({"durationMs": ms});
        }
        self.hub.emit_platform(kind, record);
    }

    /// What `platform.initStart` and `platform.restoreStart` tell of the environment instance.
    pub(crate) fn instance_record(&self, instance_id: &str, runtime_version_arn: &str) -> Value {
        let cfg = &self.config;
        json!({
            "functionName": cfg.function_name,
            "functionVersion": cfg.function_version,
            "instanceId": instance_id,
            "instanceMaxMemory": u64::from(cfg.memory_mb) * 1024 * 1024,
            "runtimeVersion": cfg.runtime_version,
            "runtimeVersionArn": runtime_version_arn,
        })
    }

    /// Runs the init and records the cold start the next `platform.report` carries: the init's
    /// duration, or on SnapStart the snapshot is taken and restored and the restore's duration.
    pub(crate) async fn init_cold_start(
        self: &Arc<Self>,
        env: &mut EnvState,
        phase: InitPhase,
    ) -> Result<(), PlatformError> {
        let init_ms = self.init(phase).await?;
        if !self.config.initialization.is_snap_start() {
            env.cold_init_ms = Some(init_ms);
            return Ok(());
        }
        self.snapshot().await;
        env.cold_restore_ms = Some(self.restore().await?);
        Ok(())
    }

    /// Runs the init phase: extensions, then the runtime, until everything waits in `/next`.
    pub(crate) async fn init(self: &Arc<Self>, phase: InitPhase) -> Result<f64, PlatformError> {
        let started = Stamp::now();
        let deadline = started.instant + self.config.init_timeout;
        let files = list_extensions(self.config.opt_dir.as_deref());
        let names: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
        let instance_id = new_instance_id(&self.config.function_version);
        let cfg = &self.config;
        let runtime_version_arn =
            format!("arn:aws:lambda:{}::runtime:{}", cfg.region, random_hex(32));
        let epoch = self.update(|st| {
            st.epoch += 1;
            st.registration_open = true;
            st.subscription_open = true;
            st.extension_files = names.clone();
            st.extensions.clear();
            st.runtime = RuntimePhase::Absent;
            st.runtime_waiters.clear();
            st.invokes.clear();
            st.init_error = None;
            st.failure = None;
            st.stopping = None;
            st.processes.retain(|p| !p.exited);
            st.instance_id = instance_id.clone();
            st.runtime_version_arn = runtime_version_arn.clone();
            st.restore_waiter = None;
            st.restore_error = None;
            st.epoch
        });
        self.peak_rss.store(0, std::sync::atomic::Ordering::Relaxed);
        self.hub.begin_init();
        let mut record = self.instance_record(&instance_id, &runtime_version_arn);
        record["initializationType"] = json!(cfg.initialization.as_str());
        record["phase"] = json!(phase.as_str());
        self.hub.emit_platform("platform.initStart", record);
        self.announce(LifecycleEvent::InitStarted { phase });
        let result = self
            .run_init(epoch, deadline, &instance_id, &files, phase)
            .await;
        self.update(|st| st.subscription_open = false);
        self.hub.end_replay();
        let finished = Stamp::now();
        let duration = started.ms_until(&finished);
        match &result {
            Ok(()) => {
                let extensions: Vec<(String, Vec<EventKind>)> = self.read(|st| {
                    st.extensions
                        .iter()
                        .map(|e| (e.name.clone(), e.events.clone()))
                        .collect()
                });
                for (name, events) in extensions {
                    let events: Vec<&str> = events.iter().map(|e| e.as_str()).collect();
                    self.hub.emit_platform(
                        "platform.extension",
                        json!({"name": name, "state": "Ready", "events": events}),
                    );
                }
                self.emit_init(
                    "platform.initReport",
                    phase,
                    Some((Status::Success, None)),
                    Some(duration),
                );
            }
            Err(err) => {
                self.emit_init(
                    "platform.initReport",
                    phase,
                    Some((err.status, Some(&err.error_type))),
                    Some(duration),
                );
            }
        }
        let status = result
            .as_ref()
            .map_or_else(|e| e.status, |_| Status::Success);
        self.announce(LifecycleEvent::InitFinished { status });
        result.map(|()| duration)
    }

    async fn run_init(
        self: &Arc<Self>,
        epoch: u64,
        deadline: Instant,
        instance_id: &str,
        files: &[(String, std::path::PathBuf)],
        phase: InitPhase,
    ) -> Result<(), PlatformError> {
        let timeout_err = || {
            PlatformError::new(
                "Sandbox.Timeout",
                Status::Timeout,
                format!(
                    "Init timed out after {:.2} seconds",
                    self.config.init_timeout.as_secs_f64()
                ),
            )
        };
        let failed = |st: &State| st.init_error.clone().or_else(|| st.failure.clone());
        let renv = runtime_env(self, instance_id);
        let xenv = extension_env(&renv);
        let opt_dir = self
            .config
            .opt_dir
            .clone()
            .unwrap_or_else(|| self.config.task_root.clone());
        for (name, path) in files {
            let spec = Launch {
                role: ProcessRole::Extension,
                name: name.clone(),
                argv: vec![path.display().to_string()],
                env: &xenv,
                cwd: &opt_dir,
            };
            launch(self, epoch, spec).map_err(|e| {
                PlatformError::new(
                    "Extension.LaunchError",
                    Status::Error,
                    format!("Could not launch extension {name}: {e}"),
                )
            })?;
        }
        let names: Vec<&String> = files.iter().map(|(n, _)| n).collect();
        self.wait_for(Some(deadline), |st| {
            if let Some(e) = failed(st) {
                return Some(Err(e));
            }
            names
                .iter()
                .all(|n| st.extensions.iter().any(|e| e.name == **n))
                .then_some(Ok(()))
        })
        .await
        .unwrap_or_else(|| Err(timeout_err()))?;

        let mut argv = self.config.runtime_command.clone();
        if let Some(wrapper) = self.config.function_env.get("AWS_LAMBDA_EXEC_WRAPPER") {
            // Managed runtimes run `$AWS_LAMBDA_EXEC_WRAPPER <runtime command...>`.
            argv.insert(0, wrapper.clone());
        }
        self.update(|st| st.runtime = RuntimePhase::Started);
        let spec = Launch {
            role: ProcessRole::Runtime,
            name: "runtime".to_owned(),
            argv,
            env: &renv,
            cwd: &self.config.task_root,
        };
        if let Err(e) = launch(self, epoch, spec) {
            let err = PlatformError::new(
                "Runtime.InvalidEntrypoint",
                Status::Error,
                format!("Could not launch the runtime: {e}"),
            );
            self.emit_init(
                "platform.initRuntimeDone",
                phase,
                Some((err.status, Some(&err.error_type))),
                None,
            );
            return Err(err);
        }
        let runtime = self
            .wait_for(Some(deadline), |st| {
                if let Some(e) = failed(st) {
                    return Some(Err(e));
                }
                (st.runtime == RuntimePhase::Ready).then_some(Ok(()))
            })
            .await
            .unwrap_or_else(|| Err(timeout_err()));
        match &runtime {
            Ok(()) => self.emit_init(
                "platform.initRuntimeDone",
                phase,
                Some((Status::Success, None)),
                None,
            ),
            Err(e) => self.emit_init(
                "platform.initRuntimeDone",
                phase,
                Some((e.status, Some(&e.error_type))),
                None,
            ),
        }
        runtime?;
        self.wait_for(Some(deadline), |st| {
            if let Some(e) = failed(st) {
                return Some(Err(e));
            }
            st.extensions
                .iter()
                .all(|e| e.phase == ExtensionPhase::Waiting)
                .then_some(Ok(()))
        })
        .await
        .unwrap_or_else(|| Err(timeout_err()))
    }

    /// Runs one invocation end to end; the function's answer goes to `response_tx` as soon as it starts.
    pub(crate) async fn invoke_cycle(
        self: &Arc<Self>,
        env: &mut EnvState,
        req: InvokeRequest,
        response_tx: oneshot::Sender<FunctionResponse>,
    ) -> CycleSummary {
        if let Some(err) = env.pending_init_error.take() {
            let _ = response_tx.send(FunctionResponse::platform_error(&err));
            return CycleSummary {
                status: err.status,
                error_type: Some(err.error_type),
            };
        }
        self.thaw(env);
        // A crash while frozen (or a failed reset) is noticed now: reset before serving.
        if self.read(|st| st.failure.is_some()) {
            self.stop(env, ShutdownReason::Failure).await;
            env.needs_init = Some(InitPhase::Invoke);
        }
        if let Some(phase) = env.needs_init.take() {
            if let Err(err) = self.init_cold_start(env, phase).await {
                self.stop(env, ShutdownReason::Failure).await;
                env.needs_init = Some(InitPhase::Invoke);
                let _ = response_tx.send(FunctionResponse::platform_error(&err));
                return CycleSummary {
                    status: err.status,
                    error_type: Some(err.error_type),
                };
            }
        }
        let init_ms = env.cold_init_ms.take();
        let restore_ms = env.cold_restore_ms.take();
        let cfg = &self.config;
        let started = Stamp::now();
        let deadline = started.instant + cfg.timeout;
        let deadline_ms = epoch_ms(started.wall + cfg.timeout);
        let request_id = req.request_id.clone();
        let span_id = random_hex(8);
        let tracing = tracing_json(req.trace_header.as_deref(), &span_id);
        let mut start = json!({"requestId": request_id.as_str(), "version": cfg.function_version});
        if let Some(t) = &tracing {
            start["tracing"] = t.clone();
        }
        self.hub.emit_platform("platform.start", start);
        self.announce(LifecycleEvent::InvokeStarted {
            request_id: request_id.clone(),
        });

        let mut invoke_event = json!({
            "eventType": "INVOKE",
            "deadlineMs": deadline_ms,
            "requestId": request_id.as_str(),
            "invokedFunctionArn": cfg.function_arn(),
        });
        if let Some(t) = &req.trace_header {
            invoke_event["tracing"] = json!({"type": "X-Amzn-Trace-Id", "value": t});
        }
        let next = NextEvent {
            request_id: request_id.clone(),
            deadline_ms,
            function_arn: cfg.function_arn(),
            trace_header: req.trace_header.clone(),
            client_context: req.client_context,
            cognito_identity: req.cognito_identity,
            tenant_id: req.tenant_id,
            payload: req.payload,
        };
        // INVOKE goes to the extensions before the runtime's /next is released (rapid's doInvoke).
        self.update(|st| {
            for ext in st.extensions.iter_mut().filter(|e| {
                e.events.contains(&EventKind::Invoke) && e.phase != ExtensionPhase::Errored
            }) {
                ext.pending_invoke = Some(request_id.clone());
                ext.deliver(invoke_event.clone());
            }
            st.invokes = vec![InvokeSlot {
                request_id: request_id.clone(),
                response_tx: Some(response_tx),
                first_byte: None,
                response_end: None,
                runtime_done: None,
                produced_bytes: 0,
                function_error: None,
            }];
        });
        tokio::task::yield_now().await;
        self.update(|st| {
            if st.runtime == RuntimePhase::Ready && st.hand_next(next).is_none() {
                st.runtime = RuntimePhase::Invoked;
            } else {
                st.failure.get_or_insert_with(|| {
                    PlatformError::new(
                        "Runtime.ExitError",
                        Status::Error,
                        "The runtime is not waiting for an invocation",
                    )
                });
            }
        });

        let ctx = CycleContext {
            request_id: &request_id,
            started,
            tracing: tracing.as_ref(),
            init_ms,
            restore_ms,
        };
        let runtime_done = self
            .wait_for(Some(deadline), |st| {
                if let Some(f) = st.failure.clone() {
                    return Some(Err(f));
                }
                let inv = st.invokes.first()?;
                inv.runtime_done
                    .map(|done| Ok((done, inv.function_error.clone())))
            })
            .await
            .unwrap_or_else(|| Err(self.timeout_error(&request_id)));
        let (done, function_error) = match runtime_done {
            Ok(v) => v,
            Err(err) => return self.abort(env, &ctx, err, false).await,
        };
        self.emit_runtime_done(
            &ctx,
            function_error
                .as_deref()
                .map_or(Status::Success, |_| Status::Error),
            function_error.as_deref(),
            Some(done),
        );
        self.announce(LifecycleEvent::RuntimeDone {
            request_id: request_id.clone(),
        });

        let extensions_done = self
            .wait_for(Some(deadline), |st| {
                if let Some(f) = st.failure.clone() {
                    return Some(Err(f));
                }
                st.extensions
                    .iter()
                    .filter(|e| {
                        e.events.contains(&EventKind::Invoke) && e.phase != ExtensionPhase::Errored
                    })
                    .all(|e| {
                        e.phase == ExtensionPhase::Waiting
                            && e.pending_invoke.is_none()
                            && e.queued.is_none()
                    })
                    .then(|| Ok(Stamp::now()))
            })
            .await
            .unwrap_or_else(|| Err(self.timeout_error(&request_id)));
        let end = match extensions_done {
            Ok(end) => end,
            Err(err) => return self.abort(env, &ctx, err, true).await,
        };
        let status = if function_error.is_some() {
            Status::Error
        } else {
            Status::Success
        };
        // Freeze first, then emit the report: it can only leave at the next thaw.
        self.hub.set_frozen(true);
        self.emit_report(
            &ctx,
            status,
            function_error.as_deref(),
            &end,
            Some(span("extensionOverhead", &done, &end)),
        );
        self.update(|st| st.invokes.clear());
        if self.config.freeze == FreezeMode::Signals {
            stop_all(self, true);
        }
        env.frozen = true;
        self.announce(LifecycleEvent::Frozen { request_id });
        CycleSummary {
            status,
            error_type: function_error,
        }
    }

    pub(crate) fn timeout_error(&self, request_id: &RequestId) -> PlatformError {
        let secs = self.config.timeout.as_secs_f64();
        PlatformError::new(
            "Sandbox.Timeout",
            Status::Timeout,
            format!(
                "{} {request_id} Task timed out after {secs:.2} seconds",
                iso8601_ms(SystemTime::now())
            ),
        )
    }

    fn emit_runtime_done(
        &self,
        ctx: &CycleContext<'_>,
        status: Status,
        error_type: Option<&str>,
        done: Option<Stamp>,
    ) {
        let done = done.unwrap_or_else(Stamp::now);
        let (first_byte, response_end, produced) = self.read(|st| {
            st.invokes.first().map_or((None, None, 0), |i| {
                (i.first_byte, i.response_end, i.produced_bytes)
            })
        });
        let mut record = json!({
            "requestId": ctx.request_id.as_str(),
            "status": status.as_str(),
            "metrics": {"durationMs": ctx.started.ms_until(&done), "producedBytes": produced},
        });
        if let Some(t) = error_type {
            record["errorType"] = json!(t);
        }
        if let (Some(first), Some(end)) = (first_byte, response_end) {
            record["spans"] = json!([
                span("responseLatency", &ctx.started, &first),
                span("responseDuration", &first, &end),
                span("runtimeOverhead", &end, &done),
            ]);
        }
        if let Some(t) = ctx.tracing {
            record["tracing"] = t.clone();
        }
        self.hub.emit_platform("platform.runtimeDone", record);
    }

    fn emit_report(
        &self,
        ctx: &CycleContext<'_>,
        status: Status,
        error_type: Option<&str>,
        end: &Stamp,
        extension_span: Option<Value>,
    ) {
        let duration = ctx.started.ms_until(end);
        let mut metrics = json!({
            "durationMs": duration,
            "billedDurationMs": duration.ceil() as u64,
            "memorySizeMB": self.config.memory_mb,
            "maxMemoryUsedMB": self.peak_rss_mb(),
        });
        if let Some(init) = ctx.init_ms {
            metrics["initDurationMs"] = json!(init);
        }
        if let Some(restore) = ctx.restore_ms {
            metrics["restoreDurationMs"] = json!(restore);
        }
        let mut record = json!({"requestId": ctx.request_id.as_str(), "status": status.as_str(), "metrics": metrics});
        if let Some(t) = error_type {
            record["errorType"] = json!(t);
        }
        if let Some(s) = extension_span {
            record["spans"] = json!([s]);
        }
        if let Some(t) = ctx.tracing {
            record["tracing"] = t.clone();
        }
        self.hub.emit_platform("platform.report", record);
    }

    /// Ends an invocation that timed out or crashed: telemetry, the caller's error, then a reset.
    async fn abort(
        self: &Arc<Self>,
        env: &mut EnvState,
        ctx: &CycleContext<'_>,
        err: PlatformError,
        runtime_done_emitted: bool,
    ) -> CycleSummary {
        if !runtime_done_emitted {
            self.emit_runtime_done(ctx, err.status, Some(&err.error_type), None);
        }
        let caller = self.update(|st| st.invokes.first_mut().and_then(|i| i.response_tx.take()));
        if let Some(tx) = caller {
            let mut shown = err.clone();
            if err.status != Status::Timeout {
                shown.message = format!("RequestId: {} Error: {}", ctx.request_id, err.message);
            }
            let _ = tx.send(FunctionResponse::platform_error(&shown));
        }
        self.emit_report(ctx, err.status, Some(&err.error_type), &Stamp::now(), None);
        let reason = if err.status == Status::Timeout {
            ShutdownReason::Timeout
        } else {
            ShutdownReason::Failure
        };
        self.stop(env, reason).await;
        env.needs_init = Some(InitPhase::Invoke);
        CycleSummary {
            status: err.status,
            error_type: Some(err.error_type),
        }
    }

    /// Lets processes run and telemetry flow again.
    pub(crate) fn thaw(&self, env: &mut EnvState) {
        if env.frozen {
            if self.config.freeze == FreezeMode::Signals {
                stop_all(self, false);
            }
            env.frozen = false;
            self.announce(LifecycleEvent::Thawed);
        }
        self.hub.set_frozen(false);
    }

    /// Shuts the environment instance down and reports how every process ended.
    pub(crate) async fn stop(
        self: &Arc<Self>,
        env: &mut EnvState,
        reason: ShutdownReason,
    ) -> Vec<ProcessExit> {
        let began = Stamp::now();
        let deadline = began.instant + SHUTDOWN_BUDGET;
        self.announce(LifecycleEvent::ShutdownStarted { reason });
        let (pids, any_extension) = self.update(|st| {
            st.stopping = Some(began.instant);
            st.registration_open = false;
            st.subscription_open = false;
            (
                st.processes.iter().map(|p| p.pid).collect::<Vec<_>>(),
                !st.extensions.is_empty(),
            )
        });
        self.thaw(env);
        let processes = async {
            let runtime_pids: Vec<u32> = self.read(|st| {
                st.live_processes(ProcessRole::Runtime)
                    .map(|p| p.pid)
                    .collect()
            });
            if !runtime_pids.is_empty() {
                // Without extensions rapid kills the runtime outright; with them it gets a SIGTERM first.
                if any_extension {
                    for pid in &runtime_pids {
                        signal_process(self, *pid, libc::SIGTERM);
                    }
                    wait_exited(
                        self,
                        Some(ProcessRole::Runtime),
                        began.instant + RUNTIME_GRACE,
                    )
                    .await;
                }
                for pid in self.read(|st| {
                    st.live_processes(ProcessRole::Runtime)
                        .map(|p| p.pid)
                        .collect::<Vec<_>>()
                }) {
                    signal_process(self, pid, libc::SIGKILL);
                }
                wait_exited(self, Some(ProcessRole::Runtime), Instant::now() + REAP_WAIT).await;
            }
            let shutdown = json!({
                "eventType": "SHUTDOWN",
                "shutdownReason": reason.as_str(),
                "deadlineMs": epoch_ms(began.wall + SHUTDOWN_BUDGET),
            });
            let unsubscribed: Vec<u32> = self.update(|st| {
                let mut keep = Vec::new();
                for ext in st.extensions.iter_mut() {
                    if ext.events.contains(&EventKind::Shutdown)
                        && ext.phase != ExtensionPhase::Errored
                    {
                        ext.deliver(shutdown.clone());
                        keep.push(ext.name.clone());
                    }
                }
                st.live_processes(ProcessRole::Extension)
                    .filter(|p| !keep.contains(&p.name))
                    .map(|p| p.pid)
                    .collect()
            });
            for pid in unsubscribed {
                signal_process(self, pid, libc::SIGKILL);
            }
            wait_exited(self, Some(ProcessRole::Extension), deadline).await;
        };
        // Telemetry keeps flowing (and is flushed) while the extensions wind down.
        tokio::join!(processes, self.hub.flush(deadline));
        for pid in self.read(|st| {
            st.processes
                .iter()
                .filter(|p| !p.exited)
                .map(|p| p.pid)
                .collect::<Vec<_>>()
        }) {
            signal_process(self, pid, libc::SIGKILL);
        }
        wait_exited(self, None, Instant::now() + REAP_WAIT).await;
        self.hub.close_all();
        let exits = self.update(|st| {
            st.extensions.clear();
            st.runtime_waiters.clear();
            st.runtime = RuntimePhase::Absent;
            st.invokes.clear();
            st.failure = None;
            st.exits
                .iter()
                .filter(|e| pids.contains(&e.pid))
                .cloned()
                .collect()
        });
        self.announce(LifecycleEvent::ShutdownFinished { reason });
        exits
    }
}

/// Per-invocation facts the telemetry helpers need.
struct CycleContext<'a> {
    request_id: &'a RequestId,
    started: Stamp,
    tracing: Option<&'a Value>,
    init_ms: Option<f64>,
    restore_ms: Option<f64>,
}
