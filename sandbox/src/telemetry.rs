//! Telemetry API: the event log, subscription validation, per-subscriber batching and delivery,
//! the freeze gate that holds delivery between invocations, retries and `platform.logsDropped`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use tokio::sync::Notify;

use crate::clock::iso8601_ms;
use crate::ids::ExtensionId;

/// Delivery attempts after the first failed POST before a batch is dropped.
const MAX_RETRIES: u32 = 3;
/// First retry delay; doubled for every further attempt.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// `reason` of `platform.logsDropped`, as documented for the Logs/Telemetry APIs.
const DROP_REASON: &str =
    "Consumer seems to have fallen behind as it has not acknowledged receipt of logs.";

/// A Telemetry API schema version a subscriber asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaVersion {
    /// `2022-07-01`: `function`/`extension` records are always strings.
    V2022_07_01,
    /// `2022-12-13`: records are objects when the log format is JSON.
    V2022_12_13,
    /// `2025-01-29`: as 2022-12-13 (also the only one Lambda Managed Instances accept).
    V2025_01_29,
}

impl SchemaVersion {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "2022-07-01" => Some(SchemaVersion::V2022_07_01),
            "2022-12-13" => Some(SchemaVersion::V2022_12_13),
            "2025-01-29" => Some(SchemaVersion::V2025_01_29),
            _ => None,
        }
    }
}

/// The three telemetry streams a subscriber can select.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Category {
    Platform,
    Function,
    Extension,
}

impl Category {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "platform" => Some(Category::Platform),
            "function" => Some(Category::Function),
            "extension" => Some(Category::Extension),
            _ => None,
        }
    }
}

/// Batching limits of one subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Buffering {
    pub max_items: usize,
    pub max_bytes: usize,
    pub timeout: Duration,
}

/// A validated `PUT /2022-07-01/telemetry` request.
#[derive(Debug, Clone)]
pub(crate) struct Subscription {
    pub schema: SchemaVersion,
    pub categories: Vec<Category>,
    /// The `types` exactly as requested, for `platform.telemetrySubscription`.
    pub type_names: Vec<String>,
    pub buffering: Buffering,
    /// Port on 127.0.0.1 (`sandbox.localdomain` resolves to the loopback here).
    pub port: u16,
    /// Path (and query) of the destination URI, honoured on delivery.
    pub path: String,
}

/// Documented ranges and defaults (the Telemetry API guide).
const MAX_ITEMS_RANGE: (u64, u64, u64) = (1_000, 10_000, 10_000);
const MAX_BYTES_RANGE: (u64, u64, u64) = (262_144, 1_048_576, 262_144);
const TIMEOUT_MS_RANGE: (u64, u64, u64) = (25, 30_000, 1_000);

/// Validates a subscription body; the error is the `errorMessage` of a 400 `ValidationError`.
pub(crate) fn parse_subscription(body: &[u8]) -> Result<Subscription, String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| format!("request body is not valid JSON: {e}"))?;
    let schema_str = v
        .get("schemaVersion")
        .and_then(Value::as_str)
        .ok_or("schemaVersion is required")?;
    let schema = SchemaVersion::parse(schema_str)
        .ok_or_else(|| format!("unsupported schemaVersion {schema_str:?}"))?;
    let types = v
        .get("types")
        .and_then(Value::as_array)
        .ok_or("types is required")?;
    if types.is_empty() {
        return Err("types should not be empty".to_owned());
    }
    let mut categories = Vec::new();
    let mut type_names = Vec::new();
    for t in types {
        let name = t.as_str().ok_or("types must be strings")?;
        let c = Category::parse(name).ok_or_else(|| format!("unknown type {name:?}"))?;
        if !categories.contains(&c) {
            categories.push(c);
            type_names.push(name.to_owned());
        }
    }
    let buffering = v.get("buffering").cloned().unwrap_or(Value::Null);
    let field = |name: &str, (min, max, default): (u64, u64, u64)| -> Result<u64, String> {
        match buffering.get(name) {
            None | Some(Value::Null) => Ok(default),
            Some(x) => match x.as_u64() {
                Some(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(format!(
                    "buffering.{name} must be an integer between {min} and {max}"
                )),
            },
        }
    };
    let buffering = Buffering {
        max_items: field("maxItems", MAX_ITEMS_RANGE)? as usize,
        max_bytes: field("maxBytes", MAX_BYTES_RANGE)? as usize,
        timeout: Duration::from_millis(field("timeoutMs", TIMEOUT_MS_RANGE)?),
    };
    let dest = v.get("destination").ok_or("destination is required")?;
    match dest.get("protocol").and_then(Value::as_str) {
        Some("HTTP") => {}
        Some("TCP") => {
            return Err("TCP destinations are not supported by lambda-sandbox; use HTTP".to_owned())
        }
        _ => return Err("destination.protocol must be HTTP or TCP".to_owned()),
    }
    let uri_str = dest
        .get("URI")
        .and_then(Value::as_str)
        .ok_or("destination.URI is required")?;
    let uri: http::Uri = uri_str
        .parse()
        .map_err(|_| format!("invalid URI {uri_str:?}"))?;
    if uri.scheme_str() != Some("http") {
        return Err("URI scheme must be http".to_owned());
    }
    match uri.host() {
        Some("sandbox.localdomain") | Some("sandbox") => {}
        _ => return Err("URI host must be sandbox.localdomain".to_owned()),
    }
    let port = uri.port_u16().ok_or("URI port is not provided")?;
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    Ok(Subscription {
        schema,
        categories,
        type_names,
        buffering,
        port,
        path,
    })
}

/// The payload of one event.
#[derive(Debug, Clone)]
enum Record {
    Platform(Value),
    /// A `function`/`extension` line; `object` is its JSON-format rendering (JSON log format only).
    Line {
        text: String,
        object: Option<Value>,
    },
}

#[derive(Debug)]
struct Event {
    time: String,
    kind: String,
    category: Category,
    record: Record,
}

impl Event {
    fn render(&self, schema: SchemaVersion) -> Value {
        let record = match &self.record {
            Record::Platform(v) => v.clone(),
            Record::Line { text, object } => match (schema, object) {
                (SchemaVersion::V2022_07_01, _) | (_, None) => Value::String(text.clone()),
                (_, Some(o)) => o.clone(),
            },
        };
        json!({"time": self.time, "type": self.kind, "record": record})
    }
}

struct SubSlot {
    key: u64,
    extension_id: ExtensionId,
    sub: Arc<Subscription>,
    queue: VecDeque<Vec<u8>>,
    queued_bytes: usize,
    first_at: Option<Instant>,
    in_flight: bool,
    closed: bool,
    notify: Arc<Notify>,
}

#[derive(Default)]
struct HubState {
    emitted: Vec<Value>,
    /// Events of the current init, replayed to later subscribers until subscriptions close.
    replay: Option<Vec<Arc<Event>>>,
    frozen: bool,
    /// Set during shutdown: deliver everything now instead of waiting for batch timeouts.
    flushing: bool,
    subs: Vec<SubSlot>,
    next_key: u64,
}

enum Step {
    Exit,
    Wait(Option<Instant>, Arc<Notify>),
    Send(Vec<Vec<u8>>, Arc<Subscription>),
}

/// Owner of every telemetry event and of all subscriptions' delivery tasks.
pub(crate) struct TelemetryHub {
    state: Mutex<HubState>,
    thawed: Notify,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl TelemetryHub {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(HubState::default()),
            thawed: Notify::new(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HubState> {
        self.state
            .lock()
            .expect("telemetry hub lock poisoned by a panicking thread")
    }

    /// Emits a `platform.*` event now.
    pub fn emit_platform(&self, kind: &str, record: Value) {
        self.emit(Event {
            time: now_time(),
            kind: kind.to_owned(),
            category: Category::Platform,
            record: Record::Platform(record),
        });
    }

    /// Emits a `function` or `extension` log line; `object` is the JSON-format record, if any.
    pub fn emit_line(&self, category: Category, text: String, object: Option<Value>) {
        let kind = if category == Category::Function {
            "function"
        } else {
            "extension"
        };
        self.emit(Event {
            time: now_time(),
            kind: kind.to_owned(),
            category,
            record: Record::Line { text, object },
        });
    }

    fn emit(&self, event: Event) {
        let event = Arc::new(event);
        let mut st = self.lock();
        st.emitted.push(event.render(SchemaVersion::V2025_01_29));
        if let Some(replay) = st.replay.as_mut() {
            replay.push(event.clone());
        }
        for slot in st.subs.iter_mut().filter(|s| !s.closed) {
            enqueue(slot, &event);
        }
    }

    /// Every event emitted so far, in order, rendered with the newest schema.
    pub fn emitted(&self) -> Vec<Value> {
        self.lock().emitted.clone()
    }

    /// The extensions subscribed now, in the order they subscribed.
    pub fn subscribers(&self) -> Vec<ExtensionId> {
        let st = self.lock();
        st.subs
            .iter()
            .filter(|s| !s.closed)
            .map(|s| s.extension_id.clone())
            .collect()
    }

    /// Starts buffering init events for replay to subscribers that arrive later.
    pub fn begin_init(&self) {
        self.lock().replay = Some(Vec::new());
    }

    /// Subscriptions are closed: stop buffering init events.
    pub fn end_replay(&self) {
        self.lock().replay = None;
    }

    /// Adds (or replaces) the subscription of `extension_id`, replays init events and starts delivery.
    pub fn subscribe(self: &Arc<Self>, extension_id: ExtensionId, sub: Subscription) {
        let sub = Arc::new(sub);
        let key = {
            let mut st = self.lock();
            for old in st
                .subs
                .iter_mut()
                .filter(|s| s.extension_id == extension_id)
            {
                old.closed = true;
                old.notify.notify_one();
            }
            let key = st.next_key;
            st.next_key += 1;
            let mut slot = SubSlot {
                key,
                extension_id,
                sub,
                queue: VecDeque::new(),
                queued_bytes: 0,
                first_at: None,
                in_flight: false,
                closed: false,
                notify: Arc::new(Notify::new()),
            };
            for event in st.replay.iter().flatten() {
                enqueue(&mut slot, event);
            }
            st.subs.push(slot);
            key
        };
        tokio::spawn(self.clone().deliver_loop(key));
    }

    /// Holds (`true`) or releases (`false`) all delivery. Set before emitting `platform.report`, so
    /// the report of a completed invoke can only leave at the next thaw.
    pub fn set_frozen(&self, frozen: bool) {
        let mut st = self.lock();
        st.frozen = frozen;
        if !frozen {
            for slot in &st.subs {
                slot.notify.notify_one();
            }
            self.thawed.notify_waiters();
        }
    }

    /// Delivers everything queued now and waits (until `deadline`) for the queues to drain.
    pub async fn flush(&self, deadline: Instant) {
        {
            let mut st = self.lock();
            st.flushing = true;
            for slot in &st.subs {
                slot.notify.notify_one();
            }
        }
        while Instant::now() < deadline {
            if self
                .lock()
                .subs
                .iter()
                .all(|s| s.closed || (s.queue.is_empty() && !s.in_flight))
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Ends all subscriptions (environment reset or shutdown); undelivered events are discarded.
    pub fn close_all(&self) {
        let mut st = self.lock();
        for slot in st.subs.iter_mut() {
            slot.closed = true;
            slot.notify.notify_one();
        }
        st.subs.clear();
        st.flushing = false;
        st.replay = None;
    }

    fn next_step(&self, key: u64) -> Step {
        let mut st = self.lock();
        let (frozen, flushing) = (st.frozen, st.flushing);
        let Some(slot) = st.subs.iter_mut().find(|s| s.key == key && !s.closed) else {
            return Step::Exit;
        };
        let b = slot.sub.buffering;
        let Some(first_at) = slot.first_at.filter(|_| !slot.queue.is_empty() && !frozen) else {
            return Step::Wait(None, slot.notify.clone());
        };
        let full = slot.queue.len() >= b.max_items || slot.queued_bytes >= b.max_bytes;
        let due_at = first_at + b.timeout;
        if !(flushing || full || Instant::now() >= due_at) {
            return Step::Wait(Some(due_at), slot.notify.clone());
        }
        let mut batch = Vec::new();
        let mut bytes = 0;
        while batch.len() < b.max_items && bytes < b.max_bytes {
            let Some(item) = slot.queue.pop_front() else {
                break;
            };
            bytes += wire_len(&item);
            batch.push(item);
        }
        slot.queued_bytes -= bytes;
        slot.first_at = (!slot.queue.is_empty()).then(Instant::now);
        slot.in_flight = true;
        Step::Send(batch, slot.sub.clone())
    }

    async fn deliver_loop(self: Arc<Self>, key: u64) {
        loop {
            match self.next_step(key) {
                Step::Exit => return,
                Step::Wait(deadline, notify) => match deadline {
                    Some(at) => {
                        tokio::select! {
                            _ = notify.notified() => {}
                            _ = tokio::time::sleep_until(at.into()) => {}
                        }
                    }
                    None => notify.notified().await,
                },
                Step::Send(batch, sub) => {
                    let records = batch.len();
                    let bytes: usize = batch.iter().map(Vec::len).sum();
                    let delivered = self.post_with_retries(key, &sub, join_array(batch)).await;
                    let report_drop = {
                        let mut st = self.lock();
                        if let Some(slot) = st.subs.iter_mut().find(|s| s.key == key) {
                            slot.in_flight = false;
                        }
                        !delivered
                            && !st.flushing
                            && st.subs.iter().any(|s| s.key == key && !s.closed)
                    };
                    if report_drop {
                        self.emit_platform(
                            "platform.logsDropped",
                            json!({"droppedBytes": bytes, "droppedRecords": records, "reason": DROP_REASON}),
                        );
                    }
                }
            }
        }
    }

    /// POSTs one batch, retrying with exponential backoff; `false` when the batch is dropped.
    async fn post_with_retries(&self, key: u64, sub: &Subscription, body: Bytes) -> bool {
        let mut backoff = FIRST_BACKOFF;
        for attempt in 0..=MAX_RETRIES {
            if attempt > 0 {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                self.wait_thawed().await;
            }
            if !self.lock().subs.iter().any(|s| s.key == key && !s.closed) {
                return false;
            }
            if self.post(sub, body.clone()).await {
                return true;
            }
            tracing::debug!(port = sub.port, attempt, "telemetry delivery failed");
        }
        false
    }

    async fn wait_thawed(&self) {
        loop {
            let notified = self.thawed.notified();
            if !self.lock().frozen {
                return;
            }
            notified.await;
        }
    }

    async fn post(&self, sub: &Subscription, body: Bytes) -> bool {
        let request = http::Request::post(format!("http://127.0.0.1:{}{}", sub.port, sub.path))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .expect("telemetry POST request parts are valid");
        match self.client.request(request).await {
            Ok(resp) => {
                let ok = resp.status().is_success();
                // Drain the body so the connection can be reused.
                let _ = resp.into_body().collect().await;
                ok
            }
            Err(_) => false,
        }
    }
}

fn enqueue(slot: &mut SubSlot, event: &Event) {
    if !slot.sub.categories.contains(&event.category) {
        return;
    }
    let bytes =
        serde_json::to_vec(&event.render(slot.sub.schema)).expect("telemetry events serialize");
    slot.queued_bytes += wire_len(&bytes);
    slot.queue.push_back(bytes);
    if slot.first_at.is_none() {
        slot.first_at = Some(Instant::now());
    }
    slot.notify.notify_one();
}

/// Bytes one event adds to a POSTed array: the event plus its `,` (or the opening `[`).
fn wire_len(event: &[u8]) -> usize {
    event.len() + 1
}

fn join_array(items: Vec<Vec<u8>>) -> Bytes {
    let mut out = Vec::with_capacity(items.iter().map(|i| i.len() + 1).sum::<usize>() + 2);
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item);
    }
    out.push(b']');
    Bytes::from(out)
}

fn now_time() -> String {
    iso8601_ms(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Vec<u8> {
        serde_json::to_vec(&v).expect("json")
    }

    #[test]
    fn defaults_and_ranges() {
        let ok = parse_subscription(&body(json!({
            "schemaVersion": "2022-12-13", "types": ["platform", "function"],
            "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:4243/lambda?x=1"}
        })))
        .expect("valid");
        assert_eq!(
            ok.buffering,
            Buffering {
                max_items: 10_000,
                max_bytes: 262_144,
                timeout: Duration::from_millis(1_000)
            }
        );
        assert_eq!((ok.port, ok.path.as_str()), (4243, "/lambda?x=1"));
        let bad = |v: Value| parse_subscription(&body(v)).expect_err("must be rejected");
        let dest = json!({"protocol": "HTTP", "URI": "http://sandbox:1234"});
        assert!(bad(
            json!({"schemaVersion": "2021-03-18", "types": ["platform"], "destination": dest})
        )
        .contains("schemaVersion"));
        assert!(
            bad(json!({"schemaVersion": "2022-07-01", "types": [], "destination": dest}))
                .contains("types")
        );
        assert!(bad(json!({"schemaVersion": "2022-07-01", "types": ["platform"], "buffering": {"timeoutMs": 24}, "destination": dest})).contains("timeoutMs"));
        assert!(bad(json!({"schemaVersion": "2022-07-01", "types": ["platform"], "buffering": {"maxItems": 999}, "destination": dest})).contains("maxItems"));
        assert!(bad(json!({"schemaVersion": "2022-07-01", "types": ["platform"], "buffering": {"maxBytes": 1_048_577}, "destination": dest})).contains("maxBytes"));
        assert_eq!(
            bad(
                json!({"schemaVersion": "2022-07-01", "types": ["platform"], "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain"}})
            ),
            "URI port is not provided"
        );
        assert!(bad(json!({"schemaVersion": "2022-07-01", "types": ["platform"], "destination": {"protocol": "HTTP", "URI": "http://example.com:80"}})).contains("host"));
    }
}
