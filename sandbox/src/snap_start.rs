//! Lambda SnapStart: after the one init every process is frozen into the "snapshot"; the restore
//! thaws them under a fresh instance id, releases the runtime's `/runtime/restore/next`, waits for
//! its after-restore hooks to end in `/next`, and reports it with `platform.restore*` telemetry.
//! Extensions keep their processes, ids and subscriptions across the snapshot.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::clock::Stamp;
use crate::core::{Core, LifecycleEvent, PlatformError, RuntimePhase};
use crate::model::Status;
use crate::process::{new_instance_id, stop_all};

/// How long the snapshot stays frozen before it is restored.
pub const SNAPSHOT_GAP: Duration = Duration::from_millis(50);

/// Limit for the runtime's after-restore hooks, from the restore until it is back in `/next`
/// (Lambda's 10 s for runtime hooks).
pub const RESTORE_TIMEOUT: Duration = Duration::from_secs(10);

impl Core {
    /// Freezes everything for [`SNAPSHOT_GAP`]: telemetry delivery is held and every process group
    /// is stopped.
    pub(crate) async fn snapshot(&self) {
        self.hub.set_frozen(true);
        stop_all(self, true);
        self.announce(LifecycleEvent::Snapshotted);
        tokio::time::sleep(SNAPSHOT_GAP).await;
    }

    /// Resumes the snapshot as a new execution environment; `Ok` is the restore's duration.
    pub(crate) async fn restore(self: &Arc<Self>) -> Result<f64, PlatformError> {
        let started = Stamp::now();
        let instance_id = new_instance_id(&self.config.function_version);
        let runtime_version_arn = self.update(|st| {
            st.instance_id = instance_id.clone();
            st.runtime_version_arn.clone()
        });
        stop_all(self, false);
        self.hub.emit_platform(
            "platform.restoreStart",
            self.instance_record(&instance_id, &runtime_version_arn),
        );
        self.hub.set_frozen(false);
        self.update(|st| {
            if let Some(waiter) = st.restore_waiter.take() {
                // A runtime that went away is noticed as a failure below.
                let _ = waiter.send(());
            }
        });
        let hooks = self
            .wait_for(Some(started.instant + RESTORE_TIMEOUT), |st| {
                if let Some(e) = st.restore_error.clone().or_else(|| st.failure.clone()) {
                    return Some(Err(e));
                }
                (st.runtime == RuntimePhase::Ready && st.runtime_waiting()).then_some(Ok(()))
            })
            .await
            .unwrap_or_else(|| {
                Err(PlatformError::new(
                    "Sandbox.Timeout",
                    Status::Timeout,
                    format!(
                        "Restore timed out after {:.2} seconds",
                        RESTORE_TIMEOUT.as_secs_f64()
                    ),
                ))
            });
        let (status, error_type) = match &hooks {
            Ok(()) => (Status::Success, None),
            Err(e) => (e.status, Some(e.error_type.as_str())),
        };
        let mut done = json!({"status": status.as_str()});
        if let Some(t) = error_type {
            done["errorType"] = json!(t);
        }
        self.hub
            .emit_platform("platform.restoreRuntimeDone", done.clone());
        let duration = started.ms_until(&Stamp::now());
        let mut report = done;
        report["metrics"] = json!({"durationMs": duration});
        self.hub.emit_platform("platform.restoreReport", report);
        self.announce(LifecycleEvent::Restored { status });
        hooks.map(|()| duration)
    }
}
