//! The proxy between a runtime's HTTP client and an in-test Runtime API: every header and body byte
//! forwarded both ways (six-megabyte bodies, streams with trailers, the Runtime API's error answers),
//! lambda-lens's own 502 when the upstream is unreachable, concurrent invocations, pooled upstream
//! connections, and the records the proxy emits.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use lambda_lens::proxy::Exported;
use lambda_lens::record::{ProxyRecord, ResultKind};
use lambda_lens_test_support::client::{client, full, get_next, post, send};
use lambda_lens_test_support::events::{sqs_event, sqs_record};
use lambda_lens_test_support::fake_lambda::FakeLambda;
use lambda_lens_test_support::fake_lambda::{
    FakeInvocation, FUNCTION_ARN, MAX_PAYLOAD, TRACE_HEADER,
};
use lambda_lens_test_support::proxy::{
    proxy_to_fake_lambda, proxy_to_nowhere, ProxyUnderTest, CAPTURE_BYTES,
};

#[tokio::test]
async fn next_event_passes_through_with_every_header_and_exact_bytes() {
    let (fake, mut proxy) = proxy_to_fake_lambda().await;
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

/// A batch's records are read for its span's links only when spans are exported: with traces
/// turned off (metrics and log records still exported) the event passes unscanned, unchanged.
#[tokio::test]
async fn batch_records_are_read_only_when_spans_are_exported() {
    let queue = "arn:aws:sqs:us-east-1:123456789012:orders";
    let xray = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let event = sqs_event(&[
        sqs_record(queue, "m-0", "a", Some(xray), None),
        sqs_record(queue, "m-1", "b", None, None),
    ]);
    for (exported, scanned) in [(Exported::Spans, Some(2)), (Exported::NoSpans, None)] {
        let fake = FakeLambda::start().await;
        let mut proxy = ProxyUnderTest::start_configured(fake.endpoint(), CAPTURE_BYTES, |p| {
            p.with_export(exported)
        })
        .await;
        fake.push_invocation(FakeInvocation::new("req-batch", event.clone()));
        let answer = get_next(&proxy.runtime_api()).await;
        assert_eq!(answer.body, Bytes::from(event.clone()), "{exported:?}");
        let ProxyRecord::Invocation(rec) = proxy.record().await else {
            panic!("expected an invocation record")
        };
        assert_eq!(
            rec.records.map(|scan| scan.records),
            scanned,
            "{exported:?}"
        );
        assert_eq!(rec.event.head, Bytes::from(event.clone()));
    }
}

#[tokio::test]
async fn response_and_error_reach_upstream_unchanged_and_are_recorded() {
    let (fake, mut proxy) = proxy_to_fake_lambda().await;
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
    let (fake, _proxy_keep) = proxy_to_fake_lambda().await;
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
    let (fake, mut proxy) = proxy_to_fake_lambda().await;
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
    assert_eq!(
        rec.event.head.len(),
        CAPTURE_BYTES,
        "capture bounded by the limit"
    );
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

    let too_big = Bytes::from(vec![b'x'; MAX_PAYLOAD + 1]);
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
    let (fake, mut proxy) = proxy_to_fake_lambda().await;
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

#[tokio::test]
async fn undeclared_error_trailers_reach_upstream_as_sent() {
    let (fake, mut proxy) = proxy_to_fake_lambda().await;
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
async fn sixteen_concurrent_invocations_keep_their_own_ids() {
    let (fake, mut proxy) = proxy_to_fake_lambda().await;
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
            ProxyRecord::Next(n) => panic!("no runtime asked for a second event: {n:?}"),
        }
    }
    assert_eq!((invocations, results), (16, 16));
}

#[tokio::test]
async fn upstream_connections_are_pooled() {
    let (fake, _proxy) = proxy_to_fake_lambda().await;
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
    let mut proxy = proxy_to_nowhere().await;
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
