//! Listening sockets: every listener lambda-lens opens (the proxy, the telemetry listener) binds
//! its configured port and, when that port is taken, a free one instead, because each of them can
//! tell its peer the port actually in use (the hand-off file, the telemetry subscription).

use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use tokio::net::TcpListener;

/// Binds `ip`:`port`; if that port is taken, a free port instead, with one warning naming `what`.
pub async fn bind_with_fallback(ip: Ipv4Addr, port: u16, what: &str) -> io::Result<TcpListener> {
    match TcpListener::bind(SocketAddr::from((ip, port))).await {
        Err(e) if e.kind() == io::ErrorKind::AddrInUse && port != 0 => {
            let listener = TcpListener::bind((ip, 0)).await?;
            tracing::warn!(
                "{what} port {port} is already in use; listening on {} instead",
                listener.local_addr()?
            );
            Ok(listener)
        }
        other => other,
    }
}
