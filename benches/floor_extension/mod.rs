//! The floor of the on-demand path: an extension that does only the I/O every invocation needs and
//! nothing else, so that lambda-lens's CPU per invocation can be read against what the same
//! messages cost on the same machine in the same run.
//!
//! Per invocation it makes the same exchanges as lambda-lens: it relays the runtime's two Runtime
//! API calls byte for byte (a plain `copy_bidirectional` per connection, no parsing), takes the
//! Telemetry API's batches (read and answered 200, not parsed), sends one OTLP/HTTP export request
//! to the collector (an empty `ExportTraceServiceRequest`) and waits for its answer, and long-polls
//! `/extension/event/next`. Its HTTP is the least that works against the sandbox: fixed request
//! heads, `content-length` framing, kept-alive connections. It runs on a single-threaded tokio
//! runtime, as lambda-lens does.
//!
//! The bench runs it by re-executing itself with [`FLAG`] (see `invocation_cpu.rs`).

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The argument that makes the bench binary run as the floor extension.
pub const FLAG: &str = "--floor-extension";

/// Runs the floor extension until SHUTDOWN (or until the platform goes away).
pub fn run() {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(async {
            if let Err(e) = serve().await {
                eprintln!("floor extension: {e}");
            }
        });
}

async fn serve() -> io::Result<()> {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").map_err(io::Error::other)?;
    let upstream: SocketAddr = tokio::net::lookup_host(&api)
        .await?
        .next()
        .ok_or_else(|| io::Error::other("AWS_LAMBDA_RUNTIME_API does not resolve"))?;
    let collector = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").map_err(io::Error::other)?;
    let collector = collector
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();

    // The proxy's address goes into the hand-off file before registering, as lambda-lens does:
    // the runtime starts once every extension registered.
    let proxy = TcpListener::bind("127.0.0.1:0").await?;
    let handoff = std::env::var("LAMBDA_LENS_HANDOFF_FILE").map_err(io::Error::other)?;
    let handoff = std::path::Path::new(&handoff);
    std::fs::create_dir_all(handoff.parent().unwrap_or(std::path::Path::new("/")))?;
    let partial = handoff.with_extension("partial");
    std::fs::write(&partial, format!("{}\n", proxy.local_addr()?))?;
    std::fs::rename(&partial, handoff)?;
    tokio::spawn(relay_runtime(proxy, upstream));

    let mut platform = Http::connect(&api).await?;
    let (head, _) = platform
        .call(
            &format!(
                "POST /2020-01-01/extension/register HTTP/1.1\r\nHost: {api}\r\n\
             Lambda-Extension-Name: lambda-lens\r\ncontent-type: application/json\r\n"
            ),
            br#"{"events":["INVOKE","SHUTDOWN"]}"#,
        )
        .await?;
    let id = header(&head, "lambda-extension-identifier")
        .ok_or_else(|| io::Error::other("register answered without an identifier"))?
        .to_owned();

    let telemetry = TcpListener::bind("127.0.0.1:0").await?;
    let port = telemetry.local_addr()?.port();
    tokio::spawn(take_telemetry(telemetry));
    let subscription = format!(
        r#"{{"schemaVersion":"2022-12-13","types":["platform","function","extension"],"buffering":{{"maxItems":1000,"maxBytes":262144,"timeoutMs":25}},"destination":{{"protocol":"HTTP","URI":"http://sandbox.localdomain:{port}"}}}}"#
    );
    platform
        .call(
            &format!(
                "PUT /2022-07-01/telemetry HTTP/1.1\r\nHost: {api}\r\n\
                 Lambda-Extension-Identifier: {id}\r\ncontent-type: application/json\r\n"
            ),
            subscription.as_bytes(),
        )
        .await?;

    let mut export = Http::connect(&collector).await?;
    let next = format!(
        "GET /2020-01-01/extension/event/next HTTP/1.1\r\nHost: {api}\r\n\
         Lambda-Extension-Identifier: {id}\r\n"
    );
    let post = format!(
        "POST /v1/traces HTTP/1.1\r\nHost: {collector}\r\ncontent-type: application/x-protobuf\r\n"
    );
    loop {
        let (_, event) = platform.call(&next, b"").await?;
        if event.windows(8).any(|w| w == b"SHUTDOWN") {
            return Ok(());
        }
        export.call(&post, b"").await?;
    }
}

/// Relays every runtime connection to the Runtime API, bytes only.
async fn relay_runtime(listener: TcpListener, upstream: SocketAddr) {
    while let Ok((mut runtime, _)) = listener.accept().await {
        tokio::spawn(async move {
            let _ = runtime.set_nodelay(true);
            let Ok(mut api) = TcpStream::connect(upstream).await else {
                return;
            };
            let _ = api.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut runtime, &mut api).await;
        });
    }
}

/// Takes every Telemetry API batch and answers 200.
async fn take_telemetry(listener: TcpListener) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(async move {
            let mut http = Http::new(stream);
            while http.read_message().await.is_ok() {
                if http
                    .stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
    }
}

/// One kept-alive HTTP/1.1 connection with `content-length` framing both ways.
struct Http {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Http {
    fn new(stream: TcpStream) -> Self {
        let _ = stream.set_nodelay(true);
        Self {
            stream,
            buf: Vec::with_capacity(64 * 1024),
        }
    }

    async fn connect(addr: &str) -> io::Result<Self> {
        Ok(Self::new(TcpStream::connect(addr).await?))
    }

    /// Sends `head` (without its blank line) with `body`, and reads the answer: (head, body).
    async fn call(&mut self, head: &str, body: &[u8]) -> io::Result<(String, Vec<u8>)> {
        let mut request = Vec::with_capacity(head.len() + body.len() + 32);
        request.extend_from_slice(head.as_bytes());
        request.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
        request.extend_from_slice(body);
        self.stream.write_all(&request).await?;
        self.read_message().await
    }

    /// Reads one message (head and `content-length` body) from the connection.
    async fn read_message(&mut self) -> io::Result<(String, Vec<u8>)> {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                let length: usize = header(&head, "content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let total = end + 4 + length;
                while self.buf.len() < total {
                    self.fill().await?;
                }
                let body = self.buf[end + 4..total].to_vec();
                self.buf.drain(..total);
                return Ok((head, body));
            }
            self.fill().await?;
        }
    }

    async fn fill(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

/// The value of header `name` (case-insensitive) in a message head.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}
