//! Every metric lambda-lens emits — name, unit, kind, description — and the attribute names they
//! carry; `tests/configs.rs` checks the dashboards and collector configurations against
//! [`METRIC_NAMES`] and [`METRIC_ATTRIBUTES`]. The `faas.*` ones are exactly the OpenTelemetry FaaS
//! metric conventions' (names, units, instrument kinds, bucket boundaries of `faas.invoke_duration`).

use crate::spans::names::semconv;

/// What kind of instrument a metric is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A monotonic sum.
    Counter,
    /// An explicit-bucket histogram with these boundaries.
    Histogram(Bounds),
}

/// A histogram's bucket boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bounds {
    /// [`DURATION_BOUNDS`].
    Duration,
    /// [`OVERHEAD_BOUNDS`].
    Overhead,
    /// [`MEMORY_BOUNDS`].
    Memory,
    /// [`SIZE_BOUNDS`].
    Size,
}

/// Seconds: the FaaS conventions' boundaries for `faas.invoke_duration`, used for every duration
/// of a whole invocation or init.
pub const DURATION_BOUNDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];
/// Seconds: the extensions' time after the response, usually a few milliseconds.
pub const OVERHEAD_BOUNDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];
/// Bytes: the memory sizes Lambda offers, 128 MB to 10,240 MB, in powers of two (MB = MiB).
pub const MEMORY_BOUNDS: &[f64] = &[
    134_217_728.0,
    268_435_456.0,
    536_870_912.0,
    1_073_741_824.0,
    2_147_483_648.0,
    4_294_967_296.0,
    8_589_934_592.0,
    10_737_418_240.0,
];
/// Bytes: payload sizes from 1 KiB to Lambda's 6 MB (and a streamed response's 200 MB).
pub const SIZE_BOUNDS: &[f64] = &[
    1_024.0,
    4_096.0,
    16_384.0,
    65_536.0,
    262_144.0,
    1_048_576.0,
    6_291_456.0,
    209_715_200.0,
];

impl Bounds {
    /// The boundaries.
    pub fn values(self) -> &'static [f64] {
        match self {
            Self::Duration => DURATION_BOUNDS,
            Self::Overhead => OVERHEAD_BOUNDS,
            Self::Memory => MEMORY_BOUNDS,
            Self::Size => SIZE_BOUNDS,
        }
    }
}

/// One metric lambda-lens emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instrument {
    /// Its name.
    pub name: &'static str,
    /// Its UCUM unit.
    pub unit: &'static str,
    /// Counter or histogram.
    pub kind: Kind,
    /// What it measures.
    pub description: &'static str,
}

const fn counter(name: &'static str, unit: &'static str, description: &'static str) -> Instrument {
    Instrument {
        name,
        unit,
        kind: Kind::Counter,
        description,
    }
}

const fn histogram(
    name: &'static str,
    unit: &'static str,
    bounds: Bounds,
    description: &'static str,
) -> Instrument {
    Instrument {
        name,
        unit,
        kind: Kind::Histogram(bounds),
        description,
    }
}

/// Successful invocations, counted when the invocation closes.
pub const FAAS_INVOCATIONS: Instrument = counter(
    "faas.invocations",
    "{invocation}",
    "Number of successful invocations",
);
/// Invocations that ended in an error (the handler's, or a platform failure).
pub const FAAS_ERRORS: Instrument =
    counter("faas.errors", "{error}", "Number of invocation errors");
/// Invocations that ran out of time.
pub const FAAS_TIMEOUTS: Instrument = counter(
    "faas.timeouts",
    "{timeout}",
    "Number of invocation timeouts",
);
/// Invocations that followed an init of this environment.
pub const FAAS_COLDSTARTS: Instrument = counter(
    "faas.coldstarts",
    "{coldstart}",
    "Number of invocation cold starts",
);
/// The function's logic: `runtimeDone`'s duration, else the proxy's event-to-result time.
pub const FAAS_INVOKE_DURATION: Instrument = histogram(
    "faas.invoke_duration",
    "s",
    Bounds::Duration,
    "Measures the duration of the function's logic execution",
);
/// The report's init duration (cold starts).
pub const FAAS_INIT_DURATION: Instrument = histogram(
    "faas.init_duration",
    "s",
    Bounds::Duration,
    "Measures the duration of the function's initialization, such as a cold start",
);
/// The report's `maxMemoryUsedMB`, in bytes.
pub const FAAS_MEM_USAGE: Instrument = histogram(
    "faas.mem_usage",
    "By",
    Bounds::Memory,
    "Distribution of max memory usage per invocation",
);
/// The report's billed duration.
pub const BILLED_DURATION: Instrument = histogram(
    "lambda_lens.billed_duration",
    "s",
    Bounds::Duration,
    "Billed duration per invocation",
);
/// The report's `extensionOverhead`: the extensions' time after the response.
pub const EXTENSION_OVERHEAD: Instrument = histogram(
    "lambda_lens.extension_overhead",
    "s",
    Bounds::Overhead,
    "Time the extensions took after the response (post-runtime duration)",
);
/// `runtimeDone`'s `producedBytes`.
pub const PRODUCED_BYTES: Instrument = histogram(
    "lambda_lens.produced_bytes",
    "By",
    Bounds::Size,
    "Bytes the function produced per invocation",
);
/// The event's size.
pub const EVENT_SIZE: Instrument = histogram(
    "lambda_lens.event.size",
    "By",
    Bounds::Size,
    "Size of the invocation's event",
);
/// The response's (or error's) size.
pub const RESPONSE_SIZE: Instrument = histogram(
    "lambda_lens.response.size",
    "By",
    Bounds::Size,
    "Size of the invocation's response or error",
);
/// Items lambda-lens dropped: by signal and reason.
pub const DROPPED: Instrument = counter(
    "lambda_lens.dropped",
    "{item}",
    "Spans, log records and metric collections dropped",
);

/// Every metric.
pub const INSTRUMENTS: &[Instrument] = &[
    FAAS_INVOCATIONS,
    FAAS_ERRORS,
    FAAS_TIMEOUTS,
    FAAS_COLDSTARTS,
    FAAS_INVOKE_DURATION,
    FAAS_INIT_DURATION,
    FAAS_MEM_USAGE,
    BILLED_DURATION,
    EXTENSION_OVERHEAD,
    PRODUCED_BYTES,
    EVENT_SIZE,
    RESPONSE_SIZE,
    DROPPED,
];

/// Every metric name.
pub const METRIC_NAMES: [&str; INSTRUMENTS.len()] = {
    let mut names = [""; INSTRUMENTS.len()];
    let mut i = 0;
    while i < INSTRUMENTS.len() {
        names[i] = INSTRUMENTS[i].name;
        i += 1;
    }
    names
};

/// What started the invocation (every metric but [`DROPPED`]).
pub const FAAS_TRIGGER: &str = semconv::FAAS_TRIGGER;
/// [`DROPPED`]: which signal (`traces`, `logs`, `metrics`).
pub const SIGNAL: &str = "lambda_lens.signal";
/// [`DROPPED`]: why (`limit`: over a per-invocation bound; `queue`: the export queue was full
/// or the collector refused; `platform`: the Telemetry API dropped them).
pub const DROP_REASON: &str = "lambda_lens.drop.reason";

/// Every metric attribute name.
pub const METRIC_ATTRIBUTES: &[&str] = &[FAAS_TRIGGER, SIGNAL, DROP_REASON];
