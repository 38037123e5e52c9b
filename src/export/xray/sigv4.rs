//! AWS Signature Version 4 (header form) for the requests sent to AWS's OTLP endpoints.
//!
//! Written here on ring (already linked for TLS) instead of pulling in an SDK signer: the
//! exporter signs one kind of request (a POST with a body, no query, a handful of headers), and
//! the algorithm is small. It follows AWS's specification for every service but S3: each path
//! segment is URI-encoded (again, as AWS does for non-S3 services), the query is decoded,
//! re-encoded and sorted, header values are trimmed with inner runs of spaces collapsed, and the
//! payload hash is the SHA-256 of the exact body bytes sent.
//!
//! Signed headers: `host`, `x-amz-date`, `x-amz-security-token` (with temporary credentials),
//! and `content-type` / `content-encoding` when the request has them. Other headers (e.g. from
//! `OTEL_EXPORTER_OTLP_HEADERS`) are sent unsigned, which SigV4 allows.

use std::time::SystemTime;

use http::header::{HeaderValue, AUTHORIZATION, HOST};
use http::request::Parts;
use ring::{digest, hmac};

use crate::settings::{percent_decode, Credentials};

/// The signing algorithm's name, as it appears in the string to sign and `Authorization`.
const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Headers signed when present, in canonical (sorted) order.
const SIGNED_HEADERS: [&str; 5] = [
    "content-encoding",
    "content-type",
    "host",
    "x-amz-date",
    "x-amz-security-token",
];

/// Signs requests for one service in one region.
#[derive(Debug, Clone)]
pub(crate) struct Signer {
    credentials: Credentials,
    region: String,
    service: String,
}

/// The intermediate values of one signature (kept for tests against published vectors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Signature {
    pub(crate) canonical_request: String,
    pub(crate) string_to_sign: String,
    pub(crate) authorization: String,
}

impl Signer {
    pub(crate) fn new(credentials: Credentials, region: &str, service: &str) -> Self {
        Self {
            credentials,
            region: region.to_owned(),
            service: service.to_owned(),
        }
    }

    /// The region signatures are scoped to.
    pub(crate) fn region(&self) -> &str {
        &self.region
    }

    /// The service signatures are scoped to (`xray`, `logs`, `monitoring`).
    pub(crate) fn service(&self) -> &str {
        &self.service
    }

    /// Signs a request made of `parts` and `body` at `now`: sets `host` (from the URI when
    /// absent), `x-amz-date`, `x-amz-security-token` (with a session token) and `authorization`.
    /// Any of these already present are replaced, so a re-sent request is signed afresh.
    pub(crate) fn sign(&self, parts: &mut Parts, body: &[u8], now: SystemTime) -> Signature {
        let amz_date = amz_date(now);
        if !parts.headers.contains_key(HOST) {
            if let Some(authority) = parts.uri.authority() {
                let host = HeaderValue::from_str(authority.as_str())
                    .expect("a parsed URI authority is a valid header value");
                parts.headers.insert(HOST, host);
            }
        }
        parts.headers.insert(
            "x-amz-date",
            HeaderValue::from_str(&amz_date).expect("an ASCII timestamp is a valid header value"),
        );
        match &self.credentials.session_token {
            Some(token) => match HeaderValue::from_str(token) {
                Ok(value) => {
                    parts.headers.insert("x-amz-security-token", value);
                }
                // Not a header value: the request goes out without it and AWS answers 403,
                // which is logged and counted like any failed flush.
                Err(_) => tracing::warn!("AWS_SESSION_TOKEN is not a valid HTTP header value"),
            },
            None => {
                parts.headers.remove("x-amz-security-token");
            }
        }
        let signature = self.signature(
            parts,
            &hex(digest::digest(&digest::SHA256, body)),
            &amz_date,
        );
        parts.headers.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&signature.authorization)
                .expect("the Authorization value is ASCII built from valid header values"),
        );
        signature
    }

    /// Computes the signature of a request whose headers already carry `host` and
    /// `x-amz-date` (= `amz_date`).
    fn signature(&self, parts: &Parts, payload_hash: &str, amz_date: &str) -> Signature {
        let date = &amz_date[..8];
        let scope = format!("{date}/{}/{}/aws4_request", self.region, self.service);
        let signed_headers: Vec<&str> = SIGNED_HEADERS
            .into_iter()
            .filter(|name| parts.headers.contains_key(*name))
            .collect();
        let canonical_request = canonical_request(parts, &signed_headers, payload_hash);
        let string_to_sign = format!(
            "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
            hex(digest::digest(
                &digest::SHA256,
                canonical_request.as_bytes()
            ))
        );
        let key = [
            date,
            self.region.as_str(),
            self.service.as_str(),
            "aws4_request",
        ]
        .into_iter()
        .fold(
            format!("AWS4{}", self.credentials.secret_access_key).into_bytes(),
            |key, part| hmac_sha256(&key, part.as_bytes()),
        );
        let signature = hex(hmac_sha256(&key, string_to_sign.as_bytes()));
        let authorization = format!(
            "{ALGORITHM} Credential={}/{scope}, SignedHeaders={}, Signature={signature}",
            self.credentials.access_key_id,
            signed_headers.join(";")
        );
        Signature {
            canonical_request,
            string_to_sign,
            authorization,
        }
    }
}

/// The canonical request of SigV4: method, canonical URI, canonical query, canonical headers,
/// signed header names and payload hash, one per line.
fn canonical_request(parts: &Parts, signed_headers: &[&str], payload_hash: &str) -> String {
    let path = match parts.uri.path() {
        "" => "/".to_owned(),
        path => uri_encode(path, false),
    };
    let mut query: Vec<(String, String)> = parts
        .uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |raw: &str| percent_decode(raw).unwrap_or_else(|| raw.to_owned());
            (
                uri_encode(&decode(name), true),
                uri_encode(&decode(value), true),
            )
        })
        .collect();
    query.sort();
    let query = query
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&");
    let headers: String = signed_headers
        .iter()
        .map(|name| {
            let values: Vec<String> = parts
                .headers
                .get_all(*name)
                .iter()
                .map(|value| canonical_header_value(value.as_bytes()))
                .collect();
            format!("{name}:{}\n", values.join(","))
        })
        .collect();
    format!(
        "{}\n{path}\n{query}\n{headers}\n{}\n{payload_hash}",
        parts.method,
        signed_headers.join(";")
    )
}

/// A header value trimmed, with inner runs of spaces collapsed to one.
fn canonical_header_value(value: &[u8]) -> String {
    String::from_utf8_lossy(value)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// SigV4's URI encoding: unreserved characters as they are, every other byte as `%XX`
/// (upper-case); `/` is kept in paths and encoded in query components.
fn uri_encode(value: &str, encode_slash: bool) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'_' | b'.' | b'~')
            || (byte == b'/' && !encode_slash)
        {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// `YYYYMMDD'T'HHMMSS'Z'` in UTC, the form of `x-amz-date`.
fn amz_date(now: SystemTime) -> String {
    // "2015-08-30T12:36:00Z" without its separators.
    humantime::format_rfc3339_seconds(now)
        .to_string()
        .replace(['-', ':'], "")
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), message)
        .as_ref()
        .to_vec()
}

fn hex(bytes: impl AsRef<[u8]>) -> String {
    bytes
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    //! Vectors from AWS's Signature Version 4 test suite (published with the AWS General
    //! Reference, "Signature Version 4 test suite"; the same files ship in
    //! awslabs/aws-c-auth under tests/aws-signing-test-suite/v4/). Every case signs with the
    //! suite's credentials AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY at
    //! 20150830T123600Z for region us-east-1 and service `service`.

    use std::time::{Duration, UNIX_EPOCH};

    use http::Request;

    use super::*;

    /// 2015-08-30T12:36:00Z.
    const SUITE_TIME_SECS: u64 = 1_440_938_160;
    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    /// The session token of the suite's `post-sts-header-before` case.
    const SUITE_TOKEN: &str = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";

    fn suite_signer(session_token: Option<&str>) -> Signer {
        Signer::new(
            Credentials {
                access_key_id: "AKIDEXAMPLE".to_owned(),
                secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_owned(),
                session_token: session_token.map(str::to_owned),
            },
            "us-east-1",
            "service",
        )
    }

    fn sign(signer: &Signer, request: http::request::Builder, body: &str) -> (Parts, Signature) {
        let (mut parts, ()) = request
            .header("Host", "example.amazonaws.com")
            .body(())
            .expect("the test request is valid")
            .into_parts();
        let signature = signer.sign(
            &mut parts,
            body.as_bytes(),
            UNIX_EPOCH + Duration::from_secs(SUITE_TIME_SECS),
        );
        (parts, signature)
    }

    #[test]
    fn get_vanilla() {
        let (parts, signature) = sign(
            &suite_signer(None),
            Request::get("https://example.amazonaws.com/"),
            "",
        );
        assert_eq!(
            signature.canonical_request,
            format!(
                "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n\
                 host;x-amz-date\n{EMPTY_SHA256}"
            )
        );
        assert_eq!(
            signature.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
             bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
        );
        let authorization = "AWS4-HMAC-SHA256 \
             Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
        assert_eq!(signature.authorization, authorization);
        assert_eq!(parts.headers[AUTHORIZATION], authorization);
        assert_eq!(parts.headers["x-amz-date"], "20150830T123600Z");
        assert!(!parts.headers.contains_key("x-amz-security-token"));
    }

    #[test]
    fn get_vanilla_query_order_key_case() {
        let (_, signature) = sign(
            &suite_signer(None),
            Request::get("https://example.amazonaws.com/?Param2=value2&Param1=value1"),
            "",
        );
        assert_eq!(
            signature.canonical_request.lines().nth(2),
            Some("Param1=value1&Param2=value2")
        );
        assert!(
            signature.authorization.ends_with(
                "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
            ),
            "{}",
            signature.authorization
        );
    }

    #[test]
    fn post_x_www_form_urlencoded() {
        let (_, signature) = sign(
            &suite_signer(None),
            Request::post("https://example.amazonaws.com/")
                .header("Content-Type", "application/x-www-form-urlencoded"),
            "Param1=value1",
        );
        assert_eq!(
            signature.canonical_request,
            "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\n\
             host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n\
             content-type;host;x-amz-date\n\
             9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"
        );
        assert_eq!(
            signature.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
             42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281"
        );
        assert_eq!(
            signature.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, \
             Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"
        );
    }

    #[test]
    fn post_sts_header_before() {
        let (parts, signature) = sign(
            &suite_signer(Some(SUITE_TOKEN)),
            Request::post("https://example.amazonaws.com/"),
            "",
        );
        assert_eq!(
            signature.canonical_request,
            format!(
                "POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\
                 x-amz-security-token:{SUITE_TOKEN}\n\nhost;x-amz-date;x-amz-security-token\n\
                 {EMPTY_SHA256}"
            )
        );
        assert_eq!(
            signature.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date;x-amz-security-token, \
             Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"
        );
        assert_eq!(parts.headers["x-amz-security-token"], SUITE_TOKEN);
    }

    #[test]
    fn host_comes_from_the_uri_and_paths_are_encoded() {
        let (mut parts, ()) = Request::post("https://xray.eu-west-1.amazonaws.com:8443/v1/a%20b")
            .header("content-encoding", "gzip")
            .body(())
            .expect("the test request is valid")
            .into_parts();
        let signature = suite_signer(None).sign(&mut parts, b"x", UNIX_EPOCH);
        assert_eq!(parts.headers[HOST], "xray.eu-west-1.amazonaws.com:8443");
        assert_eq!(parts.headers["x-amz-date"], "19700101T000000Z");
        let lines: Vec<&str> = signature.canonical_request.lines().collect();
        assert_eq!(
            lines[1], "/v1/a%2520b",
            "the already-encoded path is encoded again"
        );
        assert_eq!(lines[3], "content-encoding:gzip");
        assert!(signature
            .authorization
            .contains("SignedHeaders=content-encoding;host;x-amz-date,"));
    }

    #[test]
    fn header_values_are_trimmed_and_collapsed() {
        assert_eq!(canonical_header_value(b"  a   b  c "), "a b c");
    }

    #[test]
    fn credentials_debug_hides_the_secrets() {
        let debug = format!("{:?}", suite_signer(Some("token-value")));
        assert!(debug.contains("AKIDEXAMPLE"), "{debug}");
        assert!(!debug.contains("EXAMPLEKEY"), "{debug}");
        assert!(!debug.contains("token-value"), "{debug}");
    }
}
