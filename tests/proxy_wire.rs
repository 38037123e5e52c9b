//! The proxy on the wire, raw sockets on both sides and exact bytes: header lines (case, order,
//! count, size), `Expect: 100-continue`, pipelining, chunked and close-delimited bodies, requests
//! framed twice, and lambda-lens's own 400, 431 and 502 answers with the connection closing after
//! them when it must.

use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use lambda_lens::record::{ProxyRecord, ResultKind};
use lambda_lens_test_support::proxy::{proxy_to_nowhere, proxy_to_raw_upstream};
use lambda_lens_test_support::raw_upstream::{
    accept, answer_once, answer_with_body, no_connection_within,
};
use lambda_lens_test_support::wire::{
    assert_quiet, content_length, expect_bytes, expect_bytes_after, read_body, read_head,
    read_request, read_to_close, read_until_closed, split_answer,
};

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
