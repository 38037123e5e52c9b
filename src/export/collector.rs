//! What the signals sent to one collector share: its [`Circuit`] (with the jitter of its backoff
//! steps), its pause after a timeout in a background flush ([`TimeoutPause`]), the one probe that
//! may be in flight, the moment a request to it last failed, and its failure log. A collector is
//! an endpoint's scheme and authority ([`collector_of`]): the traces, logs and metrics endpoints
//! of one host and port are one collector; different hosts or ports are different collectors,
//! with circuits of their own.
//!
//! What is the collector's and what is one signal's: no answer (a refused connection, a reset,
//! a timeout) and a `Retry-After` are the collector's, and count on its shared circuit. An answer
//! that refuses one signal's request for now without `Retry-After` (a 503 on `/v1/logs` while
//! `/v1/traces` answers 200) is about that signal's path: it counts on the signal's own circuit
//! (same rules, [`FAILURES_TO_OPEN`](super::FAILURES_TO_OPEN), same backoff steps), so a path that
//! keeps failing backs off on its own without holding the other signals back, and another
//! signal's deliveries neither reset its count nor announce a recovery. A request goes when both
//! circuits let it.
//!
//! The signals of one flush run concurrently, so one probe of the collector per step needs a
//! gate: the first signal whose permit is the collector's probe takes it and probes; the others
//! wait for it to be released, then go on if the probe was answered (the circuit is closed) and
//! stop if it failed (see [`Collector::failed_since`]). A probe of one signal's own circuit
//! takes no gate: it tells the others nothing.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use tokio::time::Instant;

use super::circuit::{Attempt, Circuit, Jitter, Outcome, Permit};
use super::fault_log::FaultLog;
use super::flush::{Occasion, TimeoutPause};
use crate::settings::Signal;

/// One collector's shared state, held by every signal's outbox that sends to it.
pub(crate) type SharedCollector = Arc<Collector>;

/// The state the signals sent to one collector share; see the module documentation.
pub(crate) struct Collector {
    circuit: Mutex<CircuitState>,
    /// Held by the signal probing the collector, for the probe's time.
    probe: tokio::sync::Mutex<()>,
    faults: Mutex<FaultLog>,
}

/// The circuit and what it is updated with.
struct CircuitState {
    circuit: Circuit,
    /// Each signal's own circuit, for answers refusing its path (see the module documentation).
    paths: [Circuit; Signal::ALL.len()],
    /// After a request to the collector timed out in a background flush, none starts to it
    /// until its end (see `flush`).
    pause: TimeoutPause,
    jitter: Box<dyn Jitter>,
    /// When a request to the collector last failed (a refusal for good is no failure).
    last_failure: Option<Instant>,
    /// The collector answered again after failing, but only with a path's refusal: the next
    /// delivery says it is back.
    recovery_unannounced: bool,
}

/// Which permit a request goes under on each of the two circuits it answers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Attempts {
    /// On the collector's shared circuit: a probe takes the gate (one per step per collector).
    pub(crate) collector: Attempt,
    /// On the signal's own circuit.
    pub(crate) path: Attempt,
    /// A probe now has a whole request's time (see [`Circuit::patient_probe`]).
    pub(crate) patient: bool,
}

impl Attempts {
    /// Either circuit probes, impatiently: the request's time is capped at a probe's.
    pub(crate) fn capped(self) -> bool {
        (self.collector == Attempt::Probe || self.path == Attempt::Probe) && !self.patient
    }
}

/// What [`Collector::permit`] allows now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Go {
    /// Send, under these permits.
    Now(Attempts),
    /// Send nothing before this moment.
    WaitUntil(SystemTime),
}

/// A probe in flight: other signals wait for it while this is held.
pub(crate) type ProbeGate<'a> = tokio::sync::MutexGuard<'a, ()>;

impl Collector {
    /// A collector not yet contacted (closed circuit), its backoff steps drawn from `jitter`.
    pub(crate) fn shared(jitter: Box<dyn Jitter>) -> SharedCollector {
        Arc::new(Self {
            circuit: Mutex::new(CircuitState {
                circuit: Circuit::default(),
                paths: Default::default(),
                pause: TimeoutPause::default(),
                jitter,
                last_failure: None,
                recovery_unannounced: false,
            }),
            probe: tokio::sync::Mutex::new(()),
            faults: Mutex::new(FaultLog::default()),
        })
    }

    /// Whether `signal`'s request may go at `now`, in a flush on `occasion`: not during the
    /// pause, and only when both the collector's circuit and the signal's own let it (the later
    /// of their waits otherwise).
    pub(crate) fn permit(&self, signal: Signal, now: SystemTime, occasion: Occasion) -> Go {
        let state = self.circuit();
        if let Some(until) = state.pause.holds(now, occasion) {
            return Go::WaitUntil(until);
        }
        let attempt = |permit| match permit {
            Permit::Send => Ok(Attempt::Ordinary),
            Permit::Probe => Ok(Attempt::Probe),
            Permit::WaitUntil(until) => Err(until),
        };
        let collector = attempt(state.circuit.permit(now, occasion));
        let path = attempt(state.paths[slot(signal)].permit(now, occasion));
        match (collector, path) {
            (Ok(collector), Ok(path)) => Go::Now(Attempts {
                collector,
                path,
                patient: state.circuit.patient_probe(occasion),
            }),
            (Err(until), Ok(_)) | (Ok(_), Err(until)) => Go::WaitUntil(until),
            (Err(a), Err(b)) => Go::WaitUntil(a.max(b)),
        }
    }

    /// When a background flush may send `signal` again, if not now: at the end of the pause, of
    /// the collector's step or of the signal's own step, whichever is latest.
    pub(crate) fn blocked_until(&self, signal: Signal, now: SystemTime) -> Option<SystemTime> {
        let state = self.circuit();
        let step = state.circuit.blocked_until(now);
        let path = state.paths[slot(signal)].blocked_until(now);
        let pause = state.pause.holds(now, Occasion::Background);
        step.max(path).max(pause)
    }

    /// Whether a request to the collector failed at or after `started` (the start of the current
    /// flush): then no signal starts another one in that flush.
    pub(crate) fn failed_since(&self, started: Instant) -> bool {
        self.circuit()
            .last_failure
            .is_some_and(|failed| failed >= started)
    }

    /// The probe gate, unless another signal holds it (probes now).
    pub(crate) fn try_probe(&self) -> Option<ProbeGate<'_>> {
        self.probe.try_lock().ok()
    }

    /// Waits until the signal probing now has its outcome recorded.
    pub(crate) async fn probe_done(&self) {
        drop(self.probe.lock().await);
    }

    /// Takes the `outcome` at `now` of `signal`'s request sent under `attempts` in a flush on
    /// `occasion`; true when it delivered after failures of the collector or of the signal's path
    /// since their last delivery (see [`Circuit::record`]). A timeout in a background flush
    /// starts the pause.
    pub(crate) fn record(
        &self,
        signal: Signal,
        attempts: Attempts,
        outcome: Outcome,
        now: SystemTime,
        occasion: Occasion,
    ) -> bool {
        let mut state = self.circuit();
        let CircuitState {
            circuit,
            paths,
            pause,
            jitter,
            last_failure,
            recovery_unannounced,
        } = &mut *state;
        let path = &mut paths[slot(signal)];
        match outcome {
            Outcome::Answered => {
                let collector = circuit.record(attempts.collector, outcome, now, jitter.as_mut());
                let path = path.record(attempts.path, outcome, now, jitter.as_mut());
                collector || path || std::mem::take(recovery_unannounced)
            }
            Outcome::Refused => {
                // The collector answered: it is up, whatever this path says. Its recovery is
                // announced by the first delivery, whichever signal makes it.
                *recovery_unannounced |=
                    circuit.record(attempts.collector, Outcome::Answered, now, jitter.as_mut());
                path.record(attempts.path, outcome, now, jitter.as_mut());
                false
            }
            Outcome::NotListening | Outcome::Failed { .. } => {
                *last_failure = Some(Instant::now());
                if matches!(
                    outcome,
                    Outcome::Failed {
                        timed_out: true,
                        ..
                    }
                ) {
                    pause.timed_out(now, occasion);
                }
                circuit.record(attempts.collector, outcome, now, jitter.as_mut())
            }
        }
    }

    /// The collector's failure log; never held across an await.
    pub(crate) fn faults(&self) -> MutexGuard<'_, FaultLog> {
        // A panic while it was held costs at worst a miscounted line, never the export.
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The circuit; never held across an await.
    fn circuit(&self) -> MutexGuard<'_, CircuitState> {
        self.circuit.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `signal`'s place in [`CircuitState::paths`].
fn slot(signal: Signal) -> usize {
    match signal {
        Signal::Traces => 0,
        Signal::Metrics => 1,
        Signal::Logs => 2,
    }
}

/// The collector an endpoint URL names: its scheme and authority, without the signal's path.
pub(crate) fn collector_of(endpoint: &str) -> String {
    match endpoint.parse::<http::Uri>() {
        Ok(uri) => match (uri.scheme_str(), uri.authority()) {
            (Some(scheme), Some(authority)) => format!("{scheme}://{authority}"),
            _ => endpoint.to_owned(),
        },
        Err(_) => endpoint.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::collector_of;

    #[test]
    fn the_signals_of_one_collector_share_it() {
        assert_eq!(
            collector_of("http://127.0.0.1:4318/v1/traces"),
            collector_of("http://127.0.0.1:4318/v1/logs")
        );
        assert_ne!(
            collector_of("http://127.0.0.1:4318/v1/traces"),
            collector_of("http://127.0.0.1:4319/v1/traces"),
            "another port is another collector"
        );
        assert_eq!(
            collector_of("https://logs.eu-west-1.amazonaws.com/v1/logs"),
            "https://logs.eu-west-1.amazonaws.com"
        );
        assert_ne!(
            collector_of("https://xray.eu-west-1.amazonaws.com/v1/traces"),
            collector_of("https://logs.eu-west-1.amazonaws.com/v1/logs")
        );
        assert_eq!(collector_of("not a url"), "not a url");
    }
}
