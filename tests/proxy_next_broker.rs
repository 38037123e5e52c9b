//! The `/next` long poll when runtimes leave: an event pulled upstream for a runtime that left goes to
//! the next `/next` (read whole, or while it arrives, with and without event transforms), never
//! pulled twice; and a `/next` on a kept or pooled upstream connection the upstream closed is sent
//! again once, but not after any answer byte arrived.

use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use lambda_lens::record::ProxyRecord;
use lambda_lens::settings::TransformSettings;
use lambda_lens::transform::Transforms;
use lambda_lens_test_support::client::get_next;
use lambda_lens_test_support::fake_lambda::{FakeInvocation, FakeLambda};
use lambda_lens_test_support::proxy::{
    proxy_to_fake_lambda, proxy_to_raw_upstream, proxy_to_raw_upstream_with, ProxyUnderTest,
    CAPTURE_BYTES,
};
use lambda_lens_test_support::raw_upstream::{accept, event_answer, no_connection_within};
use lambda_lens_test_support::wire::{
    content_length, read_body, read_head, read_request, NEXT_REQUEST,
};

/// Event transforms that inject `traceparent` into HTTP events.
fn inject_traceparent() -> Transforms {
    Transforms::new(&TransformSettings {
        inject_traceparent: true,
        ..Default::default()
    })
}

/// A runtime that parks on `/next` and disconnects once the proxy's upstream call (the
/// `upstream_calls`-th) is under way.
async fn park_and_leave(proxy: &ProxyUnderTest, fake: &FakeLambda, upstream_calls: usize) {
    let mut stream = TcpStream::connect(proxy.addr)
        .await
        .expect("connect to proxy");
    stream
        .write_all(NEXT_REQUEST)
        .await
        .expect("request written");
    while fake.next_calls() < upstream_calls {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(stream);
}

#[tokio::test]
async fn an_event_pulled_for_a_runtime_that_left_goes_to_the_next_next() {
    let (fake, mut proxy) = proxy_to_fake_lambda().await;
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
async fn with_an_event_transform_an_event_for_a_runtime_that_left_is_not_lost_either() {
    let fake = FakeLambda::start().await;
    let mut proxy =
        ProxyUnderTest::start_with(fake.endpoint(), CAPTURE_BYTES, inject_traceparent()).await;
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

#[tokio::test]
async fn an_event_arriving_as_its_runtime_leaves_is_kept_for_the_next_next() {
    let (upstream, mut proxy, _) = proxy_to_raw_upstream().await;
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
async fn with_an_event_transform_a_runtime_leaving_mid_event_does_not_start_a_second_next() {
    let (upstream, mut proxy, _) = proxy_to_raw_upstream_with(inject_traceparent()).await;
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

#[tokio::test]
async fn a_kept_upstream_connection_closed_under_a_next_is_replaced() {
    let (upstream, mut proxy, _) = proxy_to_raw_upstream().await;
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
async fn a_pooled_upstream_connection_closed_under_a_next_is_replaced() {
    let (upstream, mut proxy, _) = proxy_to_raw_upstream().await;
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
    let (upstream, _proxy, _) = proxy_to_raw_upstream().await;
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
