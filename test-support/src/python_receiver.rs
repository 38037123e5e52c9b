//! `tests/otlp_receiver.py`: an OTLP/HTTP receiver that decodes with the OpenTelemetry project's own
//! Python protobuf bindings, run as a child process that prints one JSON line per span, log record
//! or metric data point.

use tokio::io::{AsyncBufReadExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use crate::repo::{repo_root, venv_python};

/// The running receiver: killed when dropped.
pub struct PythonReceiver {
    /// Its OTLP/HTTP endpoint, `http://127.0.0.1:<port>`.
    pub endpoint: String,
    lines: Lines<BufReader<ChildStdout>>,
    _process: Child,
}

impl PythonReceiver {
    /// Starts the receiver and waits until it listens.
    pub async fn start() -> Self {
        let mut process = Command::new(venv_python())
            .arg(repo_root().join("tests/otlp_receiver.py"))
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python OTLP receiver starts");
        let mut lines = BufReader::new(process.stdout.take().expect("stdout piped")).lines();
        let first = lines
            .next_line()
            .await
            .expect("read")
            .expect("a first line");
        let port = first.strip_prefix("listening ").expect("listening line");
        Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            lines,
            _process: process,
        }
    }

    /// The next decoded item, as its JSON line.
    pub async fn next(&mut self) -> serde_json::Value {
        let line = self
            .lines
            .next_line()
            .await
            .expect("read")
            .expect("receiver alive");
        serde_json::from_str(&line).expect("JSON line")
    }
}
