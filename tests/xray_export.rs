//! Direct X-Ray export against a local HTTPS receiver that plays X-Ray's OTLP endpoint: it
//! checks every request's SigV4 signature (recomputed here from the request as received, with
//! HMAC/SHA-256 from the `hmac`/`sha2` crates, independently of the exporter's ring-based
//! signer), answers 403 to a bad one, and decodes the OTLP protobuf (gunzipped when
//! `content-encoding: gzip`).
//!
//! The receiver's certificate is made at test time by rcgen, signed by a test CA that the
//! exporter trusts through `OTEL_EXPORTER_OTLP_CERTIFICATE`. Configuration goes through lookup
//! functions, never the process environment; every listener binds port 0.

use std::collections::HashMap;
use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceState};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span as ProtoSpan;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use opentelemetry_sdk::Resource;
use prost::Message;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

use lambda_lens::export::{
    Exporter, TRUNCATION_MARKER, XRAY_MAX_BATCH_SPANS, XRAY_MAX_REQUEST_BYTES, XRAY_MAX_SPAN_BYTES,
};
use lambda_lens::settings::{Destination, ExportSettings, ExportTarget, SettingsGroup, Transport};
use lambda_lens::trace_context::new_xray_trace_id;

const ACCESS_KEY_ID: &str = "ASIATESTACCESSKEY";
const SECRET_ACCESS_KEY: &str = "test/secret+access/key";
const SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLE//session/token+with=padding==";
const REGION: &str = "eu-west-1";
/// The most a request's `x-amz-date` may differ from the receiver's clock (AWS allows 5 min).
const CLOCK_SKEW: Duration = Duration::from_secs(300);
const BUDGET: Duration = Duration::from_secs(30);

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HeaderMap,
    /// The body as received (compressed when `content-encoding: gzip`).
    body: Bytes,
    /// `Ok` when the signature checked out, else why not.
    verdict: Result<(), String>,
}

impl Received {
    /// The decoded OTLP request.
    fn request(&self) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest::decode(self.plain_body().as_slice())
            .expect("the body is an OTLP protobuf export request")
    }

    /// The body uncompressed.
    fn plain_body(&self) -> Vec<u8> {
        match self.headers.get("content-encoding") {
            Some(encoding) => {
                assert_eq!(encoding, "gzip", "X-Ray accepts gzip or nothing");
                let mut plain = Vec::new();
                flate2::read::GzDecoder::new(self.body.as_ref())
                    .read_to_end(&mut plain)
                    .expect("a gzip body decompresses");
                plain
            }
            None => self.body.to_vec(),
        }
    }

    fn spans(&self) -> Vec<ProtoSpan> {
        self.request()
            .resource_spans
            .into_iter()
            .flat_map(|resource| resource.scope_spans)
            .flat_map(|scope| scope.spans)
            .collect()
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("the request has a {name} header"))
            .to_str()
            .expect("the header is ASCII")
    }
}

/// The fake X-Ray endpoint: HTTPS on a loopback port with a test CA's certificate.
struct XrayReceiver {
    addr: SocketAddr,
    /// PEM file of the test CA, for `OTEL_EXPORTER_OTLP_CERTIFICATE`.
    ca_file: PathBuf,
    received: Arc<Mutex<Vec<Received>>>,
}

impl XrayReceiver {
    async fn start() -> Self {
        let mut ca_params = CertificateParams::new(Vec::<String>::new())
            .expect("empty subject alternative names are valid");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "lambda-lens test CA");
        let ca_key = KeyPair::generate().expect("ring generates a key pair");
        let ca = ca_params
            .self_signed(&ca_key)
            .expect("the CA certificate self-signs");
        let leaf_key = KeyPair::generate().expect("ring generates a key pair");
        let leaf = CertificateParams::new(vec!["localhost".to_owned()])
            .expect("localhost is a valid DNS name")
            .signed_by(&leaf_key, &ca, &ca_key)
            .expect("the CA signs the server certificate");

        let tls = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
            )
            .expect("the generated certificate and key match");
        let acceptor = TlsAcceptor::from(Arc::new(tls));

        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("loopback port 0 binds");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let ca_file = std::env::temp_dir().join(format!(
            "lambda-lens-xray-ca-{}-{}.pem",
            std::process::id(),
            addr.port()
        ));
        std::fs::write(&ca_file, ca.pem()).expect("the temp directory is writable");

        let received = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&received);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                let log = Arc::clone(&log);
                tokio::spawn(async move {
                    // A client that does not trust the CA aborts the handshake: nothing to serve.
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service =
                        service_fn(move |request| handle(request, addr, Arc::clone(&log)));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            ca_file,
            received,
        }
    }

    fn endpoint(&self) -> String {
        format!("https://localhost:{}/v1/traces", self.addr.port())
    }

    fn received(&self) -> Vec<Received> {
        self.received
            .lock()
            .expect("the receiver's lock is not poisoned")
            .clone()
    }
}

impl Drop for XrayReceiver {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.ca_file);
    }
}

/// Records the request and answers as X-Ray would: 200 with an empty export response when the
/// signature checks out, 403 otherwise.
async fn handle(
    request: Request<Incoming>,
    addr: SocketAddr,
    log: Arc<Mutex<Vec<Received>>>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let verdict = verify_sigv4(&parts, &body, addr);
    let status = if verdict.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::FORBIDDEN
    };
    log.lock()
        .expect("the receiver's lock is not poisoned")
        .push(Received {
            path: parts.uri.path().to_owned(),
            headers: parts.headers,
            body,
            verdict,
        });
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/x-protobuf")
        .body(Full::new(Bytes::new()))
        .expect("the response is valid"))
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], message: &str) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Verifies a SigV4-signed request from the specification, as X-Ray would: the credential scope
/// (this access key, today's date, our region, service `xray`), the headers that must be signed,
/// the date's freshness, and the signature recomputed over the received headers and body bytes.
fn verify_sigv4(parts: &http::request::Parts, body: &[u8], addr: SocketAddr) -> Result<(), String> {
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .ok_or_else(|| format!("no {name} header"))
    };
    let authorization = header("authorization")?;
    let fields = authorization
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or("not AWS4-HMAC-SHA256")?;
    let field = |name: &str| {
        fields
            .split(", ")
            .find_map(|field| field.strip_prefix(&format!("{name}=")))
            .ok_or_else(|| format!("no {name} in Authorization"))
    };
    let (credential, signed_headers, signature) = (
        field("Credential")?,
        field("SignedHeaders")?,
        field("Signature")?,
    );

    let amz_date = header("x-amz-date")?;
    let signed_at = humantime::parse_rfc3339(&format!(
        "{}-{}-{}T{}:{}:{}Z",
        &amz_date[0..4],
        &amz_date[4..6],
        &amz_date[6..8],
        &amz_date[9..11],
        &amz_date[11..13],
        &amz_date[13..15]
    ))
    .map_err(|error| format!("x-amz-date {amz_date}: {error}"))?;
    let skew = SystemTime::now()
        .duration_since(signed_at)
        .unwrap_or_else(|early| early.duration());
    if skew > CLOCK_SKEW {
        return Err(format!("x-amz-date {amz_date} is {skew:?} off"));
    }
    // Each AWS OTLP endpoint has its own SigV4 service.
    let service = match parts.uri.path() {
        "/v1/logs" => "logs",
        "/v1/metrics" => "monitoring",
        _ => "xray",
    };
    let scope = format!("{}/{REGION}/{service}/aws4_request", &amz_date[..8]);
    if credential != format!("{ACCESS_KEY_ID}/{scope}") {
        return Err(format!(
            "credential {credential} is not {ACCESS_KEY_ID}/{scope}"
        ));
    }
    if header("host")? != format!("localhost:{}", addr.port()) {
        return Err(format!("host {} is not this endpoint", header("host")?));
    }
    if header("x-amz-security-token")? != SESSION_TOKEN {
        return Err("x-amz-security-token is not the session token".into());
    }
    let signed: Vec<&str> = signed_headers.split(';').collect();
    let mut required = vec!["content-type", "host", "x-amz-date", "x-amz-security-token"];
    if parts.headers.contains_key("content-encoding") {
        required.push("content-encoding");
    }
    if let Some(missing) = required.iter().find(|name| !signed.contains(name)) {
        return Err(format!("{missing} is not signed"));
    }
    let mut sorted = signed.clone();
    sorted.sort_unstable();
    if sorted != signed {
        return Err("SignedHeaders are not sorted".into());
    }

    let canonical_headers: String = signed
        .iter()
        .map(|name| {
            let value = header(name)?;
            Ok(format!(
                "{name}:{}\n",
                value.split_whitespace().collect::<Vec<_>>().join(" ")
            ))
        })
        .collect::<Result<_, String>>()?;
    if parts.uri.query().is_some() {
        return Err("X-Ray's endpoint takes no query".into());
    }
    let canonical_request = format!(
        "{}\n{}\n\n{canonical_headers}\n{signed_headers}\n{}",
        parts.method,
        parts.uri.path(),
        hex(&Sha256::digest(body))
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let key = [service, "aws4_request"].iter().fold(
        hmac(
            &hmac(
                format!("AWS4{SECRET_ACCESS_KEY}").as_bytes(),
                &amz_date[..8],
            ),
            REGION,
        ),
        |key, part| hmac(&key, part),
    );
    let expected = hex(&hmac(&key, &string_to_sign));
    if signature != expected {
        return Err(format!("signature {signature} is not {expected}"));
    }
    Ok(())
}

fn resource() -> Resource {
    Resource::builder_empty()
        .with_attributes([KeyValue::new("service.name", "orders-fn")])
        .build()
}

/// A finished span with an X-Ray-compatible trace id, started a second ago.
fn span(index: u64, attributes: Vec<KeyValue>) -> SpanData {
    let now = SystemTime::now();
    SpanData {
        span_context: SpanContext::new(
            new_xray_trace_id(now),
            SpanId::from(index + 1),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: SpanKind::Server,
        name: format!("invoke-{index}").into(),
        start_time: now - Duration::from_secs(1),
        end_time: now,
        attributes,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: InstrumentationScope::builder("lambda-lens").build(),
    }
}

fn small_spans(count: u64) -> Vec<SpanData> {
    (0..count)
        .map(|index| span(index, vec![KeyValue::new("faas.coldstart", index == 0)]))
        .collect()
}

/// An X-Ray exporter pointed at `receiver` (trusted through `OTEL_EXPORTER_OTLP_CERTIFICATE`)
/// with the test credentials, `extra` variables overriding.
fn xray_exporter(
    receiver: &XrayReceiver,
    settings: &ExportSettings,
    extra: &[(&str, &str)],
) -> Exporter {
    let mut vars: HashMap<String, String> = [
        ("LAMBDA_LENS_EXPORT_TARGET", "xray".to_owned()),
        ("LAMBDA_LENS_XRAY_ENDPOINT", receiver.endpoint()),
        (
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            receiver.ca_file.display().to_string(),
        ),
        ("AWS_REGION", REGION.to_owned()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.to_owned()),
        ("AWS_SESSION_TOKEN", SESSION_TOKEN.to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    for (name, value) in extra {
        vars.insert((*name).to_owned(), (*value).to_owned());
    }
    let settings = ExportSettings {
        destination: Destination::from_lookup(|name| vars.get(name).cloned()).0,
        ..settings.clone()
    };
    Exporter::new(&settings, resource())
        .expect("the X-Ray configuration is complete")
        .expect("the exporter is enabled")
}

/// Settings for tests that queue and send many spans at once.
fn roomy_settings() -> ExportSettings {
    ExportSettings {
        queue_capacity: 30_000,
        flush_timeout: BUDGET,
        ..ExportSettings::default()
    }
}

fn span_names(received: &[Received]) -> Vec<String> {
    received
        .iter()
        .flat_map(Received::spans)
        .map(|span| span.name)
        .collect()
}

#[tokio::test]
async fn signed_https_export_arrives_and_the_signature_verifies() {
    let receiver = XrayReceiver::start().await;
    let mut exporter = xray_exporter(&receiver, &roomy_settings(), &[]);
    assert_eq!(exporter.target(), ExportTarget::Xray);
    assert_eq!(exporter.transport(), Transport::HttpProtobuf);
    assert_eq!(exporter.endpoint(), receiver.endpoint());

    let sent = small_spans(3);
    let trace_ids: Vec<String> = sent
        .iter()
        .map(|span| span.span_context.trace_id().to_string())
        .collect();
    exporter.enqueue(sent);
    let outcome = exporter.flush(BUDGET).await;
    assert_eq!(outcome.error, None, "{outcome:?}");
    assert_eq!(outcome.exported, 3);
    assert_eq!(exporter.queued(), 0);

    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.verdict, Ok(()));
    assert_eq!(request.header("x-amz-security-token"), SESSION_TOKEN);
    assert_eq!(
        request.header("host"),
        format!("localhost:{}", receiver.addr.port())
    );
    assert_eq!(request.header("content-type"), "application/x-protobuf");
    assert!(!request.headers.contains_key("content-encoding"));
    assert!(
        request.header("authorization").contains(
            "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature="
        ),
        "{}",
        request.header("authorization")
    );
    assert_eq!(span_names(&received), ["invoke-0", "invoke-1", "invoke-2"]);

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after the epoch")
        .as_secs();
    for (span, sent_id) in request.spans().iter().zip(&trace_ids) {
        let trace_id = hex(&span.trace_id);
        assert_eq!(&trace_id, sent_id);
        // X-Ray-compatible: the first 32 bits are the epoch second the trace started.
        let epoch = u64::from_str_radix(&trace_id[..8], 16).expect("hex digits");
        assert!(
            now - epoch < 60,
            "trace id {trace_id} does not start with now's epoch"
        );
    }
}

#[tokio::test]
async fn gzip_bodies_are_signed_as_sent_with_content_encoding() {
    let receiver = XrayReceiver::start().await;
    let mut exporter = xray_exporter(
        &receiver,
        &roomy_settings(),
        &[("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")],
    );
    exporter.enqueue(small_spans(5));
    let outcome = exporter.flush(BUDGET).await;
    assert_eq!(outcome.error, None, "{outcome:?}");

    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].verdict, Ok(()));
    assert_eq!(received[0].header("content-encoding"), "gzip");
    assert!(received[0].header("authorization").contains(
        "SignedHeaders=content-encoding;content-type;host;x-amz-date;x-amz-security-token,"
    ));
    assert_ne!(
        received[0].body.as_ref(),
        received[0].plain_body().as_slice(),
        "the signed payload is the compressed body"
    );
    assert_eq!(span_names(&received).len(), 5);
}

#[tokio::test]
async fn grpc_is_replaced_by_http_protobuf() {
    let receiver = XrayReceiver::start().await;
    let mut exporter = xray_exporter(
        &receiver,
        &roomy_settings(),
        &[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")],
    );
    assert_eq!(exporter.transport(), Transport::HttpProtobuf);
    exporter.enqueue(small_spans(1));
    assert_eq!(exporter.flush(BUDGET).await.error, None);
    assert_eq!(receiver.received()[0].verdict, Ok(()));
}

#[tokio::test]
async fn wrong_credentials_are_rejected_with_403_and_the_spans_requeued() {
    let receiver = XrayReceiver::start().await;
    let mut exporter = xray_exporter(
        &receiver,
        &roomy_settings(),
        &[("AWS_SECRET_ACCESS_KEY", "not-the-secret")],
    );
    exporter.enqueue(small_spans(4));
    let outcome = exporter.flush(BUDGET).await;
    assert_eq!(outcome.exported, 0, "{outcome:?}");
    assert_eq!(outcome.requeued, 4);
    assert_eq!(exporter.queued(), 4);
    let error = outcome.error.expect("a rejected flush says why");
    assert!(error.contains("403"), "{error}");

    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let verdict = received[0]
        .verdict
        .as_ref()
        .expect_err("the signature is wrong");
    assert!(verdict.starts_with("signature "), "{verdict}");
}

#[tokio::test]
async fn without_the_certificate_file_the_test_ca_is_not_trusted() {
    let receiver = XrayReceiver::start().await;
    let mut exporter = xray_exporter(
        &receiver,
        &roomy_settings(),
        &[("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem")],
    );
    exporter.enqueue(small_spans(2));
    let outcome = exporter.flush(Duration::from_secs(5)).await;
    assert!(outcome.error.is_some(), "{outcome:?}");
    assert_eq!(exporter.queued(), 2, "the spans wait for the next flush");
    assert!(receiver.received().is_empty(), "the TLS handshake failed");
}

#[tokio::test]
async fn twenty_five_thousand_spans_go_in_three_requests() {
    let receiver = XrayReceiver::start().await;
    let mut exporter = xray_exporter(&receiver, &roomy_settings(), &[]);
    exporter.enqueue(small_spans(25_000));
    let outcome = exporter.flush(BUDGET).await;
    assert_eq!(outcome.error, None, "{outcome:?}");
    assert_eq!(outcome.exported, 25_000);

    let received = receiver.received();
    let counts: Vec<usize> = received
        .iter()
        .map(|request| request.spans().len())
        .collect();
    assert_eq!(counts, [XRAY_MAX_BATCH_SPANS, XRAY_MAX_BATCH_SPANS, 5_000]);
    assert!(received.iter().all(|request| request.verdict.is_ok()));
    let names = span_names(&received);
    assert_eq!(names.first().map(String::as_str), Some("invoke-0"));
    assert_eq!(names.last().map(String::as_str), Some("invoke-24999"));
}

#[tokio::test]
async fn batches_over_five_megabytes_are_split() {
    let receiver = XrayReceiver::start().await;
    let mut exporter = xray_exporter(&receiver, &roomy_settings(), &[]);
    // 40 spans of about 150 KB each: 6 MB in all, each span under the 200 KB span limit.
    let spans: Vec<SpanData> = (0..40)
        .map(|index| span(index, vec![KeyValue::new("payload", "x".repeat(150_000))]))
        .collect();
    exporter.enqueue(spans);
    let outcome = exporter.flush(BUDGET).await;
    assert_eq!(outcome.error, None, "{outcome:?}");
    assert_eq!(outcome.exported, 40);

    let received = receiver.received();
    assert_eq!(received.len(), 2, "6 MB needs two requests of at most 5 MB");
    for request in &received {
        let size = request.plain_body().len();
        assert!(size <= XRAY_MAX_REQUEST_BYTES, "a request of {size} bytes");
        // Filled up to the limit, not split needlessly small.
        assert!(request.spans().len() > 1);
    }
    assert_eq!(span_names(&received).len(), 40);
    assert_eq!(exporter.dropped().spans, 0);
}

#[tokio::test]
async fn an_oversized_span_has_its_longest_attribute_truncated() {
    let receiver = XrayReceiver::start().await;
    let mut exporter = xray_exporter(&receiver, &roomy_settings(), &[]);
    let mut big = span(
        0,
        vec![
            KeyValue::new("http.request.body", "é".repeat(150_000)),
            KeyValue::new("faas.invocation_id", "request-0"),
        ],
    );
    big.events.events.push(opentelemetry::trace::Event::new(
        "log",
        SystemTime::now(),
        vec![KeyValue::new("message", "m".repeat(50_000))],
        0,
    ));
    exporter.enqueue(vec![big]);
    assert_eq!(exporter.dropped().spans, 0);
    let outcome = exporter.flush(BUDGET).await;
    assert_eq!(outcome.error, None, "{outcome:?}");

    let spans = receiver.received()[0].spans();
    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    assert!(
        span.encoded_len() <= XRAY_MAX_SPAN_BYTES,
        "{} bytes",
        span.encoded_len()
    );
    let string_attribute = |attributes: &[opentelemetry_proto::tonic::common::v1::KeyValue],
                            key: &str| {
        attributes
            .iter()
            .find(|attribute| attribute.key == key)
            .and_then(|attribute| attribute.value.as_ref())
            .and_then(|value| match &value.value {
                Some(opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(
                    text,
                )) => Some(text.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("a string attribute {key}"))
    };
    let body = string_attribute(&span.attributes, "http.request.body");
    assert!(
        body.ends_with(TRUNCATION_MARKER),
        "the longest value is cut"
    );
    assert!(body.len() > 100_000, "only as much as needed is cut");
    assert_eq!(
        string_attribute(&span.attributes, "faas.invocation_id"),
        "request-0"
    );
    assert_eq!(
        string_attribute(&span.events[0].attributes, "message"),
        "m".repeat(50_000),
        "the shorter event attribute is left alone"
    );
}

#[tokio::test]
async fn a_span_too_large_to_truncate_is_dropped_and_counted() {
    let receiver = XrayReceiver::start().await;
    let mut exporter = xray_exporter(&receiver, &roomy_settings(), &[]);
    let mut huge = span(0, Vec::new());
    huge.name = "n".repeat(250_000).into();
    let mut spans = vec![huge];
    spans.extend(small_spans(2));
    exporter.enqueue(spans);
    assert_eq!(exporter.dropped().spans, 1);
    assert_eq!(exporter.queued(), 2);
    let outcome = exporter.flush(BUDGET).await;
    assert_eq!(outcome.error, None, "{outcome:?}");
    assert_eq!(span_names(&receiver.received()), ["invoke-0", "invoke-1"]);
}

#[tokio::test]
async fn log_records_go_to_cloudwatch_logs_signed_for_service_logs() {
    use lambda_lens::export::SCOPE_NAME;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue};
    use opentelemetry_proto::tonic::logs::v1::LogRecord;

    let receiver = XrayReceiver::start().await;
    let logs_endpoint = format!("https://localhost:{}/v1/logs", receiver.addr.port());
    let mut exporter = xray_exporter(
        &receiver,
        &roomy_settings(),
        &[
            (
                "LAMBDA_LENS_CLOUDWATCH_LOGS_ENDPOINT",
                logs_endpoint.as_str(),
            ),
            ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/orders-fn"),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/01/01/[$LATEST]0123"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
        ],
    );
    assert!(exporter.logs_enabled());
    let record = LogRecord {
        time_unix_nano: 1_700_000_000_000_000_000,
        severity_number: 17,
        severity_text: "ERROR".to_owned(),
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue("boom".to_owned())),
        }),
        trace_id: vec![7; 16],
        span_id: vec![9; 8],
        ..LogRecord::default()
    };
    exporter.enqueue_logs(vec![record.clone()]);
    assert_eq!(exporter.queued(), 1);

    let outcome = exporter.flush(BUDGET).await;

    assert_eq!(outcome.logs.error, None, "{outcome:?}");
    assert_eq!(outcome.logs.exported, 1);
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.path, "/v1/logs");
    assert_eq!(request.verdict, Ok(()), "signed for service logs");
    assert!(request
        .header("authorization")
        .contains("/logs/aws4_request"));
    assert_eq!(request.header("x-aws-log-group"), "/aws/lambda/orders-fn");
    assert_eq!(
        request.header("x-aws-log-stream"),
        "2026/01/01/[$LATEST]0123"
    );
    let decoded = ExportLogsServiceRequest::decode(request.plain_body().as_slice())
        .expect("an OTLP logs export request");
    let resource_logs = &decoded.resource_logs[0];
    let scope_logs = &resource_logs.scope_logs[0];
    assert_eq!(
        scope_logs.scope.as_ref().map(|scope| scope.name.as_str()),
        Some(SCOPE_NAME)
    );
    assert_eq!(scope_logs.log_records, [record]);
    assert_eq!(
        resource_logs
            .resource
            .as_ref()
            .map(|resource| resource.attributes[0].key.as_str()),
        Some("service.name")
    );
}
