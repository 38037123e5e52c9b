//! The proxy on the wire, raw sockets on both sides and exact bytes: header lines (case, order,
//! count, size), `Expect: 100-continue`, pipelining, chunked and close-delimited bodies, requests
//! framed twice, and lambda-lens's own 400, 431 and 502 answers with the connection closing after
//! them when it must. Also the strictness that keeps peers from reading one message two ways
//! (chunk-size lines, transfer codings, `Host`, HTTP/1.0), connections closed when an exchange
//! leaves them unusable, and heads read in linear time.

use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use lambda_lens::record::{ProxyRecord, ResultKind};
use lambda_lens_test_support::proxy::{proxy_to_nowhere, proxy_to_raw_upstream, ProxyUnderTest};
use lambda_lens_test_support::raw_upstream::{
    accept, answer_once, answer_with_body, event_answer, no_connection_within,
};
use lambda_lens_test_support::wire::{
    assert_quiet, content_length, expect_bytes, expect_bytes_after, read_body, read_head,
    read_request, read_to_close, read_until_closed, split_answer, NEXT_REQUEST,
};

/// Asserts `raw` is lambda-lens's answer with `status` to a request it refused, and nothing more;
/// yields its JSON body.
fn assert_refused(raw: &[u8], status: &str) -> serde_json::Value {
    let (head, json) = split_answer(raw);
    let body_len = raw.len() - head.len();
    assert_eq!(
        head,
        format!("HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {body_len}\r\nconnection: close\r\n\r\n")
    );
    assert_eq!(json["errorType"], "LambdaLens.BadRequest");
    json
}

/// Asserts `raw` is lambda-lens's 431 answer to a head over its limit, and nothing more.
fn assert_head_too_large(raw: &[u8]) {
    let json = assert_refused(raw, "431 Request Header Fields Too Large");
    assert!(
        json["errorMessage"]
            .as_str()
            .expect("message")
            .contains("exceeds"),
        "{json}"
    );
}

/// Asserts `raw` is lambda-lens's 400 answer to a request it could not read, and nothing more.
fn assert_bad_request(raw: &[u8]) {
    assert_refused(raw, "400 Bad Request");
}

/// A runtime connection to `proxy` that has sent `request`.
async fn runtime_sent(proxy: &ProxyUnderTest, request: &[u8]) -> TcpStream {
    let mut runtime = TcpStream::connect(proxy.addr).await.expect("connect");
    runtime.write_all(request).await.expect("write request");
    runtime
}

/// What a runtime sending `request` gets until lambda-lens closes its connection, when the
/// upstream answers `answer` once; and the upstream's end of its connection.
async fn answered_until_close(request: &[u8], answer: &str) -> (String, TcpStream) {
    let (upstream, proxy, _) = proxy_to_raw_upstream().await;
    let raw = answer_once(upstream, answer.to_owned());
    let mut runtime = runtime_sent(&proxy, request).await;
    let got = String::from_utf8_lossy(&read_to_close(&mut runtime).await).into_owned();
    let (_, up) = raw.await.expect("raw upstream");
    (got, up)
}

/// A result call from the runtime, with a two-byte body.
const RESULT_REQUEST: &[u8] = b"POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";

/// Asserts that whatever reached `upstream` (if the proxy connected at all) ends with a close and
/// carries nothing of what follows `marker`.
async fn assert_nothing_past(upstream: &TcpListener, marker: &str) {
    if let Ok(Ok((mut up, _))) =
        tokio::time::timeout(Duration::from_millis(200), upstream.accept()).await
    {
        let got = read_until_closed(&mut up).await;
        assert!(
            !String::from_utf8_lossy(&got).contains(marker),
            "{:?}",
            String::from_utf8_lossy(&got)
        );
    }
}

/// Over 1.1 MiB: past the proxy's head limit (1 MiB + 64 KiB) and Go's net/http default (1 MiB + 4 KiB).
const OVERSIZED_HEAD: usize = 1024 * 1024 + 110 * 1024;

#[tokio::test]
async fn header_case_and_order_survive_on_the_wire() {
    // A raw upstream that captures the request bytes exactly.
    let (upstream, proxy, _) = proxy_to_raw_upstream().await;
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
    let (upstream, proxy, _) = proxy_to_raw_upstream().await;
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
async fn three_hundred_header_lines_pass_complete_and_in_order_both_ways() {
    let (upstream, mut proxy, authority) = proxy_to_raw_upstream().await;
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
async fn next_with_a_zero_content_length_is_still_next() {
    let (upstream, mut proxy, authority) = proxy_to_raw_upstream().await;
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

#[tokio::test]
async fn expect_100_continue_passes_the_upstream_interim_answer_then_the_body() {
    let (upstream, mut proxy, authority) = proxy_to_raw_upstream().await;
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
async fn an_expect_request_whose_body_the_runtime_abandons_closes_both_sides() {
    let (upstream, mut proxy, _) = proxy_to_raw_upstream().await;
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
    let (upstream, _proxy, _) = proxy_to_raw_upstream().await;
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
async fn pipelined_requests_are_answered_in_order_over_one_upstream_connection() {
    let (upstream, mut proxy, authority) = proxy_to_raw_upstream().await;
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
    let (upstream, mut proxy, authority) = proxy_to_raw_upstream().await;
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
async fn a_chunked_event_reaches_the_runtime_verbatim_and_is_recorded_decoded() {
    let (upstream, mut proxy, authority) = proxy_to_raw_upstream().await;
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
    let (upstream, mut proxy, _authority) = proxy_to_raw_upstream().await;
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
async fn a_request_framed_twice_is_relayed_chunked_and_its_connection_closes() {
    let (upstream, _proxy, authority) = proxy_to_raw_upstream().await;
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

#[tokio::test]
async fn unreadable_heads_get_400_then_the_connection_closes() {
    let (upstream, proxy, _authority) = proxy_to_raw_upstream().await;
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

#[tokio::test]
async fn an_empty_transfer_encoding_and_a_bad_length_on_head_get_400() {
    let (upstream, proxy, _) = proxy_to_raw_upstream().await;
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
async fn a_head_growing_past_the_limit_gets_431_then_the_connection_closes() {
    let (upstream, proxy, _authority) = proxy_to_raw_upstream().await;
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
    let (upstream, proxy, _authority) = proxy_to_raw_upstream().await;
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
async fn a_head_request_that_cannot_be_forwarded_gets_a_502_without_a_body() {
    let proxy = proxy_to_nowhere().await;
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
async fn a_control_byte_in_a_request_chunk_line_gets_400_and_nothing_is_smuggled() {
    // To a peer that ends chunk lines at a bare LF, this body is 99 `x` and ends where the second
    // request begins; to a strict one it is one chunk carrying that request as data.
    let inner = "0\r\n\r\nPOST /2018-06-01/runtime/invocation/r2/SMUGGLED/response HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
    let smuggling = format!(
        "{:x};\n{}\r\n{inner}\r\n0\r\n\r\n",
        inner.len(),
        "x".repeat(inner.len())
    );
    for body in [
        smuggling.as_str(),
        "3;x\nabc\r\n0\r\n\r\nSMUGGLED",
        "3;x\x01y\r\nabc\r\n0\r\n\r\nSMUGGLED",
        "3;x\ry\r\nabc\r\n0\r\n\r\nSMUGGLED",
        "3;x\x7f\r\nabc\r\n0\r\n\r\nSMUGGLED",
    ] {
        let (upstream, proxy, _) = proxy_to_raw_upstream().await;
        let mut runtime = runtime_sent(&proxy, format!("POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{body}").as_bytes()).await;
        assert_bad_request(&read_to_close(&mut runtime).await);
        assert_nothing_past(&upstream, "SMUGGLED").await;
    }
}

#[tokio::test]
async fn a_control_byte_in_an_answer_chunk_line_fails_the_answer_and_closes_both_sides() {
    let (got, mut up) = answered_until_close(
        RESULT_REQUEST,
        "HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n3;x\nabc\r\n0\r\n\r\n",
    )
    .await;
    assert!(!got.contains("abc"), "{got:?}");
    assert!(read_until_closed(&mut up).await.is_empty());
}

#[tokio::test]
async fn an_http_1_0_exchange_leaves_no_upstream_connection_for_the_next_request() {
    let (upstream, proxy, authority) = proxy_to_raw_upstream().await;
    let accepted = "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}";
    let raw = tokio::spawn(async move {
        let mut first = accept(&upstream).await;
        let mut pending = Vec::new();
        let a = read_request(&mut first, &mut pending).await;
        first
            .write_all(accepted.as_bytes())
            .await
            .expect("write first answer");
        // The upstream may close after an HTTP/1.0 exchange; here its close comes late, so a
        // request sent on this connection meanwhile is lost with it.
        let mut probe = [0u8; 1];
        let second = tokio::select! {
            biased;
            conn = accept(&upstream) => Some(conn),
            _ = first.read(&mut probe) => None,
        };
        drop(first);
        let mut second = second?;
        let mut pending = Vec::new();
        let b = read_request(&mut second, &mut pending).await;
        second
            .write_all(accepted.as_bytes())
            .await
            .expect("write second answer");
        Some((a, b, second))
    });

    let mut runtime = runtime_sent(&proxy, b"POST /2018-06-01/runtime/invocation/r1/response HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n{}\
POST /2018-06-01/runtime/invocation/r2/response HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}").await;
    expect_bytes(&mut runtime, format!("{accepted}{accepted}").as_bytes()).await;
    let (a, b, _second) = raw
        .await
        .expect("raw upstream")
        .expect("the second request came on a new connection");
    assert_eq!(
        a.0,
        format!("POST /2018-06-01/runtime/invocation/r1/response HTTP/1.0\r\nHost: {authority}\r\nContent-Length: 2\r\n\r\n")
    );
    assert_eq!(
        b.0,
        format!("POST /2018-06-01/runtime/invocation/r2/response HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 2\r\n\r\n")
    );
}

#[tokio::test]
async fn an_answer_stopping_mid_body_is_closed_upstream_once_the_runtime_leaves() {
    for request in [RESULT_REQUEST, NEXT_REQUEST] {
        let (upstream, proxy, _) = proxy_to_raw_upstream().await;
        let answer = "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r1\r\nContent-Length: 100\r\n\r\n{\"part\":";
        let raw = answer_once(upstream, answer.to_owned());
        let mut runtime = runtime_sent(&proxy, request).await;
        expect_bytes(&mut runtime, answer.as_bytes()).await;
        let (_, mut up) = raw.await.expect("raw upstream");
        drop(runtime);
        assert!(
            read_until_closed(&mut up).await.is_empty(),
            "{}: the upstream connection closes",
            String::from_utf8_lossy(request)
        );
    }
}

#[tokio::test]
async fn a_large_head_arriving_in_small_writes_is_read_in_linear_time() {
    let (upstream, proxy, authority) = proxy_to_raw_upstream().await;
    let accepted = "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}";
    let request = format!(
        "POST /2018-06-01/runtime/invocation/r1/error HTTP/1.1\r\nHost: x\r\nLambda-Runtime-Function-XRay-Error-Cause: {}\r\nContent-Length: 2\r\n\r\n{{}}",
        "c".repeat(1024 * 1024 - 256)
    );
    let mut runtime = TcpStream::connect(proxy.addr).await.expect("connect");
    runtime.set_nodelay(true).expect("nodelay");
    let started = Instant::now();
    for piece in request.as_bytes().chunks(64) {
        runtime.write_all(piece).await.expect("write a piece");
        // The proxy (on this test's thread) takes each piece in a read of its own.
        tokio::task::yield_now().await;
    }
    // Accepted only now: the connection waits in the listener's backlog until then.
    let raw = answer_once(upstream, accepted.to_owned());
    expect_bytes(&mut runtime, accepted.as_bytes()).await;
    let elapsed = started.elapsed();
    let ((head, _), _) = raw.await.expect("raw upstream");
    assert_eq!(
        head,
        request[..request.len() - 2].replace("Host: x\r\n", &format!("Host: {authority}\r\n"))
    );
    // Re-parsing the whole head after each 64-byte read takes minutes here; a linear read, seconds.
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
}

#[tokio::test]
async fn two_host_lines_get_400_and_nothing_goes_upstream() {
    let (upstream, proxy, _) = proxy_to_raw_upstream().await;
    let mut runtime = runtime_sent(
        &proxy,
        b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    )
    .await;
    assert_bad_request(&read_to_close(&mut runtime).await);
    assert!(no_connection_within(&upstream, Duration::from_millis(200)).await);
}

#[tokio::test]
async fn no_interim_answer_reaches_an_http_1_0_runtime() {
    let (got, _up) = answered_until_close(
        b"POST /2018-06-01/runtime/invocation/r1/response HTTP/1.0\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}",
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}",
    )
    .await;
    assert_eq!(
        got,
        "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\nconnection: close\r\n\r\n{}"
    );
}

#[tokio::test]
async fn a_request_transfer_coding_other_than_one_chunked_gets_400() {
    for codings in [
        "Transfer-Encoding: gzip, chunked\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: chunked, chunked\r\n",
        "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
    ] {
        let (upstream, proxy, _) = proxy_to_raw_upstream().await;
        let mut runtime = runtime_sent(&proxy, format!("POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\nHost: x\r\n{codings}\r\n5\r\nhello\r\n0\r\n\r\n").as_bytes()).await;
        assert_bad_request(&read_to_close(&mut runtime).await);
        assert!(
            no_connection_within(&upstream, Duration::from_millis(200)).await,
            "{codings:?}"
        );
    }
}

#[tokio::test]
async fn an_answer_with_chunked_twice_is_read_until_the_upstream_closes() {
    let (upstream, proxy, _) = proxy_to_raw_upstream().await;
    let answer = "HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    let raw = tokio::spawn(async move {
        let mut s = accept(&upstream).await;
        read_request(&mut s, &mut Vec::new()).await;
        s.write_all(answer.as_bytes()).await.expect("write answer");
        tokio::time::sleep(Duration::from_millis(100)).await;
        s.write_all(b"and more until close")
            .await
            .expect("write the rest");
    });
    let mut runtime = runtime_sent(&proxy, RESULT_REQUEST).await;
    assert_eq!(
        String::from_utf8_lossy(&read_to_close(&mut runtime).await),
        format!("{answer}and more until close")
    );
    raw.await.expect("raw upstream");
}

#[tokio::test]
async fn an_http_1_0_answer_with_transfer_encoding_closes_both_connections() {
    let (got, mut up) = answered_until_close(
        RESULT_REQUEST,
        "HTTP/1.0 202 Accepted\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    )
    .await;
    assert_eq!(
        got,
        "HTTP/1.0 202 Accepted\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    );
    assert!(read_until_closed(&mut up).await.is_empty());
}

#[tokio::test]
async fn a_next_asking_to_close_gets_its_event_with_connection_close() {
    let (got, _up) = answered_until_close(
        b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        &event_answer("r1"),
    )
    .await;
    let expected = event_answer("r1").replacen("\r\n\r\n", "\r\nconnection: close\r\n\r\n", 1);
    assert_eq!(got, expected);
}

#[tokio::test]
async fn more_header_lines_than_the_limit_get_431() {
    let (upstream, proxy, _) = proxy_to_raw_upstream().await;
    let lines: String = (0..16_400).map(|i| format!("X-{i}: v\r\n")).collect();
    let mut runtime = runtime_sent(
        &proxy,
        format!("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n{lines}\r\n")
            .as_bytes(),
    )
    .await;
    let json = assert_refused(
        &read_until_closed(&mut runtime).await,
        "431 Request Header Fields Too Large",
    );
    assert!(
        json["errorMessage"]
            .as_str()
            .expect("message")
            .contains("header lines"),
        "{json}"
    );
    assert!(no_connection_within(&upstream, Duration::from_millis(200)).await);
}

/// The upstream answers a result with `partial` (an answer head it never finishes, or nothing at
/// all) and stalls; once the runtime leaves, the upstream connection must close too, as it does
/// for an answer stalling mid-body.
async fn assert_upstream_freed_when_the_runtime_leaves(request: &[u8], partial: &str) {
    let (upstream, proxy, _) = proxy_to_raw_upstream().await;
    let raw = answer_once(upstream, partial.to_owned());
    let runtime = runtime_sent(&proxy, request).await;
    let (_, mut up) = raw.await.expect("raw upstream");
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(runtime);
    assert!(
        read_until_closed(&mut up).await.is_empty(),
        "{partial:?}: the upstream connection closes"
    );
}

#[tokio::test]
async fn an_answer_stopping_mid_head_is_closed_upstream_once_the_runtime_leaves() {
    assert_upstream_freed_when_the_runtime_leaves(
        RESULT_REQUEST,
        "HTTP/1.1 202 Accepted\r\nContent-",
    )
    .await;
}

#[tokio::test]
async fn an_answer_stopping_after_an_interim_answer_is_closed_upstream_once_the_runtime_leaves() {
    assert_upstream_freed_when_the_runtime_leaves(
        RESULT_REQUEST,
        "HTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\n",
    )
    .await;
}

#[tokio::test]
async fn an_unanswered_result_is_closed_upstream_once_the_runtime_leaves() {
    assert_upstream_freed_when_the_runtime_leaves(RESULT_REQUEST, "").await;
}

#[tokio::test]
async fn a_runtime_that_half_closes_after_its_request_still_gets_the_whole_answer() {
    let (upstream, proxy, _) = proxy_to_raw_upstream().await;
    let head = "HTTP/1.1 202 Accepted\r\nContent-Length: 15\r\n\r\n";
    let raw = tokio::spawn(async move {
        let mut s = accept(&upstream).await;
        read_request(&mut s, &mut Vec::new()).await;
        s.write_all(head.as_bytes()).await.expect("write head");
        tokio::time::sleep(Duration::from_millis(100)).await;
        s.write_all(br#"{"status":"OK"}"#)
            .await
            .expect("write body");
        s
    });
    let mut runtime = runtime_sent(&proxy, RESULT_REQUEST).await;
    // Done sending: a plain relay passes the half close on and the answer back whole.
    runtime.shutdown().await.expect("half close");
    let got = read_until_closed(&mut runtime).await;
    assert_eq!(
        String::from_utf8_lossy(&got),
        format!(r#"{head}{{"status":"OK"}}"#)
    );
    raw.await.expect("raw upstream");
}

/// A runtime that sent its whole result and then reset its connection (it was killed) while the
/// upstream took 200 ms to accept the result: the upstream is not at fault, so the result's record
/// must not carry an upstream error (which the invocation's span reports as
/// `LambdaLens.UpstreamUnavailable`, and which is logged as "cannot reach the upstream Runtime API").
#[tokio::test]
async fn a_runtime_resetting_while_its_result_is_accepted_is_no_upstream_failure() {
    let (upstream, mut proxy, _) = proxy_to_raw_upstream().await;
    let raw = tokio::spawn(async move {
        let mut s = accept(&upstream).await;
        read_request(&mut s, &mut Vec::new()).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let answer = answer_with_body("HTTP/1.1 202 Accepted", "", r#"{"status":"OK"}"#);
        let _ = s.write_all(answer.as_bytes()).await;
        s
    });
    let runtime = runtime_sent(&proxy, RESULT_REQUEST).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Closing with linger 0 resets the connection.
    runtime.set_zero_linger().expect("linger");
    drop(runtime);
    let ProxyRecord::Result(rec) = proxy.record().await else {
        panic!("expected a result record");
    };
    raw.await.expect("raw upstream");
    assert_eq!(rec.upstream_error, None, "status {:?}", rec.upstream_status);
}

/// A runtime that half-closed after its result, while the upstream takes 2.5 s to accept it: past
/// `LINGER_MAX_TIME` the README says both connections close; the runtime must not be told the
/// Runtime API is unreachable (`502 LambdaLens.UpstreamUnavailable`) for a result it accepted.
#[tokio::test]
async fn a_half_closed_runtime_waiting_past_the_linger_time_gets_no_made_up_502() {
    let (upstream, proxy, _) = proxy_to_raw_upstream().await;
    let raw = tokio::spawn(async move {
        let mut s = accept(&upstream).await;
        read_request(&mut s, &mut Vec::new()).await;
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let answer = answer_with_body("HTTP/1.1 202 Accepted", "", r#"{"status":"OK"}"#);
        let _ = s.write_all(answer.as_bytes()).await;
        s
    });
    let mut runtime = runtime_sent(&proxy, RESULT_REQUEST).await;
    runtime.shutdown().await.expect("half close");
    let got = String::from_utf8_lossy(&read_until_closed(&mut runtime).await).into_owned();
    raw.await.expect("raw upstream");
    assert!(!got.contains("502"), "{got}");
}

/// A runtime that half-closed after its result; the upstream sends the answer's head after 1.5 s
/// and then stalls mid-body. The README bounds the wait at `LINGER_MAX_TIME` = 2 s after the
/// runtime closed its side, then both connections close: the upstream's must be closed well
/// before 3 s (the bound restarts for the body: about 3.5 s).
#[tokio::test]
async fn a_half_closed_runtime_holds_the_upstream_at_most_the_linger_time_in_all() {
    let (upstream, proxy, _) = proxy_to_raw_upstream().await;
    let raw = tokio::spawn(async move {
        let mut s = accept(&upstream).await;
        read_request(&mut s, &mut Vec::new()).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        s.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 15\r\n\r\n{\"sta")
            .await
            .expect("write head");
        s
    });
    let mut runtime = runtime_sent(&proxy, RESULT_REQUEST).await;
    runtime.shutdown().await.expect("half close");
    let closed_side = Instant::now();
    let mut up = raw.await.expect("raw upstream");
    assert!(read_until_closed(&mut up).await.is_empty());
    let held = closed_side.elapsed();
    assert!(
        held < Duration::from_millis(2800),
        "the upstream was held {held:?} after the runtime closed its side"
    );
    drop(runtime);
}

/// Requests the runtime pipelines while its call waits for the answer's head (read by the watch on
/// the runtime) go upstream whole and in order, also past the head limit and after a half close;
/// with and without `Expect: 100-continue`.
#[tokio::test]
async fn requests_pipelined_while_a_call_waits_are_relayed_whole_and_in_order() {
    let big = "x".repeat(3 * 1024 * 1024);
    for expect in [false, true] {
        let (upstream, _proxy, _) = proxy_to_raw_upstream().await;
        let accepted = answer_with_body("HTTP/1.1 202 Accepted", "", r#"{"status":"OK"}"#);
        let second = format!(
            "POST /2018-06-01/runtime/invocation/r2/response HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{big}",
            big.len()
        );
        let third = "GET /2018-06-01/unknown HTTP/1.1\r\nHost: x\r\n\r\n";
        let raw = tokio::spawn({
            let accepted = accepted.clone();
            async move {
                let mut s = accept(&upstream).await;
                let mut pending = Vec::new();
                let head = read_head(&mut s, &mut pending).await;
                if expect {
                    s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                        .await
                        .expect("100");
                }
                let first = read_body(&mut s, &mut pending, content_length(&head)).await;
                // The runtime sends the next requests and half-closes meanwhile.
                tokio::time::sleep(Duration::from_millis(500)).await;
                s.write_all(accepted.as_bytes()).await.expect("answer 1");
                let second = read_request(&mut s, &mut pending).await;
                s.write_all(accepted.as_bytes()).await.expect("answer 2");
                let third = read_request(&mut s, &mut pending).await;
                s.write_all(accepted.as_bytes()).await.expect("answer 3");
                (first, second, third, s)
            }
        });
        let mut runtime = TcpStream::connect(_proxy.addr).await.expect("connect");
        let expect_line = if expect {
            "Expect: 100-continue\r\n"
        } else {
            ""
        };
        runtime
            .write_all(format!("POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\nHost: x\r\n{expect_line}Content-Length: 2\r\n\r\n").as_bytes())
            .await
            .expect("head");
        if expect {
            expect_bytes(&mut runtime, b"HTTP/1.1 100 Continue\r\n\r\n").await;
        }
        runtime.write_all(b"{}").await.expect("body");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (mut rd, mut wr) = runtime.into_split();
        let reader = tokio::spawn(async move { read_until_closed(&mut rd).await });
        wr.write_all(second.as_bytes()).await.expect("second");
        wr.write_all(third.as_bytes()).await.expect("third");
        wr.shutdown().await.expect("half close");
        let (first, (h2, b2), (h3, _), _up) = raw.await.expect("raw upstream");
        assert_eq!(first, b"{}");
        assert!(
            h2.starts_with("POST /2018-06-01/runtime/invocation/r2/response"),
            "{h2}"
        );
        assert_eq!(b2.len(), big.len());
        assert!(b2 == big.as_bytes());
        assert!(h3.starts_with("GET /2018-06-01/unknown"), "{h3}");
        let got = reader.await.expect("reader");
        assert_eq!(
            String::from_utf8_lossy(&got),
            accepted.repeat(3),
            "expect: {expect}"
        );
    }
}

/// After `100 Continue` and the body, the upstream stalls before its final answer: once the runtime
/// leaves, the upstream connection closes too (the watch in `send_after_continue`).
#[tokio::test]
async fn an_expect_request_whose_answer_stalls_is_closed_upstream_once_the_runtime_leaves() {
    let (upstream, proxy, _) = proxy_to_raw_upstream().await;
    let mut runtime = runtime_sent(
        &proxy,
        b"POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
    )
    .await;
    let mut up = accept(&upstream).await;
    let mut pending = Vec::new();
    read_head(&mut up, &mut pending).await;
    up.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
        .await
        .expect("100");
    expect_bytes(&mut runtime, b"HTTP/1.1 100 Continue\r\n\r\n").await;
    runtime.write_all(b"{}").await.expect("body");
    read_body(&mut up, &mut pending, 2).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let left = Instant::now();
    drop(runtime);
    assert!(read_until_closed(&mut up).await.is_empty());
    assert!(
        left.elapsed() < Duration::from_millis(2500),
        "{:?}",
        left.elapsed()
    );
}

/// A runtime pipelines a second result behind its first and half-closes. The upstream answers the
/// first 1.9 s later (within `LINGER_MAX_TIME`) and the second 0.3 s after reading it. The linger
/// start (`Conn::ended_at`) stays with the connection, so the second call inherits what is left of
/// the first's 2 s (about 0.1 s): it is still sent upstream, which takes the result, but its answer
/// is not awaited and the runtime gets nothing for it. Either the second request should not go
/// upstream once the linger is (nearly) spent, or its answer should be awaited.
#[tokio::test]
async fn a_request_pipelined_before_a_half_close_gets_the_answer_the_upstream_gave_it() {
    let (upstream, proxy, _) = proxy_to_raw_upstream().await;
    let accepted = answer_with_body("HTTP/1.1 202 Accepted", "", r#"{"status":"OK"}"#);
    let raw = tokio::spawn({
        let accepted = accepted.clone();
        async move {
            let mut s = accept(&upstream).await;
            let mut pending = Vec::new();
            read_request(&mut s, &mut pending).await;
            tokio::time::sleep(Duration::from_millis(1900)).await;
            s.write_all(accepted.as_bytes()).await.expect("answer 1");
            let (second, _) = read_request(&mut s, &mut pending).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            let _ = s.write_all(accepted.as_bytes()).await;
            (second, s)
        }
    });
    let mut runtime = TcpStream::connect(proxy.addr).await.expect("connect");
    let second = String::from_utf8_lossy(RESULT_REQUEST).replace("/r1/", "/r2/");
    runtime.write_all(RESULT_REQUEST).await.expect("first");
    runtime.write_all(second.as_bytes()).await.expect("second");
    runtime.shutdown().await.expect("half close");
    let got = read_until_closed(&mut runtime).await;
    let (second_head, _up) = raw.await.expect("raw upstream");
    assert!(second_head.contains("/r2/"), "{second_head}");
    assert_eq!(
        String::from_utf8_lossy(&got),
        accepted.repeat(2),
        "the upstream took the second result and answered it"
    );
}
