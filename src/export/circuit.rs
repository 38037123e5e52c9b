//! A circuit: whether the next request may go, and how long to back off after failures. Pure:
//! time is passed in, jitter comes from an injected [`Jitter`]. The signals sent to one collector
//! (one scheme, host and port) share one circuit for what is the collector's (no answer,
//! `Retry-After`): its state, failure count, backoff step and `Retry-After`; each signal also has
//! a circuit of its own, with the same rules, for answers refusing its path (see the `collector`
//! module).
//!
//! - **Closed** (healthy): every flush sends. [`FAILURES_TO_OPEN`] failures in a row, one
//!   timeout, or one `Retry-After` open it.
//! - **Open**: no request, except one probe once the current step has passed. The first probe
//!   may go at the next flush (or when `Retry-After` says); after each failed probe the step is
//!   drawn with full jitter from `[0, min(BACKOFF_CAP, BACKOFF_BASE × 2^(failed probes − 1))]`,
//!   and never ends before a `Retry-After`. A probe is an ordinary request (the head batch of
//!   the first signal with queued items in the flush) whose time is capped at
//!   [`PROBE_TIMEOUT`], so a hanging collector costs one short probe per step, not the whole
//!   flush budget on every invocation. Every [`PATIENT_PROBE_EVERY`]th probe of an outage, and
//!   every probe at SHUTDOWN, is patient instead: it has a whole request's time (within the
//!   flush's budget), so a collector that is up but slower than a probe (a remote one, connecting
//!   anew) is not shut out for good by one timeout.
//! - **One probe per step per collector.** The other signals wait for the probe's outcome: if
//!   it is answered, they go in the same flush (within its budget); if it fails, they make no
//!   request. More generally, once a request to a collector failed in a flush, no signal starts
//!   another to it in that flush. A `Retry-After` in any signal's answer holds every signal back.
//!   A request that was sent while the circuit was closed and ends after another signal's
//!   failure opened it leaves the circuit open, answered or not, and counts as no failed probe
//!   (only its `Retry-After` is taken): the probe decides.
//! - **Nothing listening** (the connection was refused: no request reached a collector, nothing
//!   went on the wire, the attempt costs one refused connect): a flush that precedes a freeze
//!   ([`Occasion::BeforeFreeze`]) probes anyway. A frozen sandbox runs no timer, so waiting for
//!   the step would keep a recovered collector's items until some later invocation; background
//!   flushes keep to the steps.
//! - **SHUTDOWN** ([`Occasion::Shutdown`]): every open circuit is probed once, whatever its step
//!   or `Retry-After`: nothing is left after it.
//! - A delivered request, or an answer that refuses one batch for good (a 400: that batch is the
//!   problem, not the collector, which is up), closes the circuit and resets the backoff; such a
//!   refusal never opens it.
//!
//! What keeps one invocation from paying two timeouts to one collector across two flushes (a
//! background flush and the one before `/event/next`) is that collector's pause after a timeout in
//! a background flush (`flush`'s [`TIMEOUT_PAUSE`](super::TIMEOUT_PAUSE)), not the circuit: a
//! timeout opens it with the first probe due at once, and a failed probe's step may be nearly
//! zero, so the circuit alone would let the second flush probe again.

use std::time::{Duration, SystemTime};

use super::flush::Occasion;

/// Failures in a row (none a timeout) that open the circuit.
pub const FAILURES_TO_OPEN: u32 = 3;
/// The first backoff step's upper bound after a failed probe.
pub const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// The largest backoff step: how long at most a recovered collector waits for the next probe
/// (a refused connection costs microseconds, a hanging collector one [`PROBE_TIMEOUT`] per step).
pub const BACKOFF_CAP: Duration = Duration::from_secs(5);
/// The longest a probe may take (less when the flush has less time left), unless it is patient.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(250);
/// Of the probes of one outage, every this many is patient (the 4th, 8th, …): a hanging
/// collector then costs one request's time (at most the flush budget) once per this many steps,
/// and a collector answering in more than [`PROBE_TIMEOUT`] gets through within that many steps.
pub const PATIENT_PROBE_EVERY: u32 = 4;

/// Where backoff steps get their randomness (see [`Exporter::with_jitter`](super::Exporter::with_jitter)).
pub trait Jitter: Send {
    /// A duration in `[0, ceiling]`.
    fn pick(&mut self, ceiling: Duration) -> Duration;
}

/// Uniform jitter from the thread's random generator.
#[derive(Debug, Default)]
pub(crate) struct RandomJitter;

impl Jitter for RandomJitter {
    fn pick(&mut self, ceiling: Duration) -> Duration {
        ceiling.mul_f64(rand::random::<f64>())
    }
}

/// What [`Circuit::permit`] allows now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Permit {
    /// Send as usual.
    Send,
    /// Send one probe, within [`PROBE_TIMEOUT`].
    Probe,
    /// Send nothing before this moment.
    WaitUntil(SystemTime),
}

/// Which permit an attempt was sent under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// An ordinary request ([`Permit::Send`]): the circuit was closed when it started.
    Ordinary,
    /// The probe of an open circuit ([`Permit::Probe`]).
    Probe,
}

/// What an attempt's outcome tells the circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The endpoint answered and took (or refused for good) the request.
    Answered,
    /// The connection was refused: nothing listens at the endpoint.
    NotListening,
    /// The endpoint answered, refusing the request for now (a 5xx, 408, 429, 401 or 403, or a
    /// retryable gRPC status) without `Retry-After`: about this signal's path, not the
    /// collector, which is up (see the `collector` module).
    Refused,
    /// It failed: `timed_out` when no answer came in time; `not_before` from `Retry-After`.
    Failed {
        /// No answer came in time.
        timed_out: bool,
        /// The collector's `Retry-After`, as a moment.
        not_before: Option<SystemTime>,
    },
}

/// One collector's circuit; see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Circuit {
    state: State,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        failed_probes: u32,
        next_probe: SystemTime,
        /// The last failure was a refused connection.
        not_listening: bool,
    },
}

impl Default for Circuit {
    fn default() -> Self {
        Self {
            state: State::Closed { failures: 0 },
        }
    }
}

impl Circuit {
    /// Whether a request may go at `now`, in a flush on `occasion`.
    pub(crate) fn permit(&self, now: SystemTime, occasion: Occasion) -> Permit {
        match self.state {
            State::Closed { .. } => Permit::Send,
            State::Open { next_probe, .. } if now >= next_probe => Permit::Probe,
            State::Open { .. } if occasion == Occasion::Shutdown => Permit::Probe,
            State::Open {
                not_listening: true,
                ..
            } if occasion == Occasion::BeforeFreeze => Permit::Probe,
            State::Open { next_probe, .. } => Permit::WaitUntil(next_probe),
        }
    }

    /// Whether a probe sent now, in a flush on `occasion`, has a whole request's time rather than
    /// [`PROBE_TIMEOUT`]: at SHUTDOWN, the last chance, and for every [`PATIENT_PROBE_EVERY`]th
    /// probe of an outage.
    pub(crate) fn patient_probe(&self, occasion: Occasion) -> bool {
        occasion == Occasion::Shutdown
            || matches!(
                self.state,
                State::Open { failed_probes, .. }
                    if failed_probes % PATIENT_PROBE_EVERY == PATIENT_PROBE_EVERY - 1
            )
    }

    /// Whether the circuit is open (the tests' view of its state).
    #[cfg(test)]
    fn is_open(&self) -> bool {
        matches!(self.state, State::Open { .. })
    }

    /// When a background flush may send again, if not now.
    pub(crate) fn blocked_until(&self, now: SystemTime) -> Option<SystemTime> {
        match self.permit(now, Occasion::Background) {
            Permit::WaitUntil(at) => Some(at),
            Permit::Send | Permit::Probe => None,
        }
    }

    /// Takes the `outcome` at `now` of an `attempt`; true when it answered a collector that had
    /// failed since its last answer (a recovery, whether the circuit had opened or not).
    pub(crate) fn record(
        &mut self,
        attempt: Attempt,
        outcome: Outcome,
        now: SystemTime,
        jitter: &mut dyn Jitter,
    ) -> bool {
        let late = attempt == Attempt::Ordinary && matches!(self.state, State::Open { .. });
        let (timed_out, not_before) = match outcome {
            // The probe decides: a `Retry-After` from another signal still holds.
            Outcome::Answered if late => return false,
            Outcome::Answered => {
                let recovered = !matches!(self.state, State::Closed { failures: 0 });
                self.state = State::Closed { failures: 0 };
                return recovered;
            }
            Outcome::NotListening | Outcome::Refused => (false, None),
            Outcome::Failed {
                timed_out,
                not_before,
            } => (timed_out, not_before),
        };
        let not_listening = outcome == Outcome::NotListening;
        self.state = match self.state {
            State::Closed { failures } => {
                let failures = failures + 1;
                if timed_out || not_before.is_some() || failures >= FAILURES_TO_OPEN {
                    State::Open {
                        failed_probes: 0,
                        next_probe: not_before.unwrap_or(now).max(now),
                        not_listening,
                    }
                } else {
                    State::Closed { failures }
                }
            }
            State::Open {
                failed_probes,
                next_probe,
                not_listening: was_not_listening,
            } if late => {
                // Sent before another signal's failure opened the circuit: no failed probe.
                State::Open {
                    failed_probes,
                    next_probe: next_probe.max(not_before.unwrap_or(next_probe)),
                    not_listening: was_not_listening,
                }
            }
            State::Open { failed_probes, .. } => {
                let failed_probes = failed_probes + 1;
                let step = jitter.pick(step_ceiling(failed_probes));
                State::Open {
                    failed_probes,
                    next_probe: (now + step).max(not_before.unwrap_or(now)),
                    not_listening,
                }
            }
        };
        false
    }
}

/// `min(BACKOFF_CAP, BACKOFF_BASE × 2^(failed_probes − 1))`.
fn step_ceiling(failed_probes: u32) -> Duration {
    let doublings = failed_probes.saturating_sub(1).min(16);
    BACKOFF_BASE.saturating_mul(1 << doublings).min(BACKOFF_CAP)
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    /// Always the ceiling's given fraction.
    struct Fraction(f64);

    impl Jitter for Fraction {
        fn pick(&mut self, ceiling: Duration) -> Duration {
            ceiling.mul_f64(self.0)
        }
    }

    fn t(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(1_700_000_000_000 + ms)
    }

    const FAILED: Outcome = Outcome::Failed {
        timed_out: false,
        not_before: None,
    };

    #[test]
    fn repeated_failures_open_then_probes_back_off_exponentially_up_to_the_cap() {
        let mut circuit = Circuit::default();
        let mut jitter = Fraction(0.5);
        for attempt in 0..FAILURES_TO_OPEN - 1 {
            assert!(!circuit.record(Attempt::Ordinary, FAILED, t(0), &mut jitter));
            assert_eq!(
                circuit.permit(t(0), Occasion::Background),
                Permit::Send,
                "attempt {attempt}"
            );
        }
        circuit.record(Attempt::Ordinary, FAILED, t(10), &mut jitter);
        assert!(circuit.is_open());
        assert_eq!(
            circuit.permit(t(10), Occasion::Background),
            Permit::Probe,
            "the first probe is not delayed"
        );
        // Failed probes: steps of half of 1, 2, 4, 5, 5 s.
        let mut now = t(10);
        for expected_ms in [500, 1000, 2000, 2500, 2500] {
            circuit.record(Attempt::Probe, FAILED, now, &mut jitter);
            let next = now + Duration::from_millis(expected_ms);
            assert_eq!(
                circuit.permit(now, Occasion::Background),
                Permit::WaitUntil(next)
            );
            assert_eq!(
                circuit.permit(next - Duration::from_millis(1), Occasion::Background),
                Permit::WaitUntil(next)
            );
            assert_eq!(circuit.permit(next, Occasion::Background), Permit::Probe);
            now = next;
        }
        assert!(
            circuit.record(Attempt::Probe, Outcome::Answered, now, &mut jitter),
            "recovered"
        );
        assert_eq!(circuit, Circuit::default(), "the backoff is reset");
    }

    #[test]
    fn every_fourth_probe_of_an_outage_and_every_probe_at_shutdown_are_patient() {
        const TIMED_OUT: Outcome = Outcome::Failed {
            timed_out: true,
            not_before: None,
        };
        let mut jitter = Fraction(0.0);
        let mut circuit = Circuit::default();
        assert!(!circuit.patient_probe(Occasion::BeforeFreeze), "closed");
        assert!(circuit.patient_probe(Occasion::Shutdown));
        circuit.record(Attempt::Ordinary, TIMED_OUT, t(0), &mut jitter);
        let mut patient = Vec::new();
        for probe in 0..9 {
            assert_eq!(
                circuit.permit(t(probe), Occasion::BeforeFreeze),
                Permit::Probe
            );
            patient.push(circuit.patient_probe(Occasion::BeforeFreeze));
            assert!(circuit.patient_probe(Occasion::Shutdown));
            circuit.record(Attempt::Probe, TIMED_OUT, t(probe), &mut jitter);
        }
        assert_eq!(
            patient,
            [false, false, false, true, false, false, false, true, false]
        );
        circuit.record(Attempt::Probe, Outcome::Answered, t(10), &mut jitter);
        circuit.record(Attempt::Ordinary, TIMED_OUT, t(11), &mut jitter);
        assert!(
            !circuit.patient_probe(Occasion::BeforeFreeze),
            "a new outage counts its probes from one"
        );
    }

    #[test]
    fn one_timeout_opens_and_retry_after_is_honoured() {
        let mut jitter = Fraction(0.0);
        let mut circuit = Circuit::default();
        circuit.record(
            Attempt::Ordinary,
            Outcome::Failed {
                timed_out: true,
                not_before: None,
            },
            t(0),
            &mut jitter,
        );
        assert_eq!(circuit.permit(t(0), Occasion::Background), Permit::Probe);

        let mut circuit = Circuit::default();
        let retry_at = t(2000);
        circuit.record(
            Attempt::Ordinary,
            Outcome::Failed {
                timed_out: false,
                not_before: Some(retry_at),
            },
            t(0),
            &mut jitter,
        );
        assert_eq!(
            circuit.permit(t(1999), Occasion::Background),
            Permit::WaitUntil(retry_at)
        );
        assert_eq!(circuit.blocked_until(t(1999)), Some(retry_at));
        assert_eq!(
            circuit.permit(retry_at, Occasion::Background),
            Permit::Probe
        );
        // A failed probe with zero jitter still waits for its Retry-After.
        let later = t(5000);
        circuit.record(
            Attempt::Probe,
            Outcome::Failed {
                timed_out: false,
                not_before: Some(later),
            },
            retry_at,
            &mut jitter,
        );
        assert_eq!(
            circuit.permit(t(4999), Occasion::Background),
            Permit::WaitUntil(later)
        );
    }

    #[test]
    fn a_refused_connection_is_probed_before_every_freeze_but_backs_off_in_the_background() {
        let mut jitter = Fraction(1.0);
        let mut circuit = Circuit::default();
        for _ in 0..FAILURES_TO_OPEN {
            circuit.record(Attempt::Ordinary, Outcome::NotListening, t(0), &mut jitter);
        }
        circuit.record(Attempt::Probe, Outcome::NotListening, t(0), &mut jitter);
        let step_end = t(0) + BACKOFF_BASE;
        assert_eq!(
            circuit.permit(t(10), Occasion::Background),
            Permit::WaitUntil(step_end)
        );
        assert_eq!(circuit.blocked_until(t(10)), Some(step_end));
        assert_eq!(circuit.permit(t(10), Occasion::BeforeFreeze), Permit::Probe);
        // Any other failure keeps the step before a freeze too.
        circuit.record(Attempt::Probe, FAILED, t(10), &mut jitter);
        assert_eq!(
            circuit.permit(t(20), Occasion::BeforeFreeze),
            Permit::WaitUntil(t(10) + BACKOFF_BASE * 2)
        );
        assert_eq!(
            circuit.permit(t(20), Occasion::Shutdown),
            Permit::Probe,
            "SHUTDOWN is the last chance"
        );
        assert!(circuit.record(Attempt::Probe, Outcome::Answered, t(3000), &mut jitter));
    }

    #[test]
    fn a_request_sent_while_closed_that_ends_after_the_circuit_opened_leaves_it_to_the_probe() {
        let mut jitter = Fraction(1.0);
        let mut circuit = Circuit::default();
        let timed_out = Outcome::Failed {
            timed_out: true,
            not_before: None,
        };
        circuit.record(Attempt::Ordinary, timed_out, t(0), &mut jitter);
        circuit.record(Attempt::Ordinary, timed_out, t(5), &mut jitter);
        assert_eq!(
            circuit.permit(t(5), Occasion::Background),
            Permit::Probe,
            "still the first probe, not a step after a failed one"
        );
        let retry_at = t(3000);
        circuit.record(
            Attempt::Ordinary,
            Outcome::Failed {
                timed_out: false,
                not_before: Some(retry_at),
            },
            t(6),
            &mut jitter,
        );
        assert_eq!(
            circuit.permit(t(6), Occasion::Background),
            Permit::WaitUntil(retry_at),
            "its Retry-After holds the circuit"
        );
        assert!(
            !circuit.record(Attempt::Ordinary, Outcome::Answered, t(7), &mut jitter),
            "a late answer leaves the Retry-After in force"
        );
        assert_eq!(circuit.blocked_until(t(7)), Some(retry_at));
        circuit.record(Attempt::Probe, FAILED, retry_at, &mut jitter);
        assert_eq!(
            circuit.permit(retry_at, Occasion::Background),
            Permit::WaitUntil(retry_at + BACKOFF_BASE),
            "the first failed probe's step"
        );
    }

    #[test]
    fn an_answer_before_the_threshold_resets_the_count() {
        let mut jitter = Fraction(1.0);
        let mut circuit = Circuit::default();
        assert!(
            !circuit.record(Attempt::Ordinary, Outcome::Answered, t(0), &mut jitter),
            "nothing had failed"
        );
        circuit.record(Attempt::Ordinary, FAILED, t(0), &mut jitter);
        circuit.record(Attempt::Ordinary, FAILED, t(0), &mut jitter);
        assert!(
            circuit.record(Attempt::Ordinary, Outcome::Answered, t(0), &mut jitter),
            "it had failed since its last answer, open or not"
        );
        circuit.record(Attempt::Ordinary, FAILED, t(0), &mut jitter);
        circuit.record(Attempt::Ordinary, FAILED, t(0), &mut jitter);
        assert!(!circuit.is_open());
    }

    #[test]
    fn random_jitter_stays_within_its_ceiling() {
        let mut jitter = RandomJitter;
        for _ in 0..100 {
            assert!(jitter.pick(Duration::from_secs(1)) <= Duration::from_secs(1));
        }
    }
}
