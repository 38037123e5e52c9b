//! The exporter the owner task holds: built once from [`ExportSettings`] for the chosen target,
//! it queues spans, log records and metric collections, and flushes all three within one time
//! budget.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, SystemTime};

use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;

use super::circuit::{Jitter, RandomJitter};
use super::collector::{collector_of, Collector, SharedCollector};
use super::flush::{Deadline, FlushOutcome, Occasion, SignalFlush};
use super::logs::{Logs, LOG_QUEUE_RECORDS};
use super::metrics::{Metrics, METRIC_QUEUE_COLLECTIONS};
use super::otlp::{CaCertificates, CollectorHttpClient, Sender};
use super::outbox::{Batcher, Outbox};
use super::traces::Spans;
use super::wire::{LogEntry, MeasuredLog};
use super::xray::{self, XrayConfigError, LOG_STREAM_HEADER};
use crate::settings::{ExportSettings, ExportTarget, OtlpSettings, Signal, Transport};

/// Why the exporter could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The OTLP configuration was rejected (e.g. an endpoint that is not a URL).
    #[error("cannot build the OTLP exporter: {0}")]
    Build(String),
    /// `LAMBDA_LENS_EXPORT_TARGET=xray` without what export to AWS needs.
    #[error(transparent)]
    Xray(#[from] XrayConfigError),
}

/// Items dropped since start-up, per signal: because their queue was full, because the target
/// refused their batch for good, or because the target could never take them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DroppedCounts {
    /// Spans.
    pub spans: u64,
    /// Log records.
    pub log_records: u64,
    /// Metric collections.
    pub metric_collections: u64,
}

/// The three signals' queues and endpoints.
pub struct Exporter {
    target: ExportTarget,
    /// The spans' protocol and endpoint; `None` when they are not exported.
    transport: Option<Transport>,
    endpoint: Option<String>,
    flush_timeout: Duration,
    /// `None` with `OTEL_TRACES_EXPORTER=none`.
    traces: Option<Outbox<Spans>>,
    metrics: Option<Outbox<Metrics>>,
    logs: Option<Outbox<Logs>>,
    /// Log records wait for their CloudWatch Logs stream: the environment's own, which only
    /// `platform.initStart` names (Lambda does not pass `AWS_LAMBDA_LOG_STREAM_NAME` to
    /// extensions). They stay queued (bounded) until [`Exporter::set_log_stream`].
    logs_held: bool,
    /// The log stream is the one the Telemetry API named (none was configured): a SnapStart
    /// restore names the restored environment's own.
    log_stream_from_telemetry: bool,
}

impl fmt::Debug for Exporter {
    // The queues' items are left out: thousands of them would drown any log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exporter")
            .field("target", &self.target)
            .field("transport", &self.transport)
            .field("endpoint", &self.endpoint)
            .field("queued", &self.queued())
            .field("span_capacity", &self.traces.as_ref().map(Outbox::capacity))
            .field("flush_timeout", &self.flush_timeout)
            .field("dropped", &self.dropped())
            .finish()
    }
}

impl Exporter {
    /// Builds the exporter for `settings`, sending `resource` with every request; `Ok(None)` when
    /// export is disabled.
    ///
    /// Must be called within a Tokio runtime (gRPC channels spawn their worker task). No endpoint
    /// is contacted here: connections are made by the first flush.
    ///
    /// For X-Ray, missing credentials or region are an [`ExportError::Xray`]; log records without
    /// a log group to go to are turned off with a warning.
    pub fn new(settings: &ExportSettings, resource: Resource) -> Result<Option<Self>, ExportError> {
        Self::with_jitter(settings, resource, || Box::new(RandomJitter))
    }

    /// [`Exporter::new`] with backoff steps drawn from `jitter` (one source per collector) instead
    /// of the process's random generator, so that the requests a fault causes can be counted.
    pub fn with_jitter(
        settings: &ExportSettings,
        resource: Resource,
        jitter: impl Fn() -> Box<dyn Jitter>,
    ) -> Result<Option<Self>, ExportError> {
        if settings.disabled {
            return Ok(None);
        }
        let destination = &settings.destination;
        let aws = (destination.target == ExportTarget::Xray).then_some(&destination.xray);
        // One HTTP client (and connection pool) for every signal; CA files are read once each.
        let ca = CaCertificates::load_or_warn(destination.otlp.certificate.as_deref());
        let client = CollectorHttpClient::new(ca.as_ref());
        let build = |config: &OtlpSettings| -> Result<(Sender, String, Transport), ExportError> {
            let mut config = config.clone();
            let signer = match aws {
                Some(aws) => Some(xray::configure(aws, &mut config)?),
                None => None,
            };
            let (client, ca) = if config.certificate == destination.otlp.certificate {
                (client.clone(), ca.clone())
            } else {
                let ca = CaCertificates::load_or_warn(config.certificate.as_deref());
                (CollectorHttpClient::new(ca.as_ref()), ca)
            };
            if let Some(signer) = &signer {
                tracing::debug!(signal = config.signal.name(), endpoint = %config.endpoint, region = signer.region(), service = signer.service(), "exporting straight to AWS, SigV4-signed");
            }
            let sender = Sender::new(&config, &client, ca.as_ref(), signer)?;
            Ok((sender, config.endpoint, config.transport))
        };
        // The signals sent to one collector share its circuit (one probe per step, one
        // `Retry-After` for all) and its failure log (one line per failure kind).
        let mut collectors: HashMap<String, SharedCollector> = HashMap::new();
        let mut collector = |endpoint: &str| {
            collectors
                .entry(collector_of(endpoint))
                .or_insert_with(|| Collector::shared(jitter()))
                .clone()
        };
        let (traces, endpoint, transport) = if destination.traces {
            let (sender, endpoint, transport) = build(&destination.otlp)?;
            let outbox = Outbox::new(
                Signal::Traces,
                Spans::new(&resource, aws.is_some()),
                settings.queue_capacity,
                sender,
                collector(&endpoint),
            );
            (Some(outbox), Some(endpoint), Some(transport))
        } else {
            (None, None, None)
        };
        let metrics = match &destination.metrics {
            Some(config) => {
                let (sender, endpoint, _) = build(config)?;
                Some(Outbox::new(
                    Signal::Metrics,
                    Metrics::new(&resource),
                    METRIC_QUEUE_COLLECTIONS,
                    sender,
                    collector(&endpoint),
                ))
            }
            None => None,
        };
        let logs = match &destination.logs {
            Some(config) => match build(config) {
                Ok((sender, endpoint, _)) => Some(Outbox::new(
                    Signal::Logs,
                    Logs::new(&resource),
                    LOG_QUEUE_RECORDS,
                    sender,
                    collector(&endpoint),
                )),
                Err(ExportError::Xray(error @ XrayConfigError::MissingLogGroup)) => {
                    tracing::warn!(%error, "log records are not exported");
                    None
                }
                Err(error) => return Err(error),
            },
            None => None,
        };
        let logs_held = aws.is_some_and(|aws| aws.log_stream.is_none()) && logs.is_some();
        Ok(Some(Self {
            logs_held,
            log_stream_from_telemetry: false,
            target: destination.target,
            transport,
            endpoint,
            flush_timeout: settings.flush_timeout,
            traces,
            metrics,
            logs,
        }))
    }

    /// Where spans go: an OTLP collector or X-Ray.
    pub fn target(&self) -> ExportTarget {
        self.target
    }

    /// The protocol spans are sent with; `None` when they are not exported.
    pub fn transport(&self) -> Option<Transport> {
        self.transport
    }

    /// Where spans are sent: the full URL for OTLP/HTTP, the server URL for gRPC; `None` when
    /// they are not exported.
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// Whether spans are exported (not with `OTEL_TRACES_EXPORTER=none`).
    pub fn traces_enabled(&self) -> bool {
        self.traces.is_some()
    }

    /// Whether log records are exported (not with `OTEL_LOGS_EXPORTER=none`, nor to AWS without a
    /// log group).
    pub fn logs_enabled(&self) -> bool {
        self.logs.is_some()
    }

    /// Whether metrics are exported (not with `OTEL_METRICS_EXPORTER=none`).
    pub fn metrics_enabled(&self) -> bool {
        self.metrics.is_some()
    }

    /// Replaces the resource sent with every request (e.g. once `faas.instance` is known); it
    /// applies to queued items too, as the resource is attached when a batch is encoded.
    pub fn set_resource(&mut self, resource: Resource) {
        if let Some(traces) = &mut self.traces {
            traces.set_resource(&resource);
        }
        if let Some(metrics) = &mut self.metrics {
            metrics.set_resource(&resource);
        }
        if let Some(logs) = &mut self.logs {
            logs.set_resource(&resource);
        }
    }

    /// Queues finished spans for the next flush. If the queue would exceed its capacity, the
    /// oldest spans are dropped and counted ([`Exporter::dropped`]); a warning is logged at the
    /// first drop and then every 1000 drops.
    ///
    /// For X-Ray, a span over [`XRAY_MAX_SPAN_BYTES`](super::XRAY_MAX_SPAN_BYTES) has its longest
    /// string attribute values truncated (ending with [`TRUNCATION_MARKER`](super::TRUNCATION_MARKER))
    /// until it fits; one that still does not fit is dropped, counted and logged. Nothing
    /// happens when spans are not exported.
    pub fn enqueue(&mut self, spans: Vec<SpanData>) {
        if let Some(traces) = &mut self.traces {
            traces.enqueue(spans);
        }
    }

    /// Queues function log records / the report record (trace_id, span_id set by the caller), at
    /// most [`LOG_QUEUE_RECORDS`](super::LOG_QUEUE_RECORDS) (the oldest are dropped beyond it).
    /// Nothing happens when log records are not exported.
    pub fn enqueue_logs(&mut self, records: Vec<LogEntry>) {
        if let Some(logs) = &mut self.logs {
            logs.enqueue(records.into_iter().map(MeasuredLog::new).collect());
        }
    }

    /// Queues one collection of metrics (data points already aggregated, temporality chosen by
    /// the caller), at most [`METRIC_QUEUE_COLLECTIONS`](super::METRIC_QUEUE_COLLECTIONS)
    /// collections (the oldest are dropped beyond it). Nothing happens when metrics are not
    /// exported, or for an empty collection.
    pub fn enqueue_metrics(&mut self, metrics: Vec<Metric>) {
        if let (Some(outbox), false) = (&mut self.metrics, metrics.is_empty()) {
            outbox.enqueue(vec![metrics]);
        }
    }

    /// Sends what is queued, every signal within `min(budget, flush_timeout)`, the three
    /// concurrently; callers pass the time they can afford (e.g. what is left before a SHUTDOWN
    /// deadline) and the configured flush timeout is applied here, in one place. Spans go in
    /// batches of at most [`MAX_BATCH_SPANS`](super::MAX_BATCH_SPANS) (for X-Ray: at most
    /// [`XRAY_MAX_BATCH_SPANS`](super::XRAY_MAX_BATCH_SPANS) and
    /// [`XRAY_MAX_REQUEST_BYTES`](super::XRAY_MAX_REQUEST_BYTES)).
    ///
    /// Items leave their queue only once the target acknowledged them: after an error or when
    /// the budget runs out (the request in flight is cancelled) they stay at the front of the
    /// queue for the next flush, and so they do if this future is dropped. While a collector's
    /// circuit is open, the signals sent to it make no request but one probe (see the `circuit`
    /// module), and for [`TIMEOUT_PAUSE`](super::TIMEOUT_PAUSE) after a request to a collector
    /// timed out in a background flush none of them makes one (see the `flush` module); the
    /// signals sent to other collectors go on. Never blocks the thread, and returns within the
    /// budget plus scheduling delay.
    ///
    /// This is a flush on [`Occasion::Background`]; see [`Exporter::flush_on`].
    pub async fn flush(&mut self, budget: Duration) -> FlushOutcome {
        self.flush_on(budget, Occasion::Background).await
    }

    /// [`Exporter::flush`] on `occasion`: before a freeze, an endpoint whose connections were
    /// refused is probed even within its backoff step (no timer runs while frozen); at SHUTDOWN
    /// every open circuit is probed, even within a collector's pause after a timeout, and the flush may
    /// take all of `budget`.
    pub async fn flush_on(&mut self, budget: Duration, occasion: Occasion) -> FlushOutcome {
        let cap = match occasion {
            Occasion::Shutdown => budget,
            Occasion::Background | Occasion::BeforeFreeze => self.flush_timeout,
        };
        let deadline = Deadline::start(budget, cap);
        // A signal with nothing queued has nothing to do; when one signal alone has, it is flushed
        // without joining the others (the join would poll them all on each wake-up).
        let traces = self.traces.as_mut().filter(|o| o.queued() > 0);
        let metrics = self.metrics.as_mut().filter(|o| o.queued() > 0);
        let logs = self
            .logs
            .as_mut()
            .filter(|o| !self.logs_held && o.queued() > 0);
        let idle = SignalFlush::default;
        let (traces, metrics, logs) = match (traces, metrics, logs) {
            (traces, None, None) => (
                flush_optional(traces, deadline, occasion).await,
                idle(),
                idle(),
            ),
            (None, metrics, None) => (
                idle(),
                flush_optional(metrics, deadline, occasion).await,
                idle(),
            ),
            (None, None, logs) => (
                idle(),
                idle(),
                flush_optional(logs, deadline, occasion).await,
            ),
            (traces, metrics, logs) => tokio::join!(
                flush_optional(traces, deadline, occasion),
                flush_optional(metrics, deadline, occasion),
                flush_optional(logs, deadline, occasion),
            ),
        };
        FlushOutcome {
            exported: traces.exported,
            requeued: traces.requeued,
            error: traces.error,
            metrics,
            logs,
            elapsed: deadline.elapsed(),
        }
    }

    /// Items waiting for export, all signals together.
    pub fn queued(&self) -> usize {
        self.traces.as_ref().map_or(0, Outbox::queued)
            + self.metrics.as_ref().map_or(0, Outbox::queued)
            + self.sendable_logs().map_or(0, Outbox::queued)
    }

    /// The log records' outbox, unless they wait for their log stream.
    fn sendable_logs(&self) -> Option<&Outbox<Logs>> {
        self.logs.as_ref().filter(|_| !self.logs_held)
    }

    /// Names the CloudWatch Logs stream of this environment (`platform.initStart`'s
    /// `instanceId`), where log records go when no stream was configured; the records held until
    /// now go with the next flush. `None` (an older Telemetry API schema names no instance): log
    /// records cannot go anywhere, so their export stops, said once. Without effect when a stream
    /// was configured or known already.
    pub fn set_log_stream(&mut self, stream: Option<&str>) {
        if !self.logs_held {
            return;
        }
        let named = match (stream, self.logs.as_mut()) {
            (Some(stream), Some(logs)) => logs.set_header(LOG_STREAM_HEADER, stream),
            _ => false,
        };
        self.logs_held = false;
        self.log_stream_from_telemetry = named;
        if !named {
            tracing::warn!(
                stream,
                "the Telemetry API named no usable log stream for this environment: log records are not exported to CloudWatch Logs (set LAMBDA_LENS_CLOUDWATCH_LOG_STREAM)"
            );
            self.logs = None;
        }
    }

    /// Names the CloudWatch Logs stream of a SnapStart-restored environment
    /// (`platform.restoreStart`'s `instanceId`): it replaces the one `platform.initStart` named in
    /// the environment the snapshot was taken in. Names the stream for the first time when none
    /// was known yet; without effect when a stream was configured, or when log export stopped for
    /// want of one.
    pub fn set_restored_log_stream(&mut self, stream: &str) {
        if self.logs_held {
            self.set_log_stream(Some(stream));
            return;
        }
        if !self.log_stream_from_telemetry {
            return;
        }
        if let Some(logs) = self.logs.as_mut() {
            if !logs.set_header(LOG_STREAM_HEADER, stream) {
                tracing::warn!(
                    stream,
                    "the restored environment's log stream is not a valid header value; log records keep going to the snapshot's"
                );
            }
        }
    }

    /// When the next flush could send anything, if not now: the earliest moment one of the
    /// signals with queued items may send again, each held by its own collector's circuit and
    /// pause after a background timeout (`None` when one may send now, or nothing waits).
    /// Background flushes wait for it instead of trying on every invocation.
    pub fn blocked_until(&self, now: SystemTime) -> Option<SystemTime> {
        let mut earliest: Option<SystemTime> = None;
        let mut any_ready = false;
        let mut note = |queued: usize, blocked: Option<SystemTime>| {
            if queued == 0 {
                return;
            }
            match blocked {
                Some(at) => earliest = Some(earliest.map_or(at, |e| e.min(at))),
                None => any_ready = true,
            }
        };
        if let Some(traces) = &self.traces {
            note(traces.queued(), traces.blocked_until(now));
        }
        if let Some(metrics) = &self.metrics {
            note(metrics.queued(), metrics.blocked_until(now));
        }
        if let Some(logs) = self.sendable_logs() {
            note(logs.queued(), logs.blocked_until(now));
        }
        earliest.filter(|_| !any_ready)
    }

    /// Items dropped since start-up, per signal.
    pub fn dropped(&self) -> DroppedCounts {
        DroppedCounts {
            spans: self.traces.as_ref().map_or(0, Outbox::dropped),
            log_records: self.logs.as_ref().map_or(0, Outbox::dropped),
            metric_collections: self.metrics.as_ref().map_or(0, Outbox::dropped),
        }
    }
}

/// Flushes `outbox` when the signal is exported.
async fn flush_optional<B: Batcher>(
    outbox: Option<&mut Outbox<B>>,
    deadline: Deadline,
    occasion: Occasion,
) -> SignalFlush {
    match outbox {
        Some(outbox) => outbox.flush(deadline, occasion).await,
        None => SignalFlush::default(),
    }
}
