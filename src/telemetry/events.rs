//! The Telemetry API's events as lambda-lens uses them, and the entry point of the tolerant parser
//! of delivered batches.
//!
//! Batches are read with serde straight into these types ([`super::batch`], [`super::body`]), field
//! by field rather than through derived structs: a field of an unexpected type then costs only that
//! field, records may gain keys in any schema version, and `function`/`extension` records may be
//! strings or objects depending on the log format.

use std::borrow::Cow;
use std::time::SystemTime;

use serde_json::Value;

use super::batch::Batch;
use crate::record::RequestId;

/// One event from a Telemetry API batch; narrowed to one type (`TelemetryEvent<RuntimeDone>`) once
/// its type is known, so that the event keeps its time wherever it is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetryEvent<B = TelemetryBody> {
    /// When the platform generated the event (`time`); the arrival time when `time` is unreadable.
    pub time: SystemTime,
    /// What happened.
    pub body: B,
}

/// The content of an event, by `type`.
#[derive(Debug, Clone, PartialEq)]
pub enum TelemetryBody {
    /// `platform.initStart`: the init phase began.
    InitStart {
        /// `initializationType`: `on-demand`, `provisioned-concurrency`, `snap-start`, ...
        initialization_type: Option<String>,
        /// `phase`: `init`, or `invoke` for a suppressed init.
        phase: Option<String>,
        /// `functionName`.
        function_name: Option<String>,
        /// `functionVersion`.
        function_version: Option<String>,
        /// `instanceId`: the log stream name on real Lambda.
        instance_id: Option<String>,
        /// `instanceMaxMemory` as delivered (bytes on real Lambda).
        instance_max_memory: Option<u64>,
        /// `runtimeVersion`.
        runtime_version: Option<String>,
    },
    /// `platform.initRuntimeDone`: the runtime finished its init.
    InitRuntimeDone {
        /// `initializationType`.
        initialization_type: Option<String>,
        /// `phase`.
        phase: Option<String>,
        /// `status`.
        status: Option<PlatformStatus>,
        /// `errorType`, for failures.
        error_type: Option<String>,
        /// `spans`.
        spans: Vec<PlatformSpan>,
    },
    /// `platform.initReport`: the init phase's summary.
    InitReport {
        /// `initializationType`.
        initialization_type: Option<String>,
        /// `phase`.
        phase: Option<String>,
        /// `status`.
        status: Option<PlatformStatus>,
        /// `errorType`, for failures.
        error_type: Option<String>,
        /// `metrics.durationMs`.
        duration_ms: Option<f64>,
        /// `spans`.
        spans: Vec<PlatformSpan>,
    },
    /// `platform.restoreStart`: a SnapStart snapshot began to be restored.
    RestoreStart {
        /// `instanceId`: the restored environment's log stream name (newer schemas).
        instance_id: Option<String>,
    },
    /// `platform.restoreRuntimeDone`: the runtime's after-restore hooks finished.
    RestoreRuntimeDone {
        /// `status`.
        status: Option<PlatformStatus>,
        /// `errorType`, for failures.
        error_type: Option<String>,
    },
    /// `platform.restoreReport`: the restore phase's summary.
    RestoreReport {
        /// `status`.
        status: Option<PlatformStatus>,
        /// `errorType`, for failures.
        error_type: Option<String>,
        /// `metrics.durationMs`.
        duration_ms: Option<f64>,
    },
    /// `platform.start`: an invocation began.
    Start(Start),
    /// `platform.runtimeDone`: the runtime called `/next` after an invocation (not emitted on LMI).
    RuntimeDone(RuntimeDone),
    /// `platform.report`: an invocation's summary, produced after every extension's `/event/next`.
    Report(Report),
    /// `function` or `extension`: one log line or JSON log record.
    Log {
        /// Who wrote it.
        source: LogSource,
        /// The line (string records), the record's `message`, or the whole record as JSON text.
        message: String,
        /// `level` of a JSON record.
        level: Option<String>,
        /// `requestId` of a JSON record.
        request_id: Option<RequestId>,
    },
    /// `platform.logsDropped`: the platform dropped records this subscriber could not take in time.
    LogsDropped {
        /// `droppedBytes`.
        dropped_bytes: Option<u64>,
        /// `droppedRecords`.
        dropped_records: Option<u64>,
        /// `reason`.
        reason: Option<String>,
    },
    /// Any other type (platform.extension, platform.telemetrySubscription, future types).
    Other {
        /// The `type` as delivered.
        kind: String,
        /// The `record` as delivered.
        record: Value,
    },
}

/// The record of `platform.start`. The invocation events are types of their own because their
/// content is kept with the invocation until its spans are built.
#[derive(Debug, Clone, PartialEq)]
pub struct Start {
    /// `requestId`.
    pub request_id: RequestId,
    /// `version`: the function version (`$LATEST` is not copied).
    pub version: Option<Cow<'static, str>>,
    /// `tracing`.
    pub tracing: Option<PlatformTracing>,
    /// `tenantId`: the tenant of a function in tenant isolation mode.
    pub tenant_id: Option<String>,
}

/// The record of `platform.runtimeDone`.
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeDone {
    /// `requestId`.
    pub request_id: RequestId,
    /// `status`.
    pub status: Option<PlatformStatus>,
    /// `errorType`, for failures and timeouts.
    pub error_type: Option<String>,
    /// `metrics.durationMs`: invoke handed to the runtime until its `/next`.
    pub duration_ms: Option<f64>,
    /// `metrics.producedBytes`: size of the response.
    pub produced_bytes: Option<u64>,
    /// `spans`: `responseLatency`, `responseDuration`, `runtimeOverhead`.
    pub spans: Vec<PlatformSpan>,
    /// `tracing`.
    pub tracing: Option<PlatformTracing>,
}

/// The record of `platform.report`.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// `requestId`.
    pub request_id: RequestId,
    /// `status`.
    pub status: Option<PlatformStatus>,
    /// `errorType`, for failures and timeouts.
    pub error_type: Option<String>,
    /// `metrics`.
    pub metrics: ReportMetrics,
    /// `spans`: `extensionOverhead` (default functions), `responseLatency`/`responseDuration` (LMI).
    pub spans: Vec<PlatformSpan>,
    /// `tracing`.
    pub tracing: Option<PlatformTracing>,
    /// `tenantId`: the tenant of a function in tenant isolation mode.
    pub tenant_id: Option<String>,
}

/// `metrics` of `platform.report`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportMetrics {
    /// `durationMs`.
    pub duration_ms: Option<f64>,
    /// `billedDurationMs`.
    pub billed_duration_ms: Option<u64>,
    /// `memorySizeMB`.
    pub memory_size_mb: Option<u64>,
    /// `maxMemoryUsedMB`.
    pub max_memory_used_mb: Option<u64>,
    /// `initDurationMs`: cold starts only.
    pub init_duration_ms: Option<f64>,
    /// `restoreDurationMs`: SnapStart only.
    pub restore_duration_ms: Option<f64>,
}

/// A phase's `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlatformStatus {
    /// `success`.
    Success,
    /// `failure` (rapid uses it for `Sandbox.*` errors).
    Failure,
    /// `error`.
    Error,
    /// `timeout`.
    Timeout,
    /// A value this version does not know, as delivered.
    Other(String),
}

impl PlatformStatus {
    /// Reads a status; the platform's values are lower case, others are compared case-insensitively.
    pub(super) fn parse(raw: &str) -> Self {
        // The platform's own spelling is matched exactly first: it is what every record carries.
        match raw {
            "success" => return Self::Success,
            "failure" => return Self::Failure,
            "error" => return Self::Error,
            "timeout" => return Self::Timeout,
            _ => {}
        }
        let known = [
            ("success", Self::Success),
            ("failure", Self::Failure),
            ("error", Self::Error),
            ("timeout", Self::Timeout),
        ];
        known
            .into_iter()
            .find(|(name, _)| raw.eq_ignore_ascii_case(name))
            .map_or_else(|| Self::Other(raw.to_owned()), |(_, status)| status)
    }

    /// The status as the platform spells it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Error => "error",
            Self::Timeout => "timeout",
            Self::Other(raw) => raw,
        }
    }
}

/// One entry of `spans`.
#[derive(Debug, Clone, PartialEq)]
pub struct PlatformSpan {
    /// `name`, e.g. `responseLatency` (the platform's own names are not copied).
    pub name: Cow<'static, str>,
    /// `start`; the event's time when unreadable.
    pub start: SystemTime,
    /// `durationMs`.
    pub duration_ms: f64,
}

/// `tracing` of `platform.start`, `runtimeDone` and `report`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformTracing {
    /// `spanId`: the platform's span for the invocation, when it made one.
    pub span_id: Option<String>,
    /// `value`: the X-Ray header (`Root=...;Parent=...;Sampled=...`).
    pub value: String,
}

/// Who wrote a log record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogSource {
    /// Type `function`: the function's stdout/stderr or its JSON log records.
    Function,
    /// Type `extension`: an extension's output (lambda-lens's own included).
    Extension,
}

/// Parses one delivered batch (a JSON array). Tolerant: unknown types → Other; unknown fields ignored;
/// `record` of function/extension may be a string (schema 2022-07-01 / text logs) or an object
/// {timestamp, level, requestId, message, ...} (JSON logs); an element that is not understood at all
/// is skipped and counted, never failing the batch. Returns (events, skipped).
///
/// A body that is not a JSON array counts as one skipped element.
pub fn parse_batch(body: &[u8]) -> (Vec<TelemetryEvent>, usize) {
    // Checking UTF-8 once up front lets serde_json borrow strings without checking each again.
    let batch =
        std::str::from_utf8(body)
            .ok()
            .and_then(|text| match Batch::<false>::read(text).ok()? {
                batch if batch.needs_text => Batch::<true>::read(text)
                    .ok()
                    .map(|batch| (batch.events, batch.skipped)),
                batch => Some((batch.events, batch.skipped)),
            });
    match batch {
        Some(read) => read,
        None => (Vec::new(), 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::time::tests::at_ms;

    #[test]
    fn statuses_round_trip() {
        for raw in ["success", "failure", "error", "timeout", "frozen"] {
            assert_eq!(PlatformStatus::parse(raw).as_str(), raw);
        }
        assert_eq!(PlatformStatus::parse("Timeout"), PlatformStatus::Timeout);
        assert_eq!(
            PlatformStatus::parse("frozen"),
            PlatformStatus::Other("frozen".into())
        );
    }

    #[test]
    fn wrong_field_types_cost_only_the_field() {
        let body = br#"[{"time":"2022-10-12T00:00:15.064Z","type":"platform.initStart",
            "record":{"functionName":7,"instanceMaxMemory":134217728.0,"phase":"init"}}]"#;
        let (events, skipped) = parse_batch(body);
        assert_eq!(skipped, 0);
        assert_eq!(
            events[0].body,
            TelemetryBody::InitStart {
                initialization_type: None,
                phase: Some("init".into()),
                function_name: None,
                function_version: None,
                instance_id: None,
                instance_max_memory: Some(134_217_728),
                runtime_version: None,
            }
        );
    }

    #[test]
    fn unreadable_spans_are_left_out_and_bad_starts_take_the_event_time() {
        let body = br#"[{"time":"2022-10-12T00:01:15.000Z","type":"platform.runtimeDone","record":{
            "requestId":"r1","spans":[{"name":"a","start":"soon","durationMs":1.5},
            {"name":"b"},{"durationMs":2},"c"]}}]"#;
        let (events, _) = parse_batch(body);
        let TelemetryBody::RuntimeDone(RuntimeDone { spans, .. }) = &events[0].body else {
            panic!("not runtimeDone: {:?}", events[0]);
        };
        assert_eq!(
            spans,
            &[PlatformSpan {
                name: "a".into(),
                start: at_ms(1_665_532_875_000),
                duration_ms: 1.5
            }]
        );
    }

    #[test]
    fn snapstart_restore_events_are_read() {
        let body = br#"[{"time":"2022-10-12T00:00:15.000Z","type":"platform.restoreStart","record":{"functionName":"f","functionVersion":"3","instanceId":"2022/10/12/[3]0a1b2c3d"}},
            {"time":"2022-10-12T00:00:15.300Z","type":"platform.restoreRuntimeDone","record":{"status":"success"}},
            {"time":"2022-10-12T00:00:15.310Z","type":"platform.restoreReport","record":{"status":"failure","errorType":"Runtime.Unknown","metrics":{"durationMs":310.5}}}]"#;
        let (events, skipped) = parse_batch(body);
        assert_eq!(skipped, 0);
        let bodies: Vec<&TelemetryBody> = events.iter().map(|e| &e.body).collect();
        assert_eq!(
            bodies,
            [
                &TelemetryBody::RestoreStart {
                    instance_id: Some("2022/10/12/[3]0a1b2c3d".into())
                },
                &TelemetryBody::RestoreRuntimeDone {
                    status: Some(PlatformStatus::Success),
                    error_type: None
                },
                &TelemetryBody::RestoreReport {
                    status: Some(PlatformStatus::Failure),
                    error_type: Some("Runtime.Unknown".into()),
                    duration_ms: Some(310.5)
                }
            ]
        );
        assert_eq!(events[1].time, at_ms(1_665_532_815_300));

        // Older schemas and odd records: still a restore, without an instance.
        let body = br#"[{"time":"2022-10-12T00:00:15.000Z","type":"platform.restoreStart"},
            {"time":"2022-10-12T00:00:15.000Z","type":"platform.restoreStart","record":"restoring"},
            {"time":"2022-10-12T00:00:15.000Z","type":"platform.restoreStart","record":{"instanceId":7}}]"#;
        let (events, skipped) = parse_batch(body);
        assert_eq!(skipped, 0);
        for event in &events {
            assert_eq!(
                event.body,
                TelemetryBody::RestoreStart { instance_id: None }
            );
        }
        assert_eq!(events.len(), 3);
    }

    #[test]
    fn the_platform_s_own_names_are_borrowed_and_others_copied() {
        let body = br#"[{"type":"platform.start","record":{"requestId":"r1","version":"$LATEST"}},
            {"type":"platform.start","record":{"requestId":"r2","version":"7"}},
            {"type":"platform.report","record":{"requestId":"r2","spans":[
             {"name":"extensionOverhead","durationMs":1},{"name":"mine","durationMs":2}]}}]"#;
        let (events, skipped) = parse_batch(body);
        assert_eq!(skipped, 0);
        let versions: Vec<&Option<Cow<'static, str>>> = events[..2]
            .iter()
            .map(|e| match &e.body {
                TelemetryBody::Start(start) => &start.version,
                other => panic!("not a start: {other:?}"),
            })
            .collect();
        assert!(matches!(versions[0], Some(Cow::Borrowed("$LATEST"))));
        assert!(matches!(versions[1], Some(Cow::Owned(v)) if v == "7"));
        let TelemetryBody::Report(report) = &events[2].body else {
            panic!("not a report: {:?}", events[2]);
        };
        assert!(matches!(
            report.spans[0].name,
            Cow::Borrowed("extensionOverhead")
        ));
        assert!(matches!(&report.spans[1].name, Cow::Owned(name) if name == "mine"));
    }

    #[test]
    fn the_tenant_is_read_from_start_and_report() {
        let body = br#"[{"time":"2025-10-13T19:48:00.000Z","type":"platform.start","record":{
            "requestId":"r1","version":"$LATEST","tenantId":"BlueTenant"}},
            {"time":"2025-10-13T19:48:00.120Z","type":"platform.report","record":{
            "requestId":"r1","status":"success","tenantId":"BlueTenant","metrics":{"durationMs":2.5}}},
            {"time":"2025-10-13T19:48:01.000Z","type":"platform.start","record":{
            "requestId":"r2","tenantId":""}},
            {"time":"2025-10-13T19:48:02.000Z","type":"platform.start","record":{
            "requestId":"r3","tenantId":17}}]"#;
        let (events, skipped) = parse_batch(body);
        assert_eq!(skipped, 0);
        let tenants: Vec<(&str, Option<&str>)> = events
            .iter()
            .map(|e| match &e.body {
                TelemetryBody::Start(s) => (s.request_id.as_str(), s.tenant_id.as_deref()),
                TelemetryBody::Report(r) => (r.request_id.as_str(), r.tenant_id.as_deref()),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(
            tenants,
            [
                ("r1", Some("BlueTenant")),
                ("r1", Some("BlueTenant")),
                ("r2", None),
                ("r3", None)
            ]
        );
    }

    #[test]
    fn missing_or_bad_time_is_replaced_by_now() {
        let before = SystemTime::now();
        let (events, skipped) = parse_batch(
            br#"[{"type":"function","record":"a"},{"time":5,"type":"extension","record":"b"}]"#,
        );
        let after = SystemTime::now();
        assert_eq!(skipped, 0);
        assert_eq!(events.len(), 2);
        for e in &events {
            assert!(e.time >= before && e.time <= after, "{e:?}");
        }
    }

    #[test]
    fn log_records_of_other_json_types_are_kept_as_text() {
        let (events, _) =
            parse_batch(br#"[{"time":"2022-10-12T00:03:50.000Z","type":"function","record":42}]"#);
        assert_eq!(
            events[0].body,
            TelemetryBody::Log {
                source: LogSource::Function,
                message: "42".into(),
                level: None,
                request_id: None
            }
        );
    }

    /// Whether `serde_json::Value` parses `body`: what this parser must accept, exactly.
    fn value_accepts(body: &str) -> bool {
        serde_json::from_str::<Value>(body).is_ok()
    }

    #[test]
    fn the_record_may_come_before_the_type() {
        let (first, _) = parse_batch(
            br#"[{"time":"2022-10-12T00:01:15.000Z","type":"platform.start","record":{"requestId":"r1","version":"7"}}]"#,
        );
        let (last, skipped) = parse_batch(
            br#"[{"record":{"requestId":"r1","version":"7"},"time":"2022-10-12T00:01:15.000Z","type":"platform.start"}]"#,
        );
        assert_eq!(skipped, 0);
        assert_eq!(first, last);
        assert_eq!(
            last[0].body,
            TelemetryBody::Start(Start {
                request_id: RequestId::new("r1"),
                version: Some("7".into()),
                tracing: None,
                tenant_id: None
            })
        );
    }

    #[test]
    fn records_read_in_passing_keep_nothing_of_the_one_before() {
        // Records first, as the sandbox writes them: each is read into the allocation the one
        // before it was built from.
        let body = br#"[{"record":{"requestId":"r1","version":"7","tenantId":"T","level":"INFO",
            "message":"m1","status":"success","tracing":{"value":"Root=1"},"metrics":{"durationMs":1.5},
            "spans":[{"name":"s","durationMs":2}]},"type":"platform.start"},
            {"record":{"requestId":"r2"},"type":"platform.start"},
            {"record":{"requestId":"r2"},"type":"platform.report"},
            {"record":{"message":"m2"},"type":"function"}]"#;
        let (events, skipped) = parse_batch(body);
        assert_eq!(skipped, 0);
        let bodies: Vec<TelemetryBody> = events.into_iter().map(|e| e.body).collect();
        assert_eq!(
            bodies,
            [
                TelemetryBody::Start(Start {
                    request_id: RequestId::new("r1"),
                    version: Some("7".into()),
                    tracing: Some(PlatformTracing {
                        span_id: None,
                        value: "Root=1".into()
                    }),
                    tenant_id: Some("T".into())
                }),
                TelemetryBody::Start(Start {
                    request_id: RequestId::new("r2"),
                    version: None,
                    tracing: None,
                    tenant_id: None
                }),
                TelemetryBody::Report(Report {
                    request_id: RequestId::new("r2"),
                    status: None,
                    error_type: None,
                    metrics: ReportMetrics::default(),
                    spans: Vec::new(),
                    tracing: None,
                    tenant_id: None
                }),
                TelemetryBody::Log {
                    source: LogSource::Function,
                    message: "m2".into(),
                    level: None,
                    request_id: None
                }
            ]
        );
    }

    #[test]
    fn the_last_of_duplicate_keys_wins_even_when_it_is_unreadable() {
        let body = br#"[{"type":"function","record":"first","type":"extension","record":"second"},
            {"type":"platform.report","record":{"requestId":"r1","status":"success","status":5,
             "metrics":{"durationMs":1.5},"metrics":{"billedDurationMs":2}}},
            {"type":"function","type":7,"record":"x"}]"#;
        let (events, skipped) = parse_batch(body);
        assert_eq!(skipped, 1);
        assert_eq!(
            events[0].body,
            TelemetryBody::Log {
                source: LogSource::Extension,
                message: "second".into(),
                level: None,
                request_id: None
            }
        );
        let TelemetryBody::Report(report) = &events[1].body else {
            panic!("not a report: {:?}", events[1]);
        };
        assert_eq!(report.status, None);
        assert_eq!(
            report.metrics,
            ReportMetrics {
                billed_duration_ms: Some(2),
                ..ReportMetrics::default()
            }
        );
    }

    #[test]
    fn elements_that_are_not_events_are_counted() {
        let body = br#"[1,"function",[{"type":"function","record":"x"}],{"record":"x"},
            {"type":"platform.start","record":"r1"},{"type":"platform.report","record":{"status":"success"}},
            {"type":"platform.initStart"},{"type":"function","record":"kept"}]"#;
        let (events, skipped) = parse_batch(body);
        assert_eq!((events.len(), skipped), (1, 7));
        for not_an_array in [&b"{}"[..], b"\"[]\"", b"[", b"[] []", b"", b"[\"\xff\"]"] {
            assert_eq!(parse_batch(not_an_array), (Vec::new(), 1));
        }
    }

    #[test]
    fn escaped_keys_and_strings_read_as_value_reads_them() {
        let body = br#"[{"\u0074ype":"function","record":{"message":"a\"b\u00e9\n","level":"INFO",
            "requestId":"r\/1"}}]"#;
        let (events, skipped) = parse_batch(body);
        assert_eq!(skipped, 0);
        assert_eq!(
            events[0].body,
            TelemetryBody::Log {
                source: LogSource::Function,
                message: "a\"b\u{e9}\n".into(),
                level: Some("INFO".into()),
                request_id: Some(RequestId::new("r/1"))
            }
        );
    }

    #[test]
    fn log_objects_without_a_message_and_other_types_keep_their_json() {
        let body = br#"[{"type":"extension","record":{"z": [1, 2.50], "a":{"b":null}}},
            {"type":"platform.extension","record":{"name":"x","events":["INVOKE"]}},
            {"type":"function"}]"#;
        let (events, skipped) = parse_batch(body);
        assert_eq!(skipped, 0);
        assert_eq!(
            events[0].body,
            TelemetryBody::Log {
                source: LogSource::Extension,
                message: r#"{"a":{"b":null},"z":[1,2.5]}"#.into(),
                level: None,
                request_id: None
            }
        );
        assert_eq!(
            events[1].body,
            TelemetryBody::Other {
                kind: "platform.extension".into(),
                record: serde_json::json!({"name": "x", "events": ["INVOKE"]})
            }
        );
        let TelemetryBody::Log { message, .. } = &events[2].body else {
            panic!("not a log: {:?}", events[2]);
        };
        assert_eq!(message, "null");
    }

    #[test]
    fn records_before_their_type_that_are_needed_as_text_are_read_again() {
        let first = br#"[{"type":"platform.start","record":{"requestId":"r1"}},
            {"type":"extension","record":{"z":1,"level":"WARN"}},
            {"type":"platform.extension","record":{"name":"x"}},{"type":"function","record":[1]}]"#;
        let last = br#"[{"record":{"requestId":"r1"},"type":"platform.start"},
            {"record":{"z":1,"level":"WARN"},"type":"extension"},
            {"record":{"name":"x"},"type":"platform.extension"},{"record":[1],"type":"function"}]"#;
        let (events, skipped) = parse_batch(last);
        assert_eq!((events.len(), skipped), (4, 0));
        let bodies =
            |events: Vec<TelemetryEvent>| events.into_iter().map(|e| e.body).collect::<Vec<_>>();
        assert_eq!(bodies(events.clone()), bodies(parse_batch(first).0));
        assert_eq!(
            events[1].body,
            TelemetryBody::Log {
                source: LogSource::Extension,
                message: r#"{"level":"WARN","z":1}"#.into(),
                level: Some("WARN".into()),
                request_id: None
            }
        );
    }

    #[test]
    fn a_batch_value_refuses_is_refused_whole() {
        let refused = [
            // A lone surrogate in a field nobody reads, in a replaced record, in a skipped element.
            r#"[{"type":"function","record":{"message":"m","x":"\ud800"}}]"#,
            r#"[{"type":"function","record":"\ud800","record":"ok"}]"#,
            r#"[{"record":["\udc00"]}]"#,
            r#"[{"type":"platform.restoreStart","record":{"x":"\ud800"}}]"#,
            r#"[{"type":"platform.start","record":{"requestId":"r","y":1e999}}]"#,
        ];
        for body in refused {
            assert!(!value_accepts(body), "{body}");
            assert_eq!(parse_batch(body.as_bytes()), (Vec::new(), 1), "{body}");
        }
    }

    #[test]
    fn records_nest_as_deep_as_value_allows_and_no_deeper() {
        for depth in [124, 125, 126, 127] {
            let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            let body =
                format!(r#"[{{"type":"function","record":"x"}},{{"type":"x","record":{nested}}}]"#);
            let (events, skipped) = parse_batch(body.as_bytes());
            if value_accepts(&body) {
                assert_eq!((events.len(), skipped), (2, 0), "depth {depth}");
            } else {
                assert_eq!((events.len(), skipped), (0, 1), "depth {depth}");
            }
        }
        assert!(value_accepts(&format!(
            "[{{\"r\":{}{}}}]",
            "[".repeat(125),
            "]".repeat(125)
        )));
        assert!(!value_accepts(&format!(
            "[{{\"r\":{}{}}}]",
            "[".repeat(126),
            "]".repeat(126)
        )));
    }
}
