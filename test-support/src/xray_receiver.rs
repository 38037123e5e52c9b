//! A local HTTPS receiver that plays X-Ray's OTLP endpoint (and CloudWatch's, for `/v1/logs` and
//! `/v1/metrics`): it checks every request's SigV4 signature (recomputed from the request as received, with HMAC/SHA-256 from the `hmac`/`sha2`
//! crates, independently of the exporter's ring-based signer), answers 403 to a bad one, and
//! decodes the OTLP protobuf (gunzipped when `content-encoding: gzip`).
//!
//! The receiver's certificate is made at start by rcgen, signed by a test CA whose PEM file the
//! exporter is told to trust through `OTEL_EXPORTER_OTLP_CERTIFICATE`. It binds a loopback port 0.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_sandbox::Credentials;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span as ProtoSpan;
use prost::Message;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;
use trace_view::{spans_from_request, ReceivedSpan};

/// The access key id the receiver accepts.
pub const ACCESS_KEY_ID: &str = "ASIATESTACCESSKEY";
/// The secret the receiver signs with to check a signature.
pub const SECRET_ACCESS_KEY: &str = "test/secret+access/key";
/// The session token every request must carry.
pub const SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLE//session/token+with=padding==";
/// The region of the credential scope the receiver accepts.
pub const REGION: &str = "eu-west-1";
/// The most a request's `x-amz-date` may differ from the receiver's clock (AWS allows 5 min).
const CLOCK_SKEW: Duration = Duration::from_secs(300);

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    /// The request's path (`/v1/traces`, `/v1/logs`, …).
    pub path: String,
    /// The request's headers.
    pub headers: HeaderMap,
    /// The body as received (compressed when `content-encoding: gzip`).
    pub body: Bytes,
    /// `Ok` when the signature checked out, else why not.
    pub verdict: Result<(), String>,
}

impl Received {
    /// The decoded OTLP request.
    pub fn request(&self) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest::decode(self.plain_body().as_slice())
            .expect("the body is an OTLP protobuf export request")
    }

    /// The body uncompressed.
    pub fn plain_body(&self) -> Vec<u8> {
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

    /// The request's spans as protobuf messages, in the order sent.
    pub fn spans(&self) -> Vec<ProtoSpan> {
        self.request()
            .resource_spans
            .into_iter()
            .flat_map(|resource| resource.scope_spans)
            .flat_map(|scope| scope.spans)
            .collect()
    }

    /// The request's spans decoded as the OTLP receiver decodes them.
    pub fn received_spans(&self) -> Vec<ReceivedSpan> {
        spans_from_request(&self.request())
    }

    /// The value of header `name`; panics when it is missing or not ASCII.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("the request has a {name} header"))
            .to_str()
            .expect("the header is ASCII")
    }
}

/// The fake X-Ray endpoint: HTTPS on a loopback port with a test CA's certificate.
pub struct XrayReceiver {
    addr: SocketAddr,
    /// PEM file of the test CA, for `OTEL_EXPORTER_OTLP_CERTIFICATE`.
    ca_file: PathBuf,
    received: Arc<Mutex<Vec<Received>>>,
}

impl XrayReceiver {
    /// Makes the certificates and starts serving on the current tokio runtime.
    pub async fn start() -> Self {
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

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The URL to export `path` to here (`/v1/traces`, `/v1/logs`, `/v1/metrics`).
    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }

    /// The URL to export traces to (`LAMBDA_LENS_XRAY_ENDPOINT`).
    pub fn endpoint(&self) -> String {
        self.url("/v1/traces")
    }

    /// The variables that send an exporter's every signal here: the X-Ray target, this receiver
    /// as the X-Ray, CloudWatch Logs and CloudWatch metrics endpoint, and the test CA. The region
    /// and credentials are the caller's to set ([`REGION`], [`credentials`]).
    pub fn exporter_env(&self) -> [(&'static str, String); 5] {
        [
            ("LAMBDA_LENS_EXPORT_TARGET", "xray".to_owned()),
            ("LAMBDA_LENS_XRAY_ENDPOINT", self.endpoint()),
            ("LAMBDA_LENS_CLOUDWATCH_LOGS_ENDPOINT", self.url("/v1/logs")),
            (
                "LAMBDA_LENS_CLOUDWATCH_METRICS_ENDPOINT",
                self.url("/v1/metrics"),
            ),
            (
                "OTEL_EXPORTER_OTLP_CERTIFICATE",
                self.ca_file.display().to_string(),
            ),
        ]
    }

    /// Every request received so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
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

/// The credentials the receiver accepts, for a sandbox to hand to its extensions.
pub fn credentials() -> Credentials {
    Credentials {
        access_key_id: ACCESS_KEY_ID.to_owned(),
        secret_access_key: SECRET_ACCESS_KEY.to_owned(),
        session_token: Some(SESSION_TOKEN.to_owned()),
    }
}

/// Lower-case hexadecimal of `bytes` (ids as OTLP/JSON and the W3C headers write them).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
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

/// Verifies a SigV4-signed request from the specification, as AWS would: the credential scope
/// (this access key, today's date, [`REGION`], the path's service: `logs` for `/v1/logs`,
/// `monitoring` for `/v1/metrics`, else `xray`), the headers that must be signed,
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
