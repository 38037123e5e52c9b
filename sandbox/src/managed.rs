//! The Lambda Managed Instances invoke cycle. Invocations run side by side: each is handed to the
//! oldest waiting runtime `/next` call and ends when its answer is complete. There are no INVOKE
//! events, no `platform.runtimeDone` and no freeze; `platform.report` carries only `durationMs` and
//! the `responseLatency`/`responseDuration` spans. A crash ends the environment: the next invocation
//! starts a new one.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::clock::{epoch_ms, Stamp};
use crate::core::{Core, FunctionResponse, InvokeSlot, LifecycleEvent, NextEvent, PlatformError};
use crate::ids::{random_hex, RequestId};
use crate::lifecycle::{span, tracing_json, CycleSummary, EnvState, InvokeRequest};
use crate::model::{InitPhase, ShutdownReason, Status};

impl Core {
    /// Makes the environment ready for invocations: serves a pending init error, replaces a crashed
    /// environment, runs a due init. `Some(err)` is the error the invocation gets instead.
    pub(crate) async fn prepare_managed(
        self: &Arc<Self>,
        env: &mut EnvState,
    ) -> Option<PlatformError> {
        if let Some(err) = env.pending_init_error.take() {
            env.needs_init = Some(InitPhase::Init);
            return Some(err);
        }
        if self.read(|st| st.failure.is_some()) {
            self.stop(env, ShutdownReason::Failure).await;
            env.needs_init = Some(InitPhase::Init);
        }
        let phase = env.needs_init.take()?;
        match self.init(phase).await {
            Ok(_) => None,
            Err(err) => {
                self.stop(env, ShutdownReason::Failure).await;
                env.needs_init = Some(InitPhase::Init);
                Some(err)
            }
        }
    }

    /// The environment needs [`Core::prepare_managed`] before it can take an invocation.
    pub(crate) fn managed_needs_preparing(&self, env: &EnvState) -> bool {
        env.needs_init.is_some()
            || env.pending_init_error.is_some()
            || self.read(|st| st.failure.is_some())
    }

    /// Runs one invocation next to the others in flight; its answer goes to `response_tx` as soon
    /// as it starts.
    pub(crate) async fn managed_invoke(
        self: &Arc<Self>,
        req: InvokeRequest,
        response_tx: oneshot::Sender<FunctionResponse>,
    ) -> CycleSummary {
        let cfg = &self.config;
        let max_concurrency = cfg.initialization.max_concurrency().map_or(1, usize::from);
        let submitted = Instant::now();
        let request_id = req.request_id.clone();
        let span_id = random_hex(8);
        let tracing = tracing_json(req.trace_header.as_deref(), &span_id);
        let mut next = Some(NextEvent {
            request_id: request_id.clone(),
            deadline_ms: 0,
            function_arn: cfg.function_arn(),
            trace_header: req.trace_header,
            client_context: req.client_context,
            cognito_identity: req.cognito_identity,
            tenant_id: req.tenant_id,
            payload: req.payload,
        });
        let mut response_tx = Some(response_tx);
        // Every runtime worker may be busy: the invocation waits for a free `/next` and a free
        // concurrency slot, within its timeout.
        let handed = self
            .wait_for(Some(submitted + cfg.timeout), |st| {
                if let Some(f) = st.failure.clone() {
                    return Some(Err(f));
                }
                // At most AWS_LAMBDA_MAX_CONCURRENCY invocations are with the runtime at once.
                let busy = st.invokes.iter().filter(|i| i.response_end.is_none()).count();
                if busy >= max_concurrency {
                    return None;
                }
                let started = Stamp::now();
                let mut event = next.take()?;
                event.deadline_ms = epoch_ms(started.wall + cfg.timeout);
                match st.hand_next(event) {
                    None => {
                        // Emitted under the state lock, so it precedes anything the runtime does.
                        let mut record =
                            json!({"requestId": request_id.as_str(), "version": cfg.function_version});
                        if let Some(t) = &tracing {
                            record["tracing"] = t.clone();
                        }
                        self.hub.emit_platform("platform.start", record);
                        st.invokes.push(InvokeSlot {
                            request_id: request_id.clone(),
                            response_tx: response_tx.take(),
                            first_byte: None,
                            response_end: None,
                            runtime_done: None,
                            produced_bytes: 0,
                            function_error: None,
                        });
                        Some(Ok(started))
                    }
                    Some(back) => {
                        next = Some(back);
                        None
                    }
                }
            })
            .await
            .unwrap_or_else(|| Err(self.timeout_error(&request_id)));
        let started = match handed {
            Ok(started) => started,
            Err(err) => {
                if let Some(tx) = response_tx {
                    let _ = tx.send(FunctionResponse::platform_error(&err));
                }
                return CycleSummary {
                    status: err.status,
                    error_type: Some(err.error_type),
                };
            }
        };
        self.announce(LifecycleEvent::InvokeStarted {
            request_id: request_id.clone(),
        });

        let answered = self
            .wait_for(Some(started.instant + cfg.timeout), |st| {
                if let Some(f) = st.failure.clone() {
                    return Some(Err(f));
                }
                let inv = st.invoke_mut(&request_id)?;
                inv.response_end
                    .map(|_| Ok((inv.first_byte, inv.response_end, inv.function_error.clone())))
            })
            .await
            .unwrap_or_else(|| Err(self.timeout_error(&request_id)));
        let end = Stamp::now();
        let (slot, answered) = self.update(|st| {
            let at = st.invokes.iter().position(|i| i.request_id == request_id);
            (at.map(|at| st.invokes.remove(at)), answered)
        });
        let (status, error_type, spans) = match answered {
            Ok((first, last, function_error)) => {
                let status = function_error
                    .as_ref()
                    .map_or(Status::Success, |_| Status::Error);
                (
                    status,
                    function_error,
                    answer_spans(&started, (first, last)),
                )
            }
            Err(err) => {
                // The caller learns the platform's error unless the function's answer already began.
                if let Some(tx) = slot.and_then(|s| s.response_tx) {
                    let mut shown = err.clone();
                    if err.status != Status::Timeout {
                        shown.message = format!("RequestId: {request_id} Error: {}", err.message);
                    }
                    let _ = tx.send(FunctionResponse::platform_error(&shown));
                }
                (err.status, Some(err.error_type), None)
            }
        };
        self.emit_managed_report(
            &request_id,
            status,
            error_type.as_deref(),
            started.ms_until(&end),
            spans,
            tracing,
        );
        CycleSummary { status, error_type }
    }

    fn emit_managed_report(
        &self,
        request_id: &RequestId,
        status: Status,
        error_type: Option<&str>,
        duration_ms: f64,
        spans: Option<Value>,
        tracing: Option<Value>,
    ) {
        let mut record = json!({
            "requestId": request_id.as_str(),
            "status": status.as_str(),
            "metrics": {"durationMs": duration_ms},
        });
        if let Some(t) = error_type {
            record["errorType"] = json!(t);
        }
        if let Some(s) = spans {
            record["spans"] = s;
        }
        if let Some(t) = tracing {
            record["tracing"] = t;
        }
        self.hub.emit_platform("platform.report", record);
    }
}

/// `responseLatency` (handed over to first byte) and `responseDuration` (first to last byte).
fn answer_spans(started: &Stamp, (first, last): (Option<Stamp>, Option<Stamp>)) -> Option<Value> {
    let (first, last) = (first?, last?);
    Some(json!([
        span("responseLatency", started, &first),
        span("responseDuration", &first, &last),
    ]))
}
