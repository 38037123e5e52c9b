//! What the signals sent to one collector share: its [`Circuit`] (with the jitter of its backoff
//! steps), its pause after a timeout in a background flush ([`TimeoutPause`]), the one probe that
//! may be in flight, the moment a request to it last failed, and its failure log. A collector is an endpoint's scheme and authority ([`collector_of`]): the traces,
//! logs and metrics endpoints of one host and port are one collector; different hosts or ports
//! are different collectors, with circuits of their own.
//!
//! The signals of one flush run concurrently, so one probe per step needs a gate: the first
//! signal whose permit is a probe takes it and probes; the others wait for it to be released,
//! then go on if the probe was answered (the circuit is closed) and stop if it failed (see
//! [`Collector::failed_since`]).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use tokio::time::Instant;

use super::circuit::{Attempt, Circuit, Jitter, Outcome, Permit};
use super::fault_log::FaultLog;
use super::flush::{Occasion, TimeoutPause};

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
    /// After a request to the collector timed out in a background flush, none starts to it
    /// until its end (see `flush`).
    pause: TimeoutPause,
    jitter: Box<dyn Jitter>,
    /// When a request to the collector last failed (a refusal for good is no failure).
    last_failure: Option<Instant>,
}

/// A probe in flight: other signals wait for it while this is held.
pub(crate) type ProbeGate<'a> = tokio::sync::MutexGuard<'a, ()>;

impl Collector {
    /// A collector not yet contacted (closed circuit), its backoff steps drawn from `jitter`.
    pub(crate) fn shared(jitter: Box<dyn Jitter>) -> SharedCollector {
        Arc::new(Self {
            circuit: Mutex::new(CircuitState {
                circuit: Circuit::default(),
                pause: TimeoutPause::default(),
                jitter,
                last_failure: None,
            }),
            probe: tokio::sync::Mutex::new(()),
            faults: Mutex::new(FaultLog::default()),
        })
    }

    /// Whether a request may go at `now`, in a flush on `occasion`: not during the pause, then
    /// as the circuit says.
    pub(crate) fn permit(&self, now: SystemTime, occasion: Occasion) -> Permit {
        let state = self.circuit();
        match state.pause.holds(now, occasion) {
            Some(until) => Permit::WaitUntil(until),
            None => state.circuit.permit(now, occasion),
        }
    }

    /// When a background flush may send again, if not now: at the end of the circuit's step or
    /// of the pause, whichever is later.
    pub(crate) fn blocked_until(&self, now: SystemTime) -> Option<SystemTime> {
        let state = self.circuit();
        let step = state.circuit.blocked_until(now);
        let pause = state.pause.holds(now, Occasion::Background);
        step.max(pause)
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

    /// Takes the `outcome` at `now` of an `attempt` made in a flush on `occasion`; true when it
    /// answered a collector that had failed since its last answer (see [`Circuit::record`]). A
    /// timeout in a background flush starts the pause.
    pub(crate) fn record(
        &self,
        attempt: Attempt,
        outcome: Outcome,
        now: SystemTime,
        occasion: Occasion,
    ) -> bool {
        let mut state = self.circuit();
        if outcome != Outcome::Answered {
            state.last_failure = Some(Instant::now());
        }
        if matches!(
            outcome,
            Outcome::Failed {
                timed_out: true,
                ..
            }
        ) {
            state.pause.timed_out(now, occasion);
        }
        let CircuitState {
            circuit, jitter, ..
        } = &mut *state;
        circuit.record(attempt, outcome, now, jitter.as_mut())
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
