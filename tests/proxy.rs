//! The proxy against an in-test Runtime API: byte-exact forwarding, long polls, streaming, errors,
//! concurrency and the records it emits.

mod support;

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use lambda_lens::record::{ProxyRecord, ResultKind};
use support::{FakeInvocation, FakeLambda, ProxyUnderTest, FUNCTION_ARN, TRACE_HEADER};

type TestBody = BoxBody<Bytes, std::io::Error>;

fn client() -> Client<HttpConnector, TestBody> {
    Client::builder(TokioExecutor::new()).build_http()
}

fn full(bytes: impl Into<Bytes>) -> TestBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

async fn send(req: Request<TestBody>) -> Answer {
    let resp = client().request(req).await.expect("proxy answers");
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("answer body").to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

async fn get_next(proxy: &str) -> Answer {
    send(
        Request::get(format!("http://{proxy}/2018-06-01/runtime/invocation/next"))
            .body(full(""))
            .expect("valid request"),
    )
    .await
}

async fn post(proxy: &str, path: &str, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Answer {
    let mut req = Request::post(format!("http://{proxy}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    send(req.body(full(body)).expect("valid request")).await
}

async fn setup() -> (FakeLambda, ProxyUnderTest) {
    let fake = FakeLambda::start().await;
    let proxy = ProxyUnderTest::start(fake.endpoint(), 4096).await;
    (fake, proxy)
}

#[tokio::test]
async fn next_event_passes_through_with_every_header_and_exact_bytes() {
    let (fake, mut proxy) = setup().await;
    let body = Bytes::from_static("{\"greeting\":\"héllo ✓\",\"n\":1}".as_bytes());
    let inv = FakeInvocation::new("req-next-1", body.clone())
        .with_header(
            "Lambda-Runtime-Client-Context",
            r#"{"client":{"app_title":"t"}}"#,
        )
        .with_header(
            "Lambda-Runtime-Cognito-Identity",
            r#"{"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"}"#,
        )
        .with_header("Lambda-Runtime-Aws-Tenant-Id", "tenant-42")
        .with_header("X-Future-Header", "kept as is");
    fake.push_invocation(inv.clone());

    let answer = get_next(&proxy.runtime_api()).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, body);
    for (name, value) in &inv.headers {
        assert_eq!(
            answer
                .headers
                .get(name.as_str())
                .map(|v| v.to_str().expect("ascii")),
            Some(value.as_str()),
            "header {name}"
        );
    }
    assert_eq!(
        answer.headers.get("content-length").map(|v| v.as_bytes()),
        Some(body.len().to_string().as_bytes())
    );

    let ProxyRecord::Invocation(rec) = proxy.record().await else {
        panic!("expected an invocation record")
    };
    assert_eq!(rec.request_id.as_str(), "req-next-1");
    assert_eq!(rec.invoked_function_arn.as_deref(), Some(FUNCTION_ARN));
    assert_eq!(rec.trace_header.as_deref(), Some(TRACE_HEADER));
    assert_eq!(rec.tenant_id.as_deref(), Some("tenant-42"));
    assert_eq!(
        rec.client_context.as_deref(),
        Some(r#"{"client":{"app_title":"t"}}"#)
    );
    assert_eq!(
        rec.cognito_identity.as_deref(),
        Some(r#"{"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"}"#)
    );
    assert_eq!(
        rec.deadline_ms.map(|d| d.to_string()).as_deref(),
        inv.header("Lambda-Runtime-Deadline-Ms")
    );
    assert_eq!(rec.content_type.as_deref(), Some("application/json"));
    assert_eq!(rec.upstream_status, 200);
    assert_eq!(rec.event.size, body.len() as u64);
    assert_eq!(rec.event.head, body);
    assert!(rec.event.complete);
    assert!(rec.event.ended_at.expect("ended") >= rec.received_at);
}

#[tokio::test]
async fn response_and_error_reach_upstream_unchanged_and_are_recorded() {
    let (fake, mut proxy) = setup().await;
    let api = proxy.runtime_api();

    let answer = post(
        &api,
        "/2018-06-01/runtime/invocation/req-a/response",
        &[("Content-Type", "application/json"), ("X-Custom", "1")],
        r#"{"ok":true}"#,
    )
    .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    assert_eq!(answer.body, Bytes::from_static(br#"{"status":"OK"}"#));
    let call = fake.wait_for_result("req-a").await;
    assert_eq!(call.path, "/2018-06-01/runtime/invocation/req-a/response");
    assert_eq!(call.body, Bytes::from_static(br#"{"ok":true}"#));
    assert_eq!(call.headers["x-custom"], "1");
    assert_eq!(call.headers["host"], fake.runtime_api().as_str());
    let ProxyRecord::Result(rec) = proxy.record().await else {
        panic!("expected a result record")
    };
    assert_eq!(rec.kind, ResultKind::Response);
    assert_eq!(rec.request_id.as_ref().map(|r| r.as_str()), Some("req-a"));
    assert_eq!(rec.body.head, Bytes::from_static(br#"{"ok":true}"#));
    assert_eq!(rec.upstream_status, Some(202));
    assert_eq!(
        rec.upstream_body.head,
        Bytes::from_static(br#"{"status":"OK"}"#)
    );
    assert!(!rec.streaming);

    let cause = r#"{"working_directory":"/var/task","exceptions":[{"type":"ValueError","message":"boom"}],"paths":[]}"#;
    let error_body = r#"{"errorMessage":"boom","errorType":"ValueError","stackTrace":[]}"#;
    let answer = post(
        &api,
        "/2018-06-01/runtime/invocation/req-b/error",
        &[
            ("Lambda-Runtime-Function-Error-Type", "Unhandled"),
            ("Lambda-Runtime-Function-XRay-Error-Cause", cause),
            ("Content-Type", "application/vnd.aws.lambda.error+json"),
        ],
        error_body,
    )
    .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    let call = fake.wait_for_result("req-b").await;
    assert_eq!(call.body, Bytes::from(error_body));
    assert_eq!(
        call.headers["lambda-runtime-function-xray-error-cause"],
        cause
    );
    assert_eq!(
        call.headers["lambda-runtime-function-error-type"],
        "Unhandled"
    );
    let ProxyRecord::Result(rec) = proxy.record().await else {
        panic!("expected a result record")
    };
    assert_eq!(rec.kind, ResultKind::Error);
    assert_eq!(rec.error_type.as_deref(), Some("Unhandled"));
    assert_eq!(rec.xray_error_cause.as_deref(), Some(cause));
    assert_eq!(rec.body.head, Bytes::from(error_body));
    assert_eq!(
        rec.content_type.as_deref(),
        Some("application/vnd.aws.lambda.error+json")
    );

    let answer = post(
        &api,
        "/2018-06-01/runtime/init/error",
        &[(
            "Lambda-Runtime-Function-Error-Type",
            "Runtime.ImportModuleError",
        )],
        r#"{"errorMessage":"no module","errorType":"Runtime.ImportModuleError"}"#,
    )
    .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    let ProxyRecord::Result(rec) = proxy.record().await else {
        panic!("expected a result record")
    };
    assert_eq!(rec.kind, ResultKind::InitError);
    assert_eq!(rec.request_id, None);
    assert_eq!(rec.error_type.as_deref(), Some("Runtime.ImportModuleError"));
}

#[tokio::test]
async fn upstream_error_answers_are_passed_back_unchanged() {
    let (fake, _proxy_keep) = setup().await;
    let api = _proxy_keep.runtime_api();
    let cases = [
        (
            "req-400/response",
            400,
            r#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#,
        ),
        (
            "req-403/response",
            403,
            r#"{"errorMessage":"State transition from Ready to ResponseSent failed","errorType":"InvalidStateTransition"}"#,
        ),
        (
            "req-500/error",
            500,
            r#"{"errorMessage":"Internal error","errorType":"ServiceException"}"#,
        ),
    ];
    for (suffix, status, body) in cases {
        fake.answer(suffix, status, body);
        let answer = post(
            &api,
            &format!("/2018-06-01/runtime/invocation/{suffix}"),
            &[],
            "{}",
        )
        .await;
        assert_eq!(answer.status.as_u16(), status, "{suffix}");
        assert_eq!(answer.body, Bytes::from(body), "{suffix}");
        assert_eq!(answer.headers["content-type"], "application/json");
    }
    let unknown = send(
        Request::get(format!("http://{api}/2018-06-01/runtime/unknown?x=1"))
            .body(full(""))
            .expect("valid request"),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    fake.wait_for_call("unknown path", |c| c.path == "/2018-06-01/runtime/unknown")
        .await;
}

#[tokio::test]
async fn bodies_of_six_megabytes_and_more_pass_and_413_comes_back() {
    let (fake, mut proxy) = setup().await;
    let api = proxy.runtime_api();
    let big: Vec<u8> = (0..6 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let big = Bytes::from(big);

    fake.push_invocation(
        FakeInvocation::new("req-big", big.clone())
            .with_header("Content-Type", "application/octet-stream"),
    );
    let answer = get_next(&api).await;
    assert_eq!(answer.body.len(), big.len());
    assert!(answer.body == big, "event bytes identical");
    let ProxyRecord::Invocation(rec) = proxy.record().await else {
        panic!("expected an invocation record")
    };
    assert_eq!(rec.event.size, big.len() as u64);
    assert_eq!(rec.event.head.len(), 4096, "capture bounded by the limit");
    assert!(rec.event.truncated());

    let answer = post(
        &api,
        "/2018-06-01/runtime/invocation/req-big/response",
        &[],
        big.clone(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    let call = fake.wait_for_result("req-big").await;
    assert!(call.body == big, "response bytes identical");

    let too_big = Bytes::from(vec![b'x'; support::MAX_PAYLOAD + 1]);
    let answer = post(
        &api,
        "/2018-06-01/runtime/invocation/req-huge/response",
        &[],
        too_big,
    )
    .await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        answer.body,
        Bytes::from_static(br#"{"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).","errorType":"RequestEntityTooLarge"}"#)
    );
}

#[tokio::test]
async fn streamed_response_is_forwarded_chunk_by_chunk_with_trailers() {
    let (fake, mut proxy) = setup().await;
    let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(4);
    let body = StreamBody::new(tokio_stream::wrappers::ReceiverStream::new(rx)).boxed();
    let req = Request::post(format!(
        "http://{}/2018-06-01/runtime/invocation/req-stream/response",
        proxy.runtime_api()
    ))
    .header("Lambda-Runtime-Function-Response-Mode", "streaming")
    .header("Transfer-Encoding", "chunked")
    .header(
        "Content-Type",
        "application/vnd.awslambda.http-integration-response",
    )
    .header(
        "Trailer",
        "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body",
    )
    .body(body)
    .expect("valid streaming request");
    let pending = tokio::spawn(async move { client().request(req).await });

    tx.send(Ok(Frame::data(Bytes::from_static(b"first chunk"))))
        .await
        .expect("stream open");
    // Hold the second chunk back: the first must reach upstream on its own, not when the body ends.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        fake.calls().is_empty(),
        "upstream saw the call end before the stream did"
    );
    tx.send(Ok(Frame::data(Bytes::from_static(b"second chunk"))))
        .await
        .expect("stream open");
    let mut trailers = HeaderMap::new();
    trailers.insert(
        "lambda-runtime-function-error-type",
        "Runtime.StreamError".parse().expect("value"),
    );
    trailers.insert(
        "lambda-runtime-function-error-body",
        "Ym9vbQ==".parse().expect("value"),
    );
    tx.send(Ok(Frame::trailers(trailers)))
        .await
        .expect("stream open");
    drop(tx);

    let resp = pending.await.expect("task").expect("proxy answers");
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let call = fake.wait_for_result("req-stream").await;
    assert_eq!(call.body, Bytes::from_static(b"first chunksecond chunk"));
    assert_eq!(
        call.frames.len(),
        2,
        "two chunks arrive as two frames: {:?}",
        call.frames
    );
    assert!(
        call.frames[1].0.duration_since(call.frames[0].0) >= Duration::from_millis(400),
        "first chunk forwarded before the second was written"
    );
    assert_eq!(call.headers["transfer-encoding"], "chunked");
    assert!(call.headers.get("content-length").is_none());
    assert_eq!(
        call.headers["lambda-runtime-function-response-mode"],
        "streaming"
    );
    let trailers = call.trailers.expect("trailers forwarded");
    assert_eq!(
        trailers["lambda-runtime-function-error-type"],
        "Runtime.StreamError"
    );
    assert_eq!(trailers["lambda-runtime-function-error-body"], "Ym9vbQ==");

    let ProxyRecord::Result(rec) = proxy.record().await else {
        panic!("expected a result record")
    };
    assert!(rec.streaming);
    assert_eq!(rec.error_type.as_deref(), Some("Runtime.StreamError"));
    assert_eq!(rec.error_body_trailer.as_deref(), Some("Ym9vbQ=="));
    assert_eq!(rec.body.size, 23);
    assert!(rec.body.complete);
}

/// A runtime that parks on `/next` and disconnects once the proxy's upstream call (the
/// `upstream_calls`-th) is under way.
async fn park_and_leave(proxy: &ProxyUnderTest, fake: &FakeLambda, upstream_calls: usize) {
    let mut stream = TcpStream::connect(proxy.addr)
        .await
        .expect("connect to proxy");
    stream
        .write_all(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("request written");
    while fake.next_calls() < upstream_calls {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(stream);
}

#[tokio::test]
async fn an_event_pulled_for_a_runtime_that_left_goes_to_the_next_next() {
    let (fake, mut proxy) = setup().await;
    let api = proxy.runtime_api();
    // A runtime parks on /next, then disconnects.
    park_and_leave(&proxy, &fake, 1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    fake.push_invocation(FakeInvocation::new("req-orphan", r#"{"n":1}"#));
    tokio::time::sleep(Duration::from_millis(100)).await;

    let answer = get_next(&api).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.headers["lambda-runtime-aws-request-id"],
        "req-orphan"
    );
    assert_eq!(answer.body, Bytes::from_static(br#"{"n":1}"#));
    assert_eq!(
        fake.next_calls(),
        1,
        "the upstream long poll was adopted, not repeated"
    );
    let ProxyRecord::Invocation(rec) = proxy.record().await else {
        panic!("expected an invocation record")
    };
    assert_eq!(rec.request_id.as_str(), "req-orphan");

    // And while the upstream poll is still pending, a new runtime adopts it.
    park_and_leave(&proxy, &fake, 2).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let waiting = tokio::spawn({
        let api = api.clone();
        async move { get_next(&api).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    fake.push_invocation(FakeInvocation::new("req-adopted", "{}"));
    let answer = waiting.await.expect("task");
    assert_eq!(
        answer.headers["lambda-runtime-aws-request-id"],
        "req-adopted"
    );
    assert_eq!(fake.next_calls(), 2);
}

#[tokio::test]
async fn sixteen_concurrent_invocations_keep_their_own_ids() {
    let (fake, mut proxy) = setup().await;
    let api = proxy.runtime_api();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            let event = get_next(&api).await;
            let id = event.headers["lambda-runtime-aws-request-id"]
                .to_str()
                .expect("ascii id")
                .to_owned();
            // Answer with the event body so each response is tied to its request.
            let answer = post(
                &api,
                &format!("/2018-06-01/runtime/invocation/{id}/response"),
                &[],
                event.body.clone(),
            )
            .await;
            assert_eq!(answer.status, StatusCode::ACCEPTED);
            (id, event.body)
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for i in 0..16 {
        fake.push_invocation(FakeInvocation::new(
            &format!("req-{i:02}"),
            format!("{{\"i\":{i}}}"),
        ));
    }
    for task in tasks {
        let (id, body) = task.await.expect("invocation task");
        let i: usize = id[4..].parse().expect("numeric suffix");
        assert_eq!(body, Bytes::from(format!("{{\"i\":{i}}}")));
        let call = fake.wait_for_result(&id).await;
        assert_eq!(
            call.body, body,
            "response of {id} paired with its own event"
        );
    }
    let mut invocations = 0;
    let mut results = 0;
    for _ in 0..32 {
        match proxy.record().await {
            ProxyRecord::Invocation(_) => invocations += 1,
            ProxyRecord::Result(r) => {
                let id = r.request_id.expect("result has id");
                let i: usize = id.as_str()[4..].parse().expect("numeric suffix");
                assert_eq!(r.body.head, Bytes::from(format!("{{\"i\":{i}}}")));
                results += 1;
            }
        }
    }
    assert_eq!((invocations, results), (16, 16));
}

#[tokio::test]
async fn upstream_connections_are_pooled() {
    let (fake, _proxy) = setup().await;
    let api = _proxy.runtime_api();
    for i in 0..20 {
        let id = format!("req-pool-{i}");
        fake.push_invocation(FakeInvocation::new(&id, "{}"));
        let event = get_next(&api).await;
        assert_eq!(event.status, StatusCode::OK);
        post(
            &api,
            &format!("/2018-06-01/runtime/invocation/{id}/response"),
            &[],
            "{}",
        )
        .await;
    }
    assert!(
        fake.connections() <= 2,
        "40 calls used {} upstream connections",
        fake.connections()
    );
}

#[tokio::test]
async fn unreachable_upstream_gives_a_clear_502() {
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = closed.local_addr().expect("addr");
    drop(closed);
    let endpoint =
        lambda_lens::settings::RuntimeApiEndpoint::parse(&addr.to_string()).expect("parse");
    let mut proxy = ProxyUnderTest::start(endpoint, 4096).await;
    let answer = post(
        &proxy.runtime_api(),
        "/2018-06-01/runtime/invocation/r/response",
        &[],
        "{}",
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
    let json: serde_json::Value = serde_json::from_slice(&answer.body).expect("JSON error");
    assert_eq!(json["errorType"], "LambdaLens.UpstreamUnavailable");
    let ProxyRecord::Result(rec) = proxy.record().await else {
        panic!("expected a result record")
    };
    assert_eq!(rec.upstream_status, None);
    assert!(rec
        .upstream_error
        .expect("error recorded")
        .contains("onnect"));
}

#[tokio::test]
async fn header_case_and_order_survive_on_the_wire() {
    // A raw upstream that captures the request bytes exactly.
    let (upstream, proxy, _) = raw_setup().await;
    let raw = answer_once(
        upstream,
        "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nX-Odd-Case: Yes\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}".to_owned(),
    );
    let mut s = TcpStream::connect(proxy.addr).await.expect("connect");
    s.write_all(b"POST /2018-06-01/runtime/invocation/r1/error HTTP/1.1\r\nHost: 127.0.0.1\r\nLambda-Runtime-Function-Error-Type: Unhandled\r\nX-lower-Mixed: v\r\nContent-Length: 2\r\n\r\n{}")
        .await
        .expect("write request");
    let ((request, body), _upstream_conn) = raw.await.expect("raw upstream");
    assert_eq!(body, b"{}");
    assert!(
        request.starts_with("POST /2018-06-01/runtime/invocation/r1/error HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(
        request.contains("\r\nLambda-Runtime-Function-Error-Type: Unhandled\r\n"),
        "{request}"
    );
    assert!(request.contains("\r\nX-lower-Mixed: v\r\n"), "{request}");
    let mut pending = Vec::new();
    let answer = read_head(&mut s, &mut pending).await;
    assert_eq!(
        read_body(&mut s, &mut pending, 15).await,
        br#"{"status":"OK"}"#
    );
    assert!(answer.starts_with("HTTP/1.1 202 Accepted\r\n"), "{answer}");
    assert!(answer.contains("\r\nX-Odd-Case: Yes\r\n"), "{answer}");
    assert!(
        !answer.to_ascii_lowercase().contains("\r\ndate:"),
        "no Date invented: {answer}"
    );
}

#[tokio::test]
async fn header_order_is_kept_and_a_large_xray_cause_header_passes() {
    let (upstream, proxy, _) = raw_setup().await;
    // awslambdaric sends X-Ray causes of up to 1 MiB in a header; the Runtime API accepts them.
    let cause = format!(
        r#"{{"exceptions":[{{"message":"{}"}}]}}"#,
        "c".repeat(500 * 1024)
    );
    let raw = answer_once(
        upstream,
        "HTTP/1.1 202 Accepted\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}".to_owned(),
    );
    let mut s = TcpStream::connect(proxy.addr).await.expect("connect");
    let request = format!(
        "POST /2018-06-01/runtime/invocation/r2/error HTTP/1.1\r\nHost: 127.0.0.1\r\nA-First: 1\r\nLambda-Runtime-Function-XRay-Error-Cause: {cause}\r\nZ-Last: 2\r\nContent-Length: 2\r\n\r\n{{}}"
    );
    s.write_all(request.as_bytes())
        .await
        .expect("write request");
    let ((seen, body), _upstream_conn) = raw.await.expect("raw upstream");
    assert_eq!(body, b"{}");
    let names: Vec<&str> = seen
        .split("\r\n")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| l.split(':').next().expect("header name"))
        .collect();
    assert_eq!(
        names,
        [
            "Host",
            "A-First",
            "Lambda-Runtime-Function-XRay-Error-Cause",
            "Z-Last",
            "Content-Length"
        ]
    );
    assert!(seen.contains(&format!(
        "\r\nLambda-Runtime-Function-XRay-Error-Cause: {cause}\r\n"
    )));
    let answer = read_head(&mut s, &mut Vec::new()).await;
    assert!(answer.starts_with("HTTP/1.1 202 Accepted\r\n"), "{answer}");
}

#[tokio::test]
async fn undeclared_error_trailers_reach_upstream_as_sent() {
    let (fake, mut proxy) = setup().await;
    let mut s = TcpStream::connect(proxy.addr).await.expect("connect");
    s.write_all(
        b"POST /2018-06-01/runtime/invocation/req-undeclared/response HTTP/1.1\r\nHost: x\r\n\
Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n\r\n\
5\r\nhello\r\n0\r\nLambda-Runtime-Function-Error-Type: Runtime.Broken\r\n\r\n",
    )
    .await
    .expect("write request");
    let call = fake.wait_for_result("req-undeclared").await;
    assert_eq!(call.body, Bytes::from_static(b"hello"));
    // The chunked body is relayed verbatim: no `Trailer` declaration is needed, and none is added.
    assert!(call.headers.get("trailer").is_none());
    let trailers = call.trailers.expect("trailers forwarded");
    assert_eq!(
        trailers["lambda-runtime-function-error-type"],
        "Runtime.Broken"
    );
    let ProxyRecord::Result(rec) = proxy.record().await else {
        panic!("expected a result record")
    };
    assert_eq!(rec.error_type.as_deref(), Some("Runtime.Broken"));
}

#[tokio::test]
async fn with_an_event_transform_an_event_for_a_runtime_that_left_is_not_lost_either() {
    let fake = FakeLambda::start().await;
    let transforms =
        lambda_lens::transform::Transforms::new(&lambda_lens::settings::TransformSettings {
            inject_traceparent: true,
            ..Default::default()
        });
    let mut proxy = ProxyUnderTest::start_with(fake.endpoint(), 4096, transforms).await;
    park_and_leave(&proxy, &fake, 1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let event = r#"{"httpMethod":"GET","requestContext":{"stage":"prod"},"headers":{"a":"b"}}"#;
    fake.push_invocation(FakeInvocation::new("req-http-orphan", event));
    tokio::time::sleep(Duration::from_millis(100)).await;

    let answer = get_next(&proxy.runtime_api()).await;
    assert_eq!(
        answer.headers["lambda-runtime-aws-request-id"],
        "req-http-orphan"
    );
    let delivered: serde_json::Value = serde_json::from_slice(&answer.body).expect("JSON event");
    let traceparent = delivered["headers"]["traceparent"]
        .as_str()
        .expect("injected");
    assert!(
        traceparent.starts_with("00-5759e988bd862e3fe1be46a994272793-"),
        "{traceparent}"
    );
    assert_eq!(delivered["headers"]["a"], "b");
    assert_eq!(
        answer.headers["content-length"],
        answer.body.len().to_string().as_str()
    );
    let ProxyRecord::Invocation(rec) = proxy.record().await else {
        panic!("expected an invocation record")
    };
    assert_eq!(
        rec.event.head, answer.body,
        "the record holds what the runtime got"
    );
    assert_eq!(fake.next_calls(), 1);
}

// -------------------------------------------------------------------------------------------------
// The relay on the wire: raw sockets on both sides, exact bytes.

/// Longest any single step on a raw socket may take.
const WIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// A raw upstream on an ephemeral port, the proxy in front of it, and the upstream's `host:port`
/// (what the proxy puts in `Host`).
async fn raw_setup() -> (TcpListener, ProxyUnderTest, String) {
    let upstream = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind raw upstream");
    let authority = upstream.local_addr().expect("addr").to_string();
    let endpoint = lambda_lens::settings::RuntimeApiEndpoint::parse(&authority).expect("parse");
    let proxy = ProxyUnderTest::start(endpoint, 4096).await;
    (upstream, proxy, authority)
}

/// The next upstream connection the proxy opens.
async fn accept(listener: &TcpListener) -> TcpStream {
    tokio::time::timeout(WIRE_TIMEOUT, listener.accept())
        .await
        .expect("the proxy connects upstream in time")
        .expect("accept")
        .0
}

/// Whether `listener` gets no new connection within `wait`.
async fn no_connection_within(listener: &TcpListener, wait: Duration) -> bool {
    tokio::time::timeout(wait, listener.accept()).await.is_err()
}

/// Reads once more into `pending`; the peer must not close.
async fn fill(s: &mut TcpStream, pending: &mut Vec<u8>) {
    let mut buf = vec![0u8; 64 * 1024];
    let n = tokio::time::timeout(WIRE_TIMEOUT, s.read(&mut buf))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "no bytes in time; got so far: {:?}",
                String::from_utf8_lossy(pending)
            )
        })
        .expect("read");
    assert!(
        n > 0,
        "connection closed early; got so far: {:?}",
        String::from_utf8_lossy(pending)
    );
    pending.extend_from_slice(&buf[..n]);
}

/// Reads one message head (through its blank line) out of `pending`, reading more as needed.
async fn read_head(s: &mut TcpStream, pending: &mut Vec<u8>) -> String {
    let end = loop {
        if let Some(at) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        fill(s, pending).await;
    };
    let head = String::from_utf8(pending[..end].to_vec()).expect("ascii head");
    pending.drain(..end);
    head
}

/// Reads `n` body bytes out of `pending`, reading more as needed.
async fn read_body(s: &mut TcpStream, pending: &mut Vec<u8>, n: usize) -> Vec<u8> {
    while pending.len() < n {
        fill(s, pending).await;
    }
    pending.drain(..n).collect()
}

/// The `Content-Length` of a head (0 without one).
fn content_length(head: &str) -> usize {
    head.split("\r\n")
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| {
            v.trim().parse().expect("numeric Content-Length")
        })
}

/// Reads one request (head and `Content-Length` body); bytes past it stay in `pending`.
async fn read_request(s: &mut TcpStream, pending: &mut Vec<u8>) -> (String, Vec<u8>) {
    let head = read_head(s, pending).await;
    let body = read_body(s, pending, content_length(&head)).await;
    (head, body)
}

/// Reads until exactly `expected` arrived (more, or different, bytes fail the test).
async fn expect_bytes(s: &mut TcpStream, expected: &[u8]) {
    expect_bytes_after(s, &mut Vec::new(), expected).await;
}

/// Reads until the peer closes the connection.
async fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    tokio::time::timeout(WIRE_TIMEOUT, s.read_to_end(&mut got))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "the connection stayed open; got: {:?}",
                String::from_utf8_lossy(&got)
            )
        })
        .expect("clean close");
    got
}

/// Asserts that nothing arrives on `s` (and it stays open) for `wait`.
async fn assert_quiet(s: &mut TcpStream, wait: Duration) {
    let mut buf = [0u8; 256];
    if let Ok(read) = tokio::time::timeout(wait, s.read(&mut buf)).await {
        let n = read.expect("read");
        panic!(
            "expected silence, got {:?}",
            String::from_utf8_lossy(&buf[..n])
        );
    }
}

/// Accepts the proxy's next upstream connection, reads one request from it and writes `answer`;
/// yields the request and the connection (kept open).
fn answer_once(
    upstream: TcpListener,
    answer: String,
) -> tokio::task::JoinHandle<((String, Vec<u8>), TcpStream)> {
    tokio::spawn(async move {
        let mut s = accept(&upstream).await;
        let got = read_request(&mut s, &mut Vec::new()).await;
        s.write_all(answer.as_bytes()).await.expect("write answer");
        (got, s)
    })
}

/// A raw answer with a `Content-Length` body.
fn answer_with_body(status_line: &str, headers: &str, body: &str) -> String {
    format!(
        "{status_line}\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Splits a lambda-lens error answer into its head and its JSON body.
fn split_answer(raw: &[u8]) -> (String, serde_json::Value) {
    let text = String::from_utf8(raw.to_vec()).expect("ascii answer");
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete head");
    let json = serde_json::from_str(body).unwrap_or_else(|e| panic!("JSON body ({e}): {text}"));
    (format!("{head}\r\n\r\n"), json)
}

#[tokio::test]
async fn expect_100_continue_passes_the_upstream_interim_answer_then_the_body() {
    let (upstream, mut proxy, authority) = raw_setup().await;
    let body = r#"{"answer":42,"sent":"after 100 Continue"}"#;
    let head = format!(
        "POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let expected_upstream_head =
        head.replace("Host: 127.0.0.1\r\n", &format!("Host: {authority}\r\n"));
    let raw = tokio::spawn(async move {
        let mut s = accept(&upstream).await;
        let mut pending = Vec::new();
        let head = read_head(&mut s, &mut pending).await;
        assert!(
            pending.is_empty(),
            "body sent before 100 Continue: {pending:?}"
        );
        // The runtime must hear nothing until the upstream's own interim answer.
        tokio::time::sleep(Duration::from_millis(300)).await;
        s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await
            .expect("write 100");
        let body = read_body(&mut s, &mut pending, content_length(&head)).await;
        s.write_all(
            answer_with_body(
                "HTTP/1.1 202 Accepted",
                "Content-Type: application/json\r\n",
                r#"{"status":"OK"}"#,
            )
            .as_bytes(),
        )
        .await
        .expect("write 202");
        (head, body, s)
    });

    let mut s = TcpStream::connect(proxy.addr).await.expect("connect");
    s.write_all(head.as_bytes()).await.expect("write head");
    assert_quiet(&mut s, Duration::from_millis(150)).await;
    expect_bytes(&mut s, b"HTTP/1.1 100 Continue\r\n\r\n").await;
    s.write_all(body.as_bytes()).await.expect("write body");
    expect_bytes(
        &mut s,
        b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}",
    )
    .await;

    let (up_head, up_body, _upstream_conn) = raw.await.expect("raw upstream");
    assert_eq!(up_head, expected_upstream_head);
    assert_eq!(String::from_utf8(up_body).expect("utf-8"), body);

    let ProxyRecord::Result(rec) = proxy.record().await else {
        panic!("expected a result record")
    };
    assert_eq!(rec.kind, ResultKind::Response);
    assert_eq!(rec.request_id.as_ref().map(|r| r.as_str()), Some("r1"));
    assert_eq!(rec.body.head, Bytes::from(body));
    assert_eq!(rec.body.size, body.len() as u64);
    assert!(rec.body.complete);
    assert_eq!(rec.upstream_status, Some(202));
    assert_eq!(
        rec.upstream_body.head,
        Bytes::from_static(br#"{"status":"OK"}"#)
    );
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order_over_one_upstream_connection() {
    let (upstream, mut proxy, authority) = raw_setup().await;
    let event_answer = answer_with_body(
        "HTTP/1.1 200 OK",
        "Lambda-Runtime-Aws-Request-Id: r2\r\nContent-Type: application/json\r\n",
        r#"{"n":2}"#,
    );
    let unknown_answer = answer_with_body(
        "HTTP/1.1 404 Not Found",
        "Content-Type: application/json\r\n",
        r#"{"errorMessage":"Unknown path","errorType":"NotFound"}"#,
    );
    let raw = tokio::spawn({
        let (event_answer, unknown_answer) = (event_answer.clone(), unknown_answer.clone());
        async move {
            let mut s = accept(&upstream).await;
            let mut pending = Vec::new();
            let first = read_request(&mut s, &mut pending).await;
            s.write_all(event_answer.as_bytes())
                .await
                .expect("write event");
            let second = read_request(&mut s, &mut pending).await;
            s.write_all(unknown_answer.as_bytes())
                .await
                .expect("write 404");
            let single = no_connection_within(&upstream, Duration::from_millis(300)).await;
            (first, second, single, s)
        }
    });

    let mut s = TcpStream::connect(proxy.addr).await.expect("connect");
    s.write_all(
        b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\nUser-Agent: raw\r\n\r\n\
GET /2018-06-01/unknown HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await
    .expect("write both requests at once");
    expect_bytes(&mut s, format!("{event_answer}{unknown_answer}").as_bytes()).await;

    let (first, second, single, _upstream_conn) = raw.await.expect("raw upstream");
    assert_eq!(
        first.0,
        format!("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: raw\r\n\r\n")
    );
    assert_eq!(
        second.0,
        format!("GET /2018-06-01/unknown HTTP/1.1\r\nHost: {authority}\r\n\r\n")
    );
    assert!(
        single,
        "both requests went over one upstream connection, not two"
    );

    let ProxyRecord::Invocation(rec) = proxy.record().await else {
        panic!("expected an invocation record")
    };
    assert_eq!(rec.request_id.as_str(), "r2");
    assert_eq!(rec.event.head, Bytes::from_static(br#"{"n":2}"#));
    assert!(
        proxy.records.try_recv().is_err(),
        "the unknown path is not recorded"
    );
}

#[tokio::test]
async fn an_upstream_closing_its_idle_connection_is_replaced_between_exchanges() {
    let (upstream, mut proxy, authority) = raw_setup().await;
    let accepted = b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}";
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel();
    let raw = tokio::spawn(async move {
        let mut first = accept(&upstream).await;
        let mut pending = Vec::new();
        let a = read_request(&mut first, &mut pending).await;
        first.write_all(accepted).await.expect("write first answer");
        // An idle keep-alive connection the upstream gives up on.
        drop(first);
        closed_tx.send(()).expect("test waits");
        let mut second = accept(&upstream).await;
        let mut pending = Vec::new();
        let b = read_request(&mut second, &mut pending).await;
        second
            .write_all(accepted)
            .await
            .expect("write second answer");
        (a, b, second)
    });

    let mut s = TcpStream::connect(proxy.addr).await.expect("connect");
    s.write_all(b"POST /2018-06-01/runtime/invocation/r3a/response HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        .await
        .expect("write first request");
    expect_bytes(&mut s, accepted).await;
    closed_rx.await.expect("upstream closed its connection");
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.write_all(b"POST /2018-06-01/runtime/invocation/r3b/response HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\n{\"b\":1}")
        .await
        .expect("write second request on the same connection");
    expect_bytes(&mut s, accepted).await;

    let (a, b, _second) = raw.await.expect("raw upstream (second accept)");
    assert_eq!(
        a,
        (
            format!("POST /2018-06-01/runtime/invocation/r3a/response HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 2\r\n\r\n"),
            b"{}".to_vec()
        )
    );
    assert_eq!(
        b,
        (
            format!("POST /2018-06-01/runtime/invocation/r3b/response HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 7\r\n\r\n"),
            b"{\"b\":1}".to_vec()
        )
    );
    for id in ["r3a", "r3b"] {
        let ProxyRecord::Result(rec) = proxy.record().await else {
            panic!("expected a result record")
        };
        assert_eq!(rec.request_id.as_ref().map(|r| r.as_str()), Some(id));
        assert_eq!(rec.upstream_status, Some(202), "{id}");
        assert_eq!(rec.upstream_error, None, "{id}");
    }
}

#[tokio::test]
async fn three_hundred_header_lines_pass_complete_and_in_order_both_ways() {
    let (upstream, mut proxy, authority) = raw_setup().await;
    let lines: String = (0..300)
        .map(|i| format!("X-Line-{i:03}: value {i}\r\n"))
        .collect();
    let request = format!(
        "POST /2018-06-01/runtime/invocation/r4/response HTTP/1.1\r\nHost: 127.0.0.1\r\n{lines}Content-Length: 2\r\n\r\n{{}}"
    );
    let answer = answer_with_body("HTTP/1.1 202 Accepted", &lines, r#"{"status":"OK"}"#);
    let raw = answer_once(upstream, answer.clone());
    let mut s = TcpStream::connect(proxy.addr).await.expect("connect");
    s.write_all(request.as_bytes())
        .await
        .expect("write request");
    expect_bytes(&mut s, answer.as_bytes()).await;

    let ((head, body), _upstream_conn) = raw.await.expect("raw upstream");
    let names: Vec<&str> = head
        .split("\r\n")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| l.split(':').next().expect("header name"))
        .collect();
    let mut expected_names = vec!["Host".to_owned()];
    expected_names.extend((0..300).map(|i| format!("X-Line-{i:03}")));
    expected_names.push("Content-Length".to_owned());
    assert_eq!(names, expected_names);
    assert_eq!(
        head,
        format!("POST /2018-06-01/runtime/invocation/r4/response HTTP/1.1\r\nHost: {authority}\r\n{lines}Content-Length: 2\r\n\r\n")
    );
    assert_eq!(body, b"{}");
    let ProxyRecord::Result(rec) = proxy.record().await else {
        panic!("expected a result record")
    };
    assert_eq!(rec.upstream_status, Some(202));
}

#[tokio::test]
async fn a_chunked_event_reaches_the_runtime_verbatim_and_is_recorded_decoded() {
    let (upstream, mut proxy, authority) = raw_setup().await;
    let head = "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r5\r\nLambda-Runtime-Deadline-Ms: 1700000000000\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    let first = "7;piece=1\r\n{\"a\":1,\r\n";
    let rest = "7\r\n\"b\":22}\r\n0\r\n\r\n";
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
    let raw = tokio::spawn(async move {
        let mut s = accept(&upstream).await;
        let mut pending = Vec::new();
        let next = read_request(&mut s, &mut pending).await;
        s.write_all(format!("{head}{first}").as_bytes())
            .await
            .expect("write head and first chunk");
        // The second chunk only once the runtime has seen the first.
        go_rx.await.expect("runtime saw the first chunk");
        s.write_all(rest.as_bytes()).await.expect("write the rest");
        // The runtime connection carries on after the last chunk, on the same upstream connection.
        let after = read_request(&mut s, &mut pending).await;
        s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            .await
            .expect("write 404");
        (next, after, s)
    });

    let mut s = TcpStream::connect(proxy.addr).await.expect("connect");
    s.write_all(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write /next");
    expect_bytes(&mut s, format!("{head}{first}").as_bytes()).await;
    go_tx.send(()).expect("upstream waits");
    expect_bytes(&mut s, rest.as_bytes()).await;
    s.write_all(b"GET /2018-06-01/unknown HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write follow-up");
    expect_bytes(
        &mut s,
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
    )
    .await;

    let (next, after, _upstream_conn) = raw.await.expect("raw upstream");
    assert_eq!(
        next.0,
        format!("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: {authority}\r\n\r\n")
    );
    assert_eq!(
        after.0,
        format!("GET /2018-06-01/unknown HTTP/1.1\r\nHost: {authority}\r\n\r\n")
    );
    let ProxyRecord::Invocation(rec) = proxy.record().await else {
        panic!("expected an invocation record")
    };
    assert_eq!(rec.request_id.as_str(), "r5");
    assert_eq!(rec.deadline_ms, Some(1_700_000_000_000));
    assert_eq!(rec.upstream_status, 200);
    assert_eq!(rec.event.head, Bytes::from_static(br#"{"a":1,"b":22}"#));
    assert_eq!(rec.event.size, 14);
    assert!(rec.event.complete);
}

#[tokio::test]
async fn an_answer_delimited_by_close_is_relayed_and_then_the_runtime_connection_closes() {
    let (upstream, mut proxy, _authority) = raw_setup().await;
    let raw = tokio::spawn(async move {
        // /next: an event without a length.
        let mut s = accept(&upstream).await;
        let mut pending = Vec::new();
        read_request(&mut s, &mut pending).await;
        s.write_all(b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r6\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{\"until\":")
            .await
            .expect("write head and first part");
        tokio::time::sleep(Duration::from_millis(100)).await;
        s.write_all(b"\"close\"}").await.expect("write the rest");
        drop(s);
        // A result: its answer without a length either (a new upstream connection: the first one
        // ended with its answer).
        let mut s = accept(&upstream).await;
        let mut pending = Vec::new();
        let result = read_request(&mut s, &mut pending).await;
        s.write_all(b"HTTP/1.1 202 Accepted\r\nConnection: close\r\n\r\n{\"status\":\"OK\"}")
            .await
            .expect("write answer");
        drop(s);
        result
    });

    let mut s = TcpStream::connect(proxy.addr).await.expect("connect");
    s.write_all(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write /next");
    // `Connection: close` is hop-by-hop; the body ends where the proxy closes the connection.
    assert_eq!(
        String::from_utf8_lossy(&read_to_close(&mut s).await),
        "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r6\r\nContent-Type: application/json\r\n\r\n{\"until\":\"close\"}"
    );
    let ProxyRecord::Invocation(rec) = proxy.record().await else {
        panic!("expected an invocation record")
    };
    assert_eq!(rec.request_id.as_str(), "r6");
    assert_eq!(rec.event.head, Bytes::from_static(br#"{"until":"close"}"#));
    assert!(rec.event.complete);

    let mut s = TcpStream::connect(proxy.addr).await.expect("connect");
    s.write_all(b"POST /2018-06-01/runtime/invocation/r6/response HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        .await
        .expect("write response");
    assert_eq!(
        String::from_utf8_lossy(&read_to_close(&mut s).await),
        "HTTP/1.1 202 Accepted\r\n\r\n{\"status\":\"OK\"}"
    );
    let (head, body) = raw.await.expect("raw upstream");
    assert!(
        head.starts_with("POST /2018-06-01/runtime/invocation/r6/response HTTP/1.1\r\n"),
        "{head}"
    );
    assert_eq!(body, b"{}");
    let ProxyRecord::Result(rec) = proxy.record().await else {
        panic!("expected a result record")
    };
    assert_eq!(rec.upstream_status, Some(202));
    assert_eq!(
        rec.upstream_body.head,
        Bytes::from_static(br#"{"status":"OK"}"#)
    );
    assert!(rec.upstream_body.complete);
}

#[tokio::test]
async fn unreadable_heads_get_400_then_the_connection_closes() {
    let (upstream, proxy, _authority) = raw_setup().await;
    let malformed: [&[u8]; 3] = [
        b"GARBAGE\r\n\r\n",
        b"POST /2018-06-01/runtime/invocation/r7/response HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}",
        b"POST /2018-06-01/runtime/invocation/r7/response HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    ];
    for request in malformed {
        let mut s = TcpStream::connect(proxy.addr).await.expect("connect");
        s.write_all(request).await.expect("write request");
        // The whole answer, then the end of the connection.
        let raw = read_to_close(&mut s).await;
        let (head, json) = split_answer(&raw);
        let body_len = raw.len() - head.len();
        assert_eq!(
            head,
            format!("HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {body_len}\r\nconnection: close\r\n\r\n"),
            "{:?}",
            String::from_utf8_lossy(request)
        );
        assert_eq!(json["errorType"], "LambdaLens.BadRequest");
        assert!(
            json["errorMessage"]
                .as_str()
                .expect("message")
                .starts_with("lambda-lens could not read the request: "),
            "{json}"
        );
    }

    assert!(
        no_connection_within(&upstream, Duration::from_millis(200)).await,
        "nothing unreadable went upstream"
    );
}

/// Reads until the peer closes; a reset after some bytes counts as a close (a peer closing with
/// unread bytes resets the connection).
async fn read_until_closed<R: AsyncRead + Unpin>(r: &mut R) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut buf = vec![0u8; 4096];
    loop {
        let read = tokio::time::timeout(WIRE_TIMEOUT, r.read(&mut buf))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no answer or close in time; got: {:?}",
                    String::from_utf8_lossy(&raw)
                )
            });
        match read {
            Ok(0) => return raw,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset && !raw.is_empty() => {
                return raw
            }
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// Asserts `raw` is lambda-lens's 431 answer to a head over its limit, and nothing more.
fn assert_head_too_large(raw: &[u8]) {
    let (head, json) = split_answer(raw);
    let body_len = raw.len() - head.len();
    assert_eq!(
        head,
        format!("HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\ncontent-length: {body_len}\r\nconnection: close\r\n\r\n")
    );
    assert_eq!(json["errorType"], "LambdaLens.BadRequest");
    assert!(
        json["errorMessage"]
            .as_str()
            .expect("message")
            .contains("exceeds"),
        "{json}"
    );
}

/// Over 1.1 MiB: past the proxy's head limit (1 MiB + 64 KiB) and Go's net/http default (1 MiB + 4 KiB).
const OVERSIZED_HEAD: usize = 1024 * 1024 + 110 * 1024;

#[tokio::test]
async fn a_head_growing_past_the_limit_gets_431_then_the_connection_closes() {
    let (upstream, proxy, _authority) = raw_setup().await;
    // A head that has not ended after 1.1 MiB; the runtime keeps its connection open.
    let mut start = b"POST /2018-06-01/runtime/invocation/r7/error HTTP/1.1\r\nHost: x\r\nLambda-Runtime-Function-XRay-Error-Cause: ".to_vec();
    start.resize(OVERSIZED_HEAD, b'c');
    let s = TcpStream::connect(proxy.addr).await.expect("connect");
    let (mut r, mut w) = s.into_split();
    let writer = tokio::spawn(async move {
        // The proxy stops reading once the limit is passed; the rest may never be taken.
        let _ = w.write_all(&start).await;
        w
    });
    let raw = read_until_closed(&mut r).await;
    assert_head_too_large(&raw);
    drop(writer);
    assert!(
        no_connection_within(&upstream, Duration::from_millis(200)).await,
        "nothing of the head went upstream"
    );
}

#[tokio::test]
async fn a_complete_head_of_1_1_mib_gets_431() {
    let (upstream, proxy, _authority) = raw_setup().await;
    let filler = "c".repeat(OVERSIZED_HEAD);
    let big = format!(
        "POST /2018-06-01/runtime/invocation/r7/error HTTP/1.1\r\nHost: x\r\nLambda-Runtime-Function-XRay-Error-Cause: {filler}\r\nContent-Length: 2\r\n\r\n{{}}"
    );
    let head_len = big.len() - 2;
    // Should the head go upstream, the upstream takes it and answers (its answer ends at close).
    let mut raw_upstream = tokio::spawn(async move {
        let mut s = accept(&upstream).await;
        let mut pending = Vec::new();
        let (head, _) = read_request(&mut s, &mut pending).await;
        s.write_all(b"HTTP/1.1 202 Accepted\r\n\r\n")
            .await
            .expect("write answer");
        head.len()
    });
    let s = TcpStream::connect(proxy.addr).await.expect("connect");
    let (mut r, mut w) = s.into_split();
    let writer = tokio::spawn(async move {
        let _ = w.write_all(big.as_bytes()).await;
        w
    });
    let raw = read_until_closed(&mut r).await;
    drop(writer);
    let forwarded = match tokio::time::timeout(Duration::from_millis(200), &mut raw_upstream).await
    {
        Ok(received) => Some(received.expect("raw upstream")),
        Err(_) => {
            raw_upstream.abort();
            None
        }
    };
    assert_eq!(
        forwarded,
        None,
        "the {head_len}-byte head went upstream; the runtime got {:?}",
        String::from_utf8_lossy(&raw)
    );
    assert_head_too_large(&raw);
}

#[tokio::test]
async fn next_with_a_zero_content_length_is_still_next() {
    let (upstream, mut proxy, authority) = raw_setup().await;
    let event = answer_with_body(
        "HTTP/1.1 200 OK",
        "Lambda-Runtime-Aws-Request-Id: r8\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:example\r\nContent-Type: application/json\r\n",
        r#"{"n":8}"#,
    );
    let raw = answer_once(upstream, event.clone());
    let mut s = TcpStream::connect(proxy.addr).await.expect("connect");
    s.write_all(
        b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    )
    .await
    .expect("write /next");
    expect_bytes(&mut s, event.as_bytes()).await;
    let ((head, body), _upstream_conn) = raw.await.expect("raw upstream");
    assert_eq!(
        head,
        format!("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 0\r\n\r\n")
    );
    assert!(body.is_empty());
    let ProxyRecord::Invocation(rec) = proxy.record().await else {
        panic!("expected an invocation record")
    };
    assert_eq!(rec.request_id.as_str(), "r8");
    assert_eq!(
        rec.invoked_function_arn.as_deref(),
        Some("arn:aws:lambda:us-east-1:123456789012:function:example")
    );
    assert_eq!(rec.event.head, Bytes::from_static(br#"{"n":8}"#));
    assert!(rec.event.complete);
}

// -------------------------------------------------------------------------------------------------
// Failure paths: nothing hangs, no event is lost, the runtime is told when its connection closes.

const NEXT_REQUEST: &[u8] = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n";

/// An event answer for request id `id`.
fn event_answer(id: &str) -> String {
    answer_with_body(
        "HTTP/1.1 200 OK",
        &format!("Lambda-Runtime-Aws-Request-Id: {id}\r\n"),
        &format!(r#"{{"id":"{id}"}}"#),
    )
}

#[tokio::test]
async fn an_expect_request_whose_body_the_runtime_abandons_closes_both_sides() {
    let (upstream, mut proxy, _) = raw_setup().await;
    let mut runtime = TcpStream::connect(proxy.addr).await.expect("connect");
    runtime
        .write_all(b"POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n")
        .await
        .expect("write head");
    let mut up = accept(&upstream).await;
    let mut pending = Vec::new();
    read_head(&mut up, &mut pending).await;
    up.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
        .await
        .expect("write 100");
    expect_bytes(&mut runtime, b"HTTP/1.1 100 Continue\r\n\r\n").await;
    runtime.write_all(b"abc").await.expect("part of the body");
    drop(runtime);

    // The upstream holds a partial request: the proxy must close it rather than wait for an answer.
    let rest = read_to_close(&mut up).await;
    assert_eq!([pending, rest].concat(), b"abc");
    let ProxyRecord::Result(rec) = proxy.record().await else {
        panic!("expected a result record")
    };
    assert_eq!(rec.body.size, 3);
    assert!(!rec.body.complete);
    assert_eq!(rec.upstream_status, None);
}

#[tokio::test]
async fn an_early_answer_to_an_expect_request_tells_the_runtime_its_connection_closes() {
    let (upstream, _proxy, _) = raw_setup().await;
    let mut runtime = TcpStream::connect(_proxy.addr).await.expect("connect");
    runtime
        .write_all(b"POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n")
        .await
        .expect("write head");
    let mut up = accept(&upstream).await;
    read_head(&mut up, &mut Vec::new()).await;
    up.write_all(
        b"HTTP/1.1 413 Request Entity Too Large\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
    )
    .await
    .expect("write 413");
    drop(up);
    let got = read_to_close(&mut runtime).await;
    assert_eq!(
        String::from_utf8_lossy(&got),
        "HTTP/1.1 413 Request Entity Too Large\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
        "the upstream's Connection line says what the proxy does with the runtime's connection"
    );
}

#[tokio::test]
async fn a_head_request_that_cannot_be_forwarded_gets_a_502_without_a_body() {
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let authority = closed.local_addr().expect("addr").to_string();
    drop(closed);
    let endpoint = lambda_lens::settings::RuntimeApiEndpoint::parse(&authority).expect("parse");
    let proxy = ProxyUnderTest::start(endpoint, 4096).await;
    let mut runtime = TcpStream::connect(proxy.addr).await.expect("connect");
    runtime
        .write_all(b"HEAD /2018-06-01/ping HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write HEAD");
    let mut pending = Vec::new();
    let head = read_head(&mut runtime, &mut pending).await;
    assert!(head.starts_with("HTTP/1.1 502 Bad Gateway\r\n"), "{head}");
    assert!(
        content_length(&head) > 0,
        "the length a GET would get: {head}"
    );
    assert!(!head.to_ascii_lowercase().contains("connection: close"));
    // No body follows: the next answer on the connection starts right after the head.
    runtime
        .write_all(b"GET /2018-06-01/ping HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write GET");
    let next = read_head(&mut runtime, &mut pending).await;
    assert!(next.starts_with("HTTP/1.1 502 Bad Gateway\r\n"), "{next}");
    let body = read_body(&mut runtime, &mut pending, content_length(&next)).await;
    let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON body");
    assert_eq!(json["errorType"], "LambdaLens.UpstreamUnavailable");
}

#[tokio::test]
async fn a_kept_upstream_connection_closed_under_a_next_is_replaced() {
    let (upstream, mut proxy, _) = raw_setup().await;
    let mut runtime = TcpStream::connect(proxy.addr).await.expect("connect");
    runtime.write_all(NEXT_REQUEST).await.expect("first /next");
    let mut first = accept(&upstream).await;
    let mut pending = Vec::new();
    read_request(&mut first, &mut pending).await;
    first
        .write_all(event_answer("r1").as_bytes())
        .await
        .expect("first event");
    let mut got = Vec::new();
    read_head(&mut runtime, &mut got).await;
    read_body(&mut runtime, &mut got, 11).await;
    let _ = proxy.record().await;

    // The second /next goes out on the kept connection, which the upstream then closes unanswered.
    runtime.write_all(NEXT_REQUEST).await.expect("second /next");
    read_request(&mut first, &mut pending).await;
    drop(first);
    let mut second = accept(&upstream).await;
    let (head, _) = read_request(&mut second, &mut Vec::new()).await;
    assert!(head.starts_with("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n"));
    second
        .write_all(event_answer("r2").as_bytes())
        .await
        .expect("second event");
    let head = read_head(&mut runtime, &mut got).await;
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert_eq!(
        read_body(&mut runtime, &mut got, 11).await,
        br#"{"id":"r2"}"#
    );
    let ProxyRecord::Invocation(rec) = proxy.record().await else {
        panic!("expected an invocation record")
    };
    assert_eq!(rec.request_id.as_str(), "r2");
}

#[tokio::test]
async fn an_event_arriving_as_its_runtime_leaves_is_kept_for_the_next_next() {
    let (upstream, mut proxy, _) = raw_setup().await;
    let mut upstream_conns = Vec::new();
    for i in 0..10 {
        let id = format!("race-{i}");
        let mut leaving = TcpStream::connect(proxy.addr).await.expect("connect");
        leaving.write_all(NEXT_REQUEST).await.expect("/next");
        let mut up = accept(&upstream).await;
        read_request(&mut up, &mut Vec::new()).await;
        // No await between the two: the proxy sees the runtime gone and the event in one poll.
        // (`Connection: close`, so that every round's /next opens a connection of its own.)
        drop(leaving);
        let event = event_answer(&id).replacen("\r\n", "\r\nConnection: close\r\n", 1);
        up.write_all(event.as_bytes()).await.expect("event");
        upstream_conns.push(up);

        let mut runtime = TcpStream::connect(proxy.addr).await.expect("connect");
        runtime.write_all(NEXT_REQUEST).await.expect("/next");
        let mut got = Vec::new();
        let head = read_head(&mut runtime, &mut got).await;
        assert!(
            head.contains(&format!("Lambda-Runtime-Aws-Request-Id: {id}\r\n")),
            "round {i}: {head}"
        );
        let body = read_body(&mut runtime, &mut got, content_length(&head)).await;
        assert_eq!(body, format!(r#"{{"id":"{id}"}}"#).as_bytes());
        let ProxyRecord::Invocation(rec) = proxy.record().await else {
            panic!("expected an invocation record")
        };
        assert_eq!(rec.request_id.as_str(), id, "one record, for the delivery");
    }
    assert!(
        no_connection_within(&upstream, Duration::from_millis(100)).await,
        "every kept event was delivered without a new upstream /next"
    );
}

#[tokio::test]
async fn a_request_framed_twice_is_relayed_chunked_and_its_connection_closes() {
    let (upstream, _proxy, authority) = raw_setup().await;
    let mut runtime = TcpStream::connect(_proxy.addr).await.expect("connect");
    runtime
        .write_all(b"POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        .await
        .expect("write request");
    let mut up = accept(&upstream).await;
    let mut pending = Vec::new();
    let head = read_head(&mut up, &mut pending).await;
    assert_eq!(
        head,
        format!("POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\nHost: {authority}\r\nTransfer-Encoding: chunked\r\n\r\n"),
        "the length a chunked message must not carry is dropped"
    );
    expect_bytes_after(&mut up, &mut pending, b"5\r\nhello\r\n0\r\n\r\n").await;
    up.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}")
        .await
        .expect("write 202");
    let got = read_to_close(&mut runtime).await;
    assert_eq!(
        String::from_utf8_lossy(&got),
        "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\nconnection: close\r\n\r\n{}"
    );
}

/// Reads until `pending` holds exactly `expected`.
async fn expect_bytes_after(s: &mut TcpStream, pending: &mut Vec<u8>, expected: &[u8]) {
    while pending.len() < expected.len() && expected.starts_with(pending) {
        fill(s, pending).await;
    }
    assert_eq!(
        String::from_utf8_lossy(pending),
        String::from_utf8_lossy(expected)
    );
}

#[tokio::test]
async fn a_pooled_upstream_connection_closed_under_a_next_is_replaced() {
    let (upstream, mut proxy, _) = raw_setup().await;
    // Runtime A takes one event and leaves: its upstream connection goes back to the pool.
    let mut first_runtime = TcpStream::connect(proxy.addr).await.expect("connect");
    first_runtime.write_all(NEXT_REQUEST).await.expect("/next");
    let mut first = accept(&upstream).await;
    read_request(&mut first, &mut Vec::new()).await;
    first
        .write_all(event_answer("r1").as_bytes())
        .await
        .expect("event");
    let mut got = Vec::new();
    read_head(&mut first_runtime, &mut got).await;
    read_body(&mut first_runtime, &mut got, 11).await;
    let _ = proxy.record().await;
    drop(first_runtime);
    tokio::time::sleep(Duration::from_millis(50)).await;

    // Runtime B's /next goes out on the pooled connection, which the upstream closes unanswered.
    let mut runtime = TcpStream::connect(proxy.addr).await.expect("connect");
    runtime.write_all(NEXT_REQUEST).await.expect("/next");
    read_request(&mut first, &mut Vec::new()).await;
    drop(first);
    let mut second = accept(&upstream).await;
    read_request(&mut second, &mut Vec::new()).await;
    second
        .write_all(event_answer("r2").as_bytes())
        .await
        .expect("event");
    let mut got = Vec::new();
    let head = read_head(&mut runtime, &mut got).await;
    assert!(
        head.contains("Lambda-Runtime-Aws-Request-Id: r2\r\n"),
        "{head}"
    );
}

#[tokio::test]
async fn a_next_answered_in_part_is_not_sent_again() {
    let (upstream, _proxy, _) = raw_setup().await;
    let mut runtime = TcpStream::connect(_proxy.addr).await.expect("connect");
    runtime.write_all(NEXT_REQUEST).await.expect("first /next");
    let mut up = accept(&upstream).await;
    let mut pending = Vec::new();
    read_request(&mut up, &mut pending).await;
    up.write_all(event_answer("r1").as_bytes())
        .await
        .expect("event");
    let mut got = Vec::new();
    read_head(&mut runtime, &mut got).await;
    read_body(&mut runtime, &mut got, 11).await;

    // On the kept connection the upstream starts answering, then closes: no retry, a 502.
    runtime.write_all(NEXT_REQUEST).await.expect("second /next");
    read_request(&mut up, &mut pending).await;
    up.write_all(b"HTTP/1.1 102 Processing\r\n\r\n")
        .await
        .expect("interim");
    drop(up);
    let head = read_head(&mut runtime, &mut got).await;
    assert!(head.starts_with("HTTP/1.1 502 Bad Gateway\r\n"), "{head}");
    assert!(no_connection_within(&upstream, Duration::from_millis(200)).await);
}

#[tokio::test]
async fn an_empty_transfer_encoding_and_a_bad_length_on_head_get_400() {
    let (upstream, proxy, _) = raw_setup().await;
    let mut runtime = TcpStream::connect(proxy.addr).await.expect("connect");
    runtime
        .write_all(b"POST /2018-06-01/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \r\nContent-Length: 5\r\n\r\nhello")
        .await
        .expect("write");
    let (head, json) = split_answer(&read_to_close(&mut runtime).await);
    assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
    assert_eq!(json["errorType"], "LambdaLens.BadRequest");

    let mut runtime = TcpStream::connect(proxy.addr).await.expect("connect");
    runtime
        .write_all(b"HEAD /2018-06-01/x HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
        .await
        .expect("write");
    let got = String::from_utf8(read_to_close(&mut runtime).await).expect("ascii");
    assert!(got.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{got}");
    assert!(
        got.ends_with("connection: close\r\n\r\n"),
        "no body for HEAD: {got}"
    );
    assert!(no_connection_within(&upstream, Duration::from_millis(100)).await);
}

#[tokio::test]
async fn with_an_event_transform_a_runtime_leaving_mid_event_does_not_start_a_second_next() {
    let upstream = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let authority = upstream.local_addr().expect("addr").to_string();
    let endpoint = lambda_lens::settings::RuntimeApiEndpoint::parse(&authority).expect("parse");
    let transforms =
        lambda_lens::transform::Transforms::new(&lambda_lens::settings::TransformSettings {
            inject_traceparent: true,
            ..Default::default()
        });
    let mut proxy = ProxyUnderTest::start_with(endpoint, 4096, transforms).await;
    let event = r#"{"httpMethod":"GET","requestContext":{"stage":"prod"},"headers":{"a":"b"}}"#;
    let head = format!(
        "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r-mid\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        event.len()
    );

    let mut leaving = TcpStream::connect(proxy.addr).await.expect("connect");
    leaving.write_all(NEXT_REQUEST).await.expect("/next");
    let mut up = accept(&upstream).await;
    read_request(&mut up, &mut Vec::new()).await;
    up.write_all(head.as_bytes()).await.expect("head");
    up.write_all(&event.as_bytes()[..10])
        .await
        .expect("part of the event");
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(leaving);
    tokio::time::sleep(Duration::from_millis(50)).await;

    let mut runtime = TcpStream::connect(proxy.addr).await.expect("connect");
    runtime.write_all(NEXT_REQUEST).await.expect("/next");
    assert!(
        no_connection_within(&upstream, Duration::from_millis(200)).await,
        "no second upstream /next while the first event is still arriving"
    );
    up.write_all(&event.as_bytes()[10..])
        .await
        .expect("rest of the event");
    let mut got = Vec::new();
    let answer = read_head(&mut runtime, &mut got).await;
    assert!(
        answer.contains("Lambda-Runtime-Aws-Request-Id: r-mid\r\n"),
        "{answer}"
    );
    let body = read_body(&mut runtime, &mut got, content_length(&answer)).await;
    let delivered: serde_json::Value = serde_json::from_slice(&body).expect("JSON event");
    assert!(
        delivered["headers"]["traceparent"].is_string(),
        "transformed"
    );
    assert_eq!(delivered["headers"]["a"], "b");
    let ProxyRecord::Invocation(rec) = proxy.record().await else {
        panic!("expected an invocation record")
    };
    assert_eq!(rec.request_id.as_str(), "r-mid");
}
