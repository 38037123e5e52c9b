//! The body of one event: its `record`, read as its `type` wants it.
//!
//! Every record object is read into one set of fields (the union of what the types lambda-lens
//! knows carry), field by field and leniently: a field of an unexpected type costs only that field,
//! unknown keys are read and dropped. The body of the type is then built from the fields it uses.

use std::borrow::Cow;
use std::time::SystemTime;

use serde::de::MapAccess;
use serde_json::value::RawValue;
use serde_json::Value;

use super::events::{
    LogSource, PlatformSpan, PlatformStatus, PlatformTracing, Report, ReportMetrics, RuntimeDone,
    Start, TelemetryBody,
};
use super::lenient::{next_value, Fields, Lenient, Skip};
use super::time::parse_time;
use crate::last_shared::LastShared;
use crate::record::RequestId;

/// The request ids of one batch's events: an invocation's start, runtimeDone and report, usually
/// in one delivery, share one id instead of a copy each.
pub(super) type RequestIds = LastShared<RequestId>;

/// Reads `record` (absent: `null`) as the body of an event of type `kind` that happened at `time`.
/// `Ok(None)` when the record does not make an event (a platform record that is not an object, an
/// invocation event without `requestId`); `Err` only when the record is not valid JSON. Request ids
/// are made through `ids`.
pub(super) fn read(
    kind: &str,
    record: Option<&RawValue>,
    time: SystemTime,
    ids: &mut RequestIds,
) -> Result<Option<TelemetryBody>, serde_json::Error> {
    match kind {
        "function" => log(LogSource::Function, record, ids).map(Some),
        "extension" => log(LogSource::Extension, record, ids).map(Some),
        "platform.restoreStart" => {
            let fields = match record {
                Some(raw) => serde_json::from_str::<ReadRecord<'_>>(raw.get())?,
                None => Lenient::Other,
            };
            Ok(Some(restore_start(fields)))
        }
        _ => match platform_body(kind) {
            Some(build) => {
                let Some(raw) = record else {
                    return Ok(None);
                };
                let fields = serde_json::from_str::<ReadRecord<'_>>(raw.get())?.object();
                Ok(fields.and_then(|mut r| build(&mut r, time, ids)))
            }
            None => Ok(Some(TelemetryBody::Other {
                kind: kind.to_owned(),
                record: record.map_or(Ok(Value::Null), |raw| serde_json::from_str(raw.get()))?,
            })),
        },
    }
}

/// A record read in passing, as any record object is read, before its event's type was known.
pub(super) type ReadRecord<'de> = Lenient<'de, Box<Record<'de>>>;

/// The allocation of a record read in passing and built into its body, kept for the next record
/// of the batch: one allocation per batch rather than one per record.
pub(super) type SpareRecord<'de> = Option<Box<Record<'de>>>;

/// Empty fields to read a record into: those of `spare`, cleared, or a new allocation.
pub(super) fn record_fields<'de>(spare: &mut SpareRecord<'de>) -> Box<Record<'de>> {
    match spare.take() {
        Some(mut fields) => {
            *fields = Record::default();
            fields
        }
        None => Box::default(),
    }
}

/// Whether records of type `kind` are best read in passing ([`ReadRecord`]) rather than kept as
/// raw text: log lines (a string, or an object with its `message`, almost always; kept as raw text
/// they would be read twice) and the platform types built from an object's fields.
pub(super) fn reads_in_passing(kind: &str) -> bool {
    matches!(kind, "function" | "extension") || platform_body(kind).is_some()
}

/// The body of an event of type `kind` at `time` whose record was read in passing: like [`read`],
/// or `Err(NeedsText)` when the body needs the record's JSON text (types kept as JSON, log records
/// that are neither a string nor an object with a string `message`). The record's allocation is
/// left in `spare` once its body is built.
pub(super) fn from_read<'de>(
    kind: &str,
    record: ReadRecord<'de>,
    time: SystemTime,
    spare: &mut SpareRecord<'de>,
    ids: &mut RequestIds,
) -> Result<Option<TelemetryBody>, NeedsText> {
    let source = match kind {
        "function" => LogSource::Function,
        "extension" => LogSource::Extension,
        "platform.restoreStart" => return Ok(Some(restore_start(record))),
        _ => {
            let build = platform_body(kind).ok_or(NeedsText)?;
            let Some(mut fields) = record.object() else {
                return Ok(None);
            };
            let body = build(&mut fields, time, ids);
            *spare = Some(fields);
            return Ok(body);
        }
    };
    let (message, level, request_id) = match record {
        Lenient::Text(line) => (line.into_owned(), None, None),
        Lenient::Object(mut record) => {
            let message = record.message.take().ok_or(NeedsText)?;
            let read = (message, record.level.take(), record.request_id.take());
            *spare = Some(record);
            read
        }
        _ => return Err(NeedsText),
    };
    Ok(Some(log_body(source, message, level, request_id, ids)))
}

/// The body of `platform.restoreStart`: an event whatever its record, with the restored
/// environment's `instanceId` when the record has one.
fn restore_start(record: ReadRecord<'_>) -> TelemetryBody {
    TelemetryBody::RestoreStart {
        instance_id: record.object().and_then(|r| r.instance_id),
    }
}

/// A body that needs its record's JSON text, which a record read in passing no longer has.
#[derive(Debug)]
pub(super) struct NeedsText;

/// Reads `raw` through, only to learn whether it is valid JSON (as `Value` parsing judges it).
pub(super) fn check(raw: &RawValue) -> Result<(), serde_json::Error> {
    serde_json::from_str::<Lenient<'_>>(raw.get()).map(drop)
}

/// Builds the body of a platform type from its record object's fields (taking those it uses) and
/// the event's time, making its request id through the batch's ids.
type BuildBody<'de> = fn(&mut Record<'de>, SystemTime, &mut RequestIds) -> Option<TelemetryBody>;

/// How the body of a platform type with an object record is built; `None` for other types.
fn platform_body<'de>(kind: &str) -> Option<BuildBody<'de>> {
    // The types of every invocation first: a type is compared with the arms in order.
    Some(match kind {
        "platform.start" => Record::start,
        "platform.runtimeDone" => Record::runtime_done,
        "platform.report" => Record::report,
        "platform.initStart" => Record::init_start,
        "platform.initRuntimeDone" => Record::init_runtime_done,
        "platform.initReport" => Record::init_report,
        "platform.restoreRuntimeDone" => Record::restore_runtime_done,
        "platform.restoreReport" => Record::restore_report,
        "platform.logsDropped" => Record::logs_dropped,
        _ => return None,
    })
}

/// A `function`/`extension` record: a text line, or a JSON log record (schema ≥ 2022-12-13 with the
/// JSON log format); any other JSON value is kept as its JSON text.
fn log(
    source: LogSource,
    record: Option<&RawValue>,
    ids: &mut RequestIds,
) -> Result<TelemetryBody, serde_json::Error> {
    let text = record.map_or("null", RawValue::get);
    let (message, level, request_id) = match serde_json::from_str::<ReadRecord<'_>>(text)? {
        Lenient::Text(line) => (line.into_owned(), None, None),
        Lenient::Object(r) => (
            match r.message {
                Some(message) => message,
                None => json_text(text)?,
            },
            r.level,
            r.request_id,
        ),
        _ => (json_text(text)?, None, None),
    };
    Ok(log_body(source, message, level, request_id, ids))
}

fn log_body(
    source: LogSource,
    message: String,
    level: Option<String>,
    request_id: Option<Cow<'_, str>>,
    ids: &mut RequestIds,
) -> TelemetryBody {
    TelemetryBody::Log {
        source,
        message,
        level,
        request_id: request_id.map(|id| ids.share(&id)),
    }
}

/// A value as `Value` writes it (compact, keys sorted).
fn json_text(raw: &str) -> Result<String, serde_json::Error> {
    serde_json::from_str::<Value>(raw).map(|value| value.to_string())
}

/// The fields of any record object lambda-lens reads, each as its last occurrence left it.
#[derive(Default)]
pub(super) struct Record<'de> {
    initialization_type: Option<String>,
    phase: Option<String>,
    function_name: Option<String>,
    function_version: Option<String>,
    instance_id: Option<String>,
    instance_max_memory: Option<u64>,
    runtime_version: Option<String>,
    /// Borrowed: a request id is kept as a [`RequestId`], never as a `String`.
    request_id: Option<Cow<'de, str>>,
    version: Option<Cow<'static, str>>,
    status: Option<PlatformStatus>,
    error_type: Option<String>,
    metrics: Option<Metrics>,
    spans: Vec<Span>,
    tracing: Option<Tracing>,
    tenant_id: Option<String>,
    dropped_bytes: Option<u64>,
    dropped_records: Option<u64>,
    reason: Option<String>,
    message: Option<String>,
    level: Option<String>,
}

impl<'de> Fields<'de> for Record<'de> {
    fn read<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        // The keys of invocation records first: a key is compared with the arms in order.
        match key {
            "requestId" => self.request_id = next_value(map)?.text(),
            "status" => {
                self.status = next_value(map)?.text().map(|s| PlatformStatus::parse(&s));
            }
            "metrics" => self.metrics = map.next_value::<Lenient<'_, Metrics>>()?.object(),
            "spans" => self.spans = map.next_value::<Lenient<'_, Skip, Span>>()?.array(),
            "version" => self.version = next_value(map)?.text().map(function_version),
            "tracing" => self.tracing = map.next_value::<Lenient<'_, Tracing>>()?.object(),
            "errorType" => self.error_type = next_value(map)?.string(),
            "tenantId" => self.tenant_id = next_value(map)?.string(),
            "message" => self.message = next_value(map)?.string(),
            "level" => self.level = next_value(map)?.string(),
            "initializationType" => self.initialization_type = next_value(map)?.string(),
            "phase" => self.phase = next_value(map)?.string(),
            "functionName" => self.function_name = next_value(map)?.string(),
            "functionVersion" => self.function_version = next_value(map)?.string(),
            "instanceId" => self.instance_id = next_value(map)?.string(),
            "instanceMaxMemory" => {
                self.instance_max_memory = next_value(map)?.unsigned();
            }
            "runtimeVersion" => self.runtime_version = next_value(map)?.string(),
            "droppedBytes" => self.dropped_bytes = next_value(map)?.unsigned(),
            "droppedRecords" => self.dropped_records = next_value(map)?.unsigned(),
            "reason" => self.reason = next_value(map)?.string(),
            _ => drop(next_value(map)?),
        }
        Ok(())
    }
}

impl Record<'_> {
    fn init_start(&mut self, _time: SystemTime, _ids: &mut RequestIds) -> Option<TelemetryBody> {
        Some(TelemetryBody::InitStart {
            initialization_type: self.initialization_type.take(),
            phase: self.phase.take(),
            function_name: self.function_name.take(),
            function_version: self.function_version.take(),
            instance_id: self.instance_id.take(),
            instance_max_memory: self.instance_max_memory,
            runtime_version: self.runtime_version.take(),
        })
    }

    fn init_runtime_done(
        &mut self,
        time: SystemTime,
        _ids: &mut RequestIds,
    ) -> Option<TelemetryBody> {
        Some(TelemetryBody::InitRuntimeDone {
            initialization_type: self.initialization_type.take(),
            phase: self.phase.take(),
            status: self.status.take(),
            error_type: self.error_type.take(),
            spans: spans(std::mem::take(&mut self.spans), time),
        })
    }

    fn init_report(&mut self, time: SystemTime, _ids: &mut RequestIds) -> Option<TelemetryBody> {
        Some(TelemetryBody::InitReport {
            initialization_type: self.initialization_type.take(),
            phase: self.phase.take(),
            status: self.status.take(),
            error_type: self.error_type.take(),
            duration_ms: self.metrics.as_ref().and_then(|m| m.report.duration_ms),
            spans: spans(std::mem::take(&mut self.spans), time),
        })
    }

    fn restore_runtime_done(
        &mut self,
        _time: SystemTime,
        _ids: &mut RequestIds,
    ) -> Option<TelemetryBody> {
        Some(TelemetryBody::RestoreRuntimeDone {
            status: self.status.take(),
            error_type: self.error_type.take(),
        })
    }

    fn restore_report(
        &mut self,
        _time: SystemTime,
        _ids: &mut RequestIds,
    ) -> Option<TelemetryBody> {
        Some(TelemetryBody::RestoreReport {
            status: self.status.take(),
            error_type: self.error_type.take(),
            duration_ms: self.metrics.as_ref().and_then(|m| m.report.duration_ms),
        })
    }

    fn start(&mut self, _time: SystemTime, ids: &mut RequestIds) -> Option<TelemetryBody> {
        Some(TelemetryBody::Start(Start {
            request_id: ids.share(self.request_id.as_deref()?),
            version: self.version.take(),
            tracing: self.tracing.take().and_then(Tracing::into_tracing),
            tenant_id: tenant(self.tenant_id.take()),
        }))
    }

    fn runtime_done(&mut self, time: SystemTime, ids: &mut RequestIds) -> Option<TelemetryBody> {
        let metrics = self.metrics.as_ref();
        Some(TelemetryBody::RuntimeDone(RuntimeDone {
            request_id: ids.share(self.request_id.as_deref()?),
            status: self.status.take(),
            error_type: self.error_type.take(),
            duration_ms: metrics.and_then(|m| m.report.duration_ms),
            produced_bytes: metrics.and_then(|m| m.produced_bytes),
            spans: spans(std::mem::take(&mut self.spans), time),
            tracing: self.tracing.take().and_then(Tracing::into_tracing),
        }))
    }

    fn report(&mut self, time: SystemTime, ids: &mut RequestIds) -> Option<TelemetryBody> {
        Some(TelemetryBody::Report(Report {
            request_id: ids.share(self.request_id.as_deref()?),
            status: self.status.take(),
            error_type: self.error_type.take(),
            metrics: self.metrics.take().map(|m| m.report).unwrap_or_default(),
            spans: spans(std::mem::take(&mut self.spans), time),
            tracing: self.tracing.take().and_then(Tracing::into_tracing),
            tenant_id: tenant(self.tenant_id.take()),
        }))
    }

    fn logs_dropped(&mut self, _time: SystemTime, _ids: &mut RequestIds) -> Option<TelemetryBody> {
        Some(TelemetryBody::LogsDropped {
            dropped_bytes: self.dropped_bytes,
            dropped_records: self.dropped_records,
            reason: self.reason.take(),
        })
    }
}

/// `tenantId`; an empty one names no tenant.
fn tenant(tenant_id: Option<String>) -> Option<String> {
    tenant_id.filter(|t| !t.is_empty())
}

/// `metrics` of any record: those of `platform.report`, and `producedBytes` of `runtimeDone`.
#[derive(Default)]
struct Metrics {
    report: ReportMetrics,
    produced_bytes: Option<u64>,
}

impl<'de> Fields<'de> for Metrics {
    fn read<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        let value = next_value(map)?;
        let report = &mut self.report;
        match key {
            "durationMs" => report.duration_ms = value.float(),
            "producedBytes" => self.produced_bytes = value.unsigned(),
            "billedDurationMs" => report.billed_duration_ms = value.unsigned(),
            "memorySizeMB" => report.memory_size_mb = value.unsigned(),
            "maxMemoryUsedMB" => report.max_memory_used_mb = value.unsigned(),
            "initDurationMs" => report.init_duration_ms = value.float(),
            "restoreDurationMs" => report.restore_duration_ms = value.float(),
            _ => {}
        }
        Ok(())
    }
}

/// `tracing` of any record.
#[derive(Default)]
struct Tracing {
    span_id: Option<String>,
    value: Option<String>,
}

impl<'de> Fields<'de> for Tracing {
    fn read<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        let value = next_value(map)?;
        match key {
            "spanId" => self.span_id = value.string(),
            "value" => self.value = value.string(),
            _ => {}
        }
        Ok(())
    }
}

impl Tracing {
    /// The tracing, when it has its `value`.
    fn into_tracing(self) -> Option<PlatformTracing> {
        Some(PlatformTracing {
            span_id: self.span_id,
            value: self.value?,
        })
    }
}

/// One object of `spans`, the size of a [`PlatformSpan`] so that the list becomes the event's in
/// place, without a second allocation.
struct Span {
    name: Option<Cow<'static, str>>,
    start: Option<SystemTime>,
    /// `durationMs`; NaN while it has not been read as a number (JSON has no NaN).
    duration_ms: f64,
}

const _: () = assert!(std::mem::size_of::<Span>() == std::mem::size_of::<PlatformSpan>());

impl Default for Span {
    fn default() -> Self {
        Self {
            name: None,
            start: None,
            duration_ms: f64::NAN,
        }
    }
}

impl<'de> Fields<'de> for Span {
    fn read<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        let value = next_value(map)?;
        match key {
            "name" => self.name = value.text().map(span_name),
            "start" => self.start = value.text().as_deref().and_then(parse_time),
            "durationMs" => self.duration_ms = value.float().unwrap_or(f64::NAN),
            _ => {}
        }
        Ok(())
    }
}

/// The names of the spans the platform reports for an invocation; a span named by one of them
/// borrows the name instead of copying it.
const RESPONSE_LATENCY: &str = "responseLatency";
const RESPONSE_DURATION: &str = "responseDuration";
const RUNTIME_OVERHEAD: &str = "runtimeOverhead";
const EXTENSION_OVERHEAD: &str = "extensionOverhead";

/// `name` of a span: the platform's own names borrowed, others copied.
fn span_name(name: Cow<'_, str>) -> Cow<'static, str> {
    // A match compares in line, without a call per known name.
    Cow::Borrowed(match &*name {
        RESPONSE_LATENCY => RESPONSE_LATENCY,
        RESPONSE_DURATION => RESPONSE_DURATION,
        RUNTIME_OVERHEAD => RUNTIME_OVERHEAD,
        EXTENSION_OVERHEAD => EXTENSION_OVERHEAD,
        _ => return Cow::Owned(name.into_owned()),
    })
}

/// The `version` of `platform.start` for a function's unpublished version.
const LATEST: &str = "$LATEST";

/// `version` of `platform.start`: [`LATEST`] borrowed, others copied.
fn function_version(version: Cow<'_, str>) -> Cow<'static, str> {
    match &*version {
        LATEST => Cow::Borrowed(LATEST),
        _ => Cow::Owned(version.into_owned()),
    }
}

/// The readable entries of `spans`; one without a name or duration is left out, one without a
/// readable start takes the event's time.
fn spans(spans: Vec<Span>, event_time: SystemTime) -> Vec<PlatformSpan> {
    spans
        .into_iter()
        .filter_map(|s| {
            Some(PlatformSpan {
                name: s.name?,
                start: s.start.unwrap_or(event_time),
                duration_ms: Some(s.duration_ms).filter(|ms| !ms.is_nan())?,
            })
        })
        .collect()
}
