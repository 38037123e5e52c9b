//! The proxy under test: lambda-lens's Runtime API proxy served in-process on an ephemeral port, its
//! records queued for the test to read.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;

use lambda_lens::proxy::Proxy;
use lambda_lens::record::{ProxyRecord, RecordSender};
use lambda_lens::settings::RuntimeApiEndpoint;
use lambda_lens::transform::Transforms;

use crate::fake_lambda::FakeLambda;

/// Bytes of each body the proxies these helpers start keep in their records.
pub const CAPTURE_BYTES: usize = 4096;

/// The proxy under test, in-process, with its record queue.
pub struct ProxyUnderTest {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The records it sends to the owner task.
    pub records: mpsc::Receiver<ProxyRecord>,
}

impl ProxyUnderTest {
    /// A proxy to `upstream` keeping `capture_bytes` of each body, without transforms.
    pub async fn start(upstream: RuntimeApiEndpoint, capture_bytes: usize) -> Self {
        Self::start_with(upstream, capture_bytes, Transforms::none()).await
    }

    /// A proxy to `upstream` keeping `capture_bytes` of each body, with `transforms`.
    pub async fn start_with(
        upstream: RuntimeApiEndpoint,
        capture_bytes: usize,
        transforms: Transforms,
    ) -> Self {
        Self::start_configured(upstream, capture_bytes, |proxy| {
            proxy.with_transforms(transforms)
        })
        .await
    }

    /// A proxy to `upstream` keeping `capture_bytes` of each body, set up further by `configure`.
    pub async fn start_configured(
        upstream: RuntimeApiEndpoint,
        capture_bytes: usize,
        configure: impl FnOnce(Proxy) -> Proxy,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("proxy binds an ephemeral port");
        let addr = listener.local_addr().expect("bound address");
        let (sender, records) = RecordSender::channel();
        let proxy = configure(Proxy::new(upstream, capture_bytes, sender));
        tokio::spawn(proxy.serve(listener));
        Self { addr, records }
    }

    /// `host:port`, what a runtime behind the proxy gets in `AWS_LAMBDA_RUNTIME_API`.
    pub fn runtime_api(&self) -> String {
        self.addr.to_string()
    }

    /// The next record, within 10 s.
    pub async fn record(&mut self) -> ProxyRecord {
        tokio::time::timeout(Duration::from_secs(10), self.records.recv())
            .await
            .expect("a record within 10 s")
            .expect("record queue open")
    }
}

/// A fake Lambda and the proxy in front of it, keeping [`CAPTURE_BYTES`] of each body.
pub async fn proxy_to_fake_lambda() -> (FakeLambda, ProxyUnderTest) {
    let fake = FakeLambda::start().await;
    let proxy = ProxyUnderTest::start(fake.endpoint(), CAPTURE_BYTES).await;
    (fake, proxy)
}

/// A raw upstream on an ephemeral port, the proxy in front of it (keeping [`CAPTURE_BYTES`] of each
/// body, with `transforms`), and the upstream's `host:port` (what the proxy puts in `Host`).
pub async fn proxy_to_raw_upstream_with(
    transforms: Transforms,
) -> (TcpListener, ProxyUnderTest, String) {
    let upstream = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind raw upstream");
    let authority = upstream.local_addr().expect("addr").to_string();
    let endpoint = RuntimeApiEndpoint::parse(&authority).expect("parse");
    let proxy = ProxyUnderTest::start_with(endpoint, CAPTURE_BYTES, transforms).await;
    (upstream, proxy, authority)
}

/// [`proxy_to_raw_upstream_with`] without transforms.
pub async fn proxy_to_raw_upstream() -> (TcpListener, ProxyUnderTest, String) {
    proxy_to_raw_upstream_with(Transforms::none()).await
}

/// The proxy in front of an address where nothing listens.
pub async fn proxy_to_nowhere() -> ProxyUnderTest {
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = closed.local_addr().expect("addr");
    drop(closed);
    let endpoint = RuntimeApiEndpoint::parse(&addr.to_string()).expect("parse");
    ProxyUnderTest::start(endpoint, CAPTURE_BYTES).await
}
