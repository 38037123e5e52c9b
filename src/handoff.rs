//! The hand-off file: how `lambda-lens-wrapper` learns where the proxy listens.
//!
//! Lambda starts the runtime only after every extension has registered, and lambda-lens writes this
//! file after binding and before registering, so the wrapper always reads the current address. A
//! missing file means "no proxy": the wrapper leaves `AWS_LAMBDA_RUNTIME_API` alone. `/tmp` survives a
//! sandbox reset, so a stale file is removed first thing at start-up.

use std::io;
use std::net::SocketAddr;
use std::path::Path;

/// Removes a hand-off file left by an earlier process; a missing file is fine.
pub fn clear(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Writes `addr` (as `host:port`, the form `AWS_LAMBDA_RUNTIME_API` takes) atomically to `path`.
pub fn publish(path: &Path, addr: SocketAddr) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // Write then rename so the wrapper can never read a half-written address.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, format!("{addr}\n"))?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_then_clear() {
        let dir = std::env::temp_dir().join(format!("lens-handoff-{}", std::process::id()));
        let path = dir.join("nested").join("runtime-api");
        clear(&path).expect("clearing a missing file is fine");
        let addr: SocketAddr = "127.0.0.1:9009".parse().expect("literal address");
        publish(&path, addr).expect("hand-off file written");
        assert_eq!(
            std::fs::read_to_string(&path).expect("file readable"),
            "127.0.0.1:9009\n"
        );
        clear(&path).expect("file removed");
        assert!(!path.exists());
        std::fs::remove_dir_all(&dir).expect("temp dir removed");
    }
}
