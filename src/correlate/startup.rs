//! What started this execution environment — an init (`platform.initStart` … `initReport`) or a
//! SnapStart restore (`platform.restoreStart` … `restoreReport`) — and whether it is the cold start
//! of the first invocation: only when it happened just before that invocation. A provisioned
//! concurrency init, or any init more than [`MAX_COLD_START_GAP`] before the invocation, is not
//! the invocation's cold start and is not drawn in its trace.

use std::time::{Duration, SystemTime};

use crate::telemetry::{PlatformStatus, TelemetryBody, TelemetryEvent};

/// The longest time from the end of an init or restore to the invocation it counts as the cold
/// start of (on-demand inits must finish within 10 s; an environment idle longer was initialised
/// ahead of demand).
pub const MAX_COLD_START_GAP: Duration = Duration::from_secs(10);

/// The `initializationType` of an environment initialised ahead of demand.
const PROVISIONED_CONCURRENCY: &str = "provisioned-concurrency";
/// The `initializationType` of an environment that was snapshotted after its init: it runs after a
/// restore.
const SNAP_START: &str = "snap-start";

/// What is known about the init that preceded an invocation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InitSummary {
    /// `platform.initStart` time.
    pub start: Option<SystemTime>,
    /// `platform.initRuntimeDone` time.
    pub runtime_done: Option<SystemTime>,
    /// `initializationType` (`on-demand`, `provisioned-concurrency`, ...).
    pub initialization_type: Option<String>,
    /// `phase` (`init`, or `invoke` for a suppressed init).
    pub phase: Option<String>,
    /// Init status.
    pub status: Option<PlatformStatus>,
    /// Init error type.
    pub error_type: Option<String>,
    /// `platform.initReport` duration.
    pub duration_ms: Option<f64>,
}

/// What is known about the SnapStart restore that preceded an invocation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RestoreSummary {
    /// `platform.restoreStart` time.
    pub start: Option<SystemTime>,
    /// `platform.restoreRuntimeDone` time.
    pub runtime_done: Option<SystemTime>,
    /// Restore status.
    pub status: Option<PlatformStatus>,
    /// Restore error type.
    pub error_type: Option<String>,
    /// `platform.restoreReport` duration.
    pub duration_ms: Option<f64>,
}

/// How the first invocation of this process relates to the environment's start.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColdStart {
    /// An init or a restore happened just before the invocation (`faas.coldstart`).
    pub cold: bool,
    /// The init to draw in the invocation's trace.
    pub init: Option<InitSummary>,
    /// The restore to draw in the invocation's trace.
    pub restore: Option<RestoreSummary>,
}

/// The environment's start, as the Telemetry API told it.
#[derive(Debug, Default)]
pub(super) struct Startup {
    init: InitSummary,
    restore: RestoreSummary,
    /// `platform.initReport` arrived for the init in `init`.
    init_reported: bool,
    /// `platform.restoreReport` arrived for the restore in `restore`.
    restore_reported: bool,
}

impl Startup {
    /// Takes in `event` when it is about the init or a restore; false for any other event.
    pub(super) fn observe(&mut self, event: &TelemetryEvent) -> bool {
        let time = event.time;
        match &event.body {
            TelemetryBody::InitStart {
                initialization_type,
                phase,
                ..
            } => {
                self.init = InitSummary {
                    start: Some(time),
                    initialization_type: initialization_type.clone(),
                    phase: phase.clone(),
                    ..InitSummary::default()
                };
                self.init_reported = false;
            }
            TelemetryBody::InitRuntimeDone {
                status, error_type, ..
            } => {
                self.init.runtime_done = Some(time);
                self.init.status = status.clone();
                self.init.error_type.clone_from(error_type);
            }
            TelemetryBody::InitReport {
                status,
                error_type,
                duration_ms,
                ..
            } => {
                self.init.duration_ms = *duration_ms;
                self.init_reported = true;
                if self.init.status.is_none() {
                    self.init.status = status.clone();
                    self.init.error_type.clone_from(error_type);
                }
            }
            TelemetryBody::RestoreStart { .. } => {
                self.restore = RestoreSummary {
                    start: Some(time),
                    ..RestoreSummary::default()
                };
                self.restore_reported = false;
            }
            TelemetryBody::RestoreRuntimeDone { status, error_type } => {
                self.restore.runtime_done = Some(time);
                self.restore.status = status.clone();
                self.restore.error_type.clone_from(error_type);
            }
            TelemetryBody::RestoreReport {
                status,
                error_type,
                duration_ms,
            } => {
                self.restore.duration_ms = *duration_ms;
                self.restore_reported = true;
                if self.restore.status.is_none() {
                    self.restore.status = status.clone();
                    self.restore.error_type.clone_from(error_type);
                }
            }
            _ => return false,
        }
        true
    }

    /// Whether the event that ends the environment's start has arrived: `platform.initReport`, or,
    /// in a snapshotted environment, `restoreReport` — the last of the start's events, and the one
    /// with its duration (the runtime's end of init or restore comes just before it, often in the
    /// same batch). The first invocation waits (bounded) for it, so that its trace shows its whole
    /// cold start.
    pub(super) fn known(&self) -> bool {
        if self.init.initialization_type.as_deref() == Some(SNAP_START) {
            self.restore_reported
        } else {
            self.init_reported || self.restore_reported
        }
    }

    /// The cold start of this process's first invocation, which began at `invocation_start` (when
    /// known). Without any word from the platform the first invocation counts as cold: this
    /// process was started by an init.
    pub(super) fn cold_start(&self, invocation_start: Option<SystemTime>) -> ColdStart {
        let just_before = |start: Option<SystemTime>, end: Option<SystemTime>| {
            end.or(start).is_some_and(|t| {
                invocation_start.is_none_or(|begun| {
                    begun
                        .duration_since(t)
                        .map_or(true, |gap| gap <= MAX_COLD_START_GAP)
                })
            })
        };
        let restore = &self.restore;
        if restore.start.is_some() {
            let cold = just_before(restore.start, restore.runtime_done);
            return ColdStart {
                cold,
                init: None,
                restore: cold.then(|| restore.clone()),
            };
        }
        let init = &self.init;
        if init.start.is_none() && init.runtime_done.is_none() {
            return ColdStart {
                cold: true,
                ..ColdStart::default()
            };
        }
        let ahead_of_demand = matches!(
            init.initialization_type.as_deref(),
            Some(PROVISIONED_CONCURRENCY | SNAP_START)
        );
        let cold = !ahead_of_demand && just_before(init.start, init.runtime_done);
        ColdStart {
            cold,
            init: cold.then(|| init.clone()),
            restore: None,
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    fn t(ms: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_000 + ms)
    }

    /// `platform.initStart` of an `kind` init at the tests' `t(at)`.
    pub(in crate::correlate) fn init_start(at: u64, kind: &str) -> TelemetryEvent {
        TelemetryEvent {
            time: t(at),
            body: TelemetryBody::InitStart {
                initialization_type: Some(kind.into()),
                phase: Some("init".into()),
                function_name: None,
                function_version: None,
                instance_id: None,
                instance_max_memory: None,
                runtime_version: None,
            },
        }
    }

    /// A successful `platform.initRuntimeDone` at the tests' `t(at)`.
    pub(in crate::correlate) fn init_done(at: u64) -> TelemetryEvent {
        TelemetryEvent {
            time: t(at),
            body: TelemetryBody::InitRuntimeDone {
                initialization_type: None,
                phase: None,
                status: Some(PlatformStatus::Success),
                error_type: None,
                spans: vec![],
            },
        }
    }

    /// A successful `platform.initReport` of `duration_ms` at the tests' `t(at)`.
    pub(in crate::correlate) fn init_report(at: u64, duration_ms: f64) -> TelemetryEvent {
        TelemetryEvent {
            time: t(at),
            body: TelemetryBody::InitReport {
                initialization_type: None,
                phase: None,
                status: Some(PlatformStatus::Success),
                error_type: None,
                duration_ms: Some(duration_ms),
                spans: vec![],
            },
        }
    }

    fn started(events: &[TelemetryEvent]) -> Startup {
        let mut startup = Startup::default();
        for event in events {
            assert!(startup.observe(event));
        }
        startup
    }

    #[test]
    fn an_on_demand_init_just_before_is_the_cold_start() {
        let mut startup = started(&[init_start(0, "on-demand"), init_done(80)]);
        assert!(
            !startup.known(),
            "its report, with the duration, is still to come"
        );
        assert!(startup.observe(&init_report(82, 82.0)));
        assert!(startup.known());
        let cold = startup.cold_start(Some(t(100)));
        assert!(cold.cold);
        let init = cold.init.expect("drawn");
        assert_eq!((init.start, init.runtime_done), (Some(t(0)), Some(t(80))));
        assert_eq!(init.duration_ms, Some(82.0));
        assert_eq!(init.initialization_type.as_deref(), Some("on-demand"));
        assert_eq!(cold.restore, None);
    }

    #[test]
    fn provisioned_concurrency_is_never_the_cold_start() {
        let startup = started(&[init_start(0, "provisioned-concurrency"), init_done(80)]);
        let cold = startup.cold_start(Some(t(100)));
        assert_eq!(cold, ColdStart::default());
    }

    #[test]
    fn an_init_long_before_the_invocation_is_not_its_cold_start() {
        let startup = started(&[init_start(0, "on-demand"), init_done(80)]);
        let gap = MAX_COLD_START_GAP.as_millis() as u64;
        assert!(startup.cold_start(Some(t(80 + gap))).cold, "at the limit");
        assert_eq!(startup.cold_start(Some(t(81 + gap))), ColdStart::default());
    }

    #[test]
    fn a_snapstart_restore_is_the_cold_start_and_its_old_init_is_not() {
        let mut startup = started(&[init_start(0, "snap-start"), init_done(80)]);
        assert!(
            !startup.known(),
            "a snapshotted environment waits for its restore"
        );
        let far = 3_600_000;
        for event in [
            TelemetryEvent {
                time: t(far),
                body: TelemetryBody::RestoreStart { instance_id: None },
            },
            TelemetryEvent {
                time: t(far + 300),
                body: TelemetryBody::RestoreRuntimeDone {
                    status: Some(PlatformStatus::Success),
                    error_type: None,
                },
            },
        ] {
            assert!(startup.observe(&event));
        }
        assert!(!startup.known(), "the restore's report is still to come");
        let report = TelemetryEvent {
            time: t(far + 310),
            body: TelemetryBody::RestoreReport {
                status: Some(PlatformStatus::Success),
                error_type: None,
                duration_ms: Some(310.0),
            },
        };
        assert!(startup.observe(&report));
        assert!(startup.known());
        let cold = startup.cold_start(Some(t(far + 320)));
        assert!(cold.cold);
        assert_eq!(cold.init, None, "the init ran when the snapshot was taken");
        assert_eq!(
            cold.restore,
            Some(RestoreSummary {
                start: Some(t(far)),
                runtime_done: Some(t(far + 300)),
                status: Some(PlatformStatus::Success),
                error_type: None,
                duration_ms: Some(310.0),
            })
        );
    }

    #[test]
    fn without_any_word_from_the_platform_the_first_invocation_is_cold() {
        let startup = Startup::default();
        assert!(!startup.known());
        assert_eq!(
            startup.cold_start(Some(t(0))),
            ColdStart {
                cold: true,
                ..ColdStart::default()
            }
        );
    }

    #[test]
    fn other_events_are_not_taken() {
        let mut startup = Startup::default();
        let log = TelemetryEvent {
            time: t(0),
            body: TelemetryBody::LogsDropped {
                dropped_bytes: None,
                dropped_records: None,
                reason: None,
            },
        };
        assert!(!startup.observe(&log));
    }
}
