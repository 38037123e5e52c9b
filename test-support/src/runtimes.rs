//! Real runtime clients as child processes: the example Python function under `awslambdaric` and the
//! example Node.js function under `aws-lambda-ric`.

use std::process::Stdio;

use tokio::process::{Child, Command};

use crate::repo::{node_function_dir, node_runtime_client, repo_root, venv_python};

/// A child process killed when dropped.
pub struct ChildGuard(pub Option<Child>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.start_kill();
        }
    }
}

/// Starts the example Python function with `awslambdaric`, talking to `runtime_api`.
pub fn spawn_python_function(runtime_api: &str) -> ChildGuard {
    let child = Command::new(venv_python())
        .args(["-m", "awslambdaric", "app.handler"])
        .current_dir(repo_root().join("examples/python-function"))
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "example")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("_HANDLER", "app.handler")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("python runtime starts");
    ChildGuard(Some(child))
}

/// The handlers of the example Node.js function (`examples/node-function/index.mjs`), one per result
/// path of the Node.js runtime client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeHandler {
    /// Answers `{"requestId", "event"}` on `/response`.
    Echo,
    /// Throws a `TypeError` with the event's `fail` message: `/error`.
    Fail,
    /// Streams `chunks` lines `delayMs` apart, then throws a `RangeError` with the event's `fail`
    /// message: a streamed `/response` ending in error trailers.
    StreamThenThrow,
    /// Streams the event's `partial` text, then sleeps past the invocation's deadline.
    StreamThenStall,
}

impl NodeHandler {
    /// The handler as `_HANDLER` names it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Echo => "index.echo",
            Self::Fail => "index.fail",
            Self::StreamThenThrow => "index.streamThenThrow",
            Self::StreamThenStall => "index.streamThenStall",
        }
    }
}

/// Starts the example Node.js function's `handler` with `aws-lambda-ric`, talking to `runtime_api`.
pub fn spawn_node_function(runtime_api: &str, handler: NodeHandler) -> ChildGuard {
    let task_root = node_function_dir();
    let child = Command::new("node")
        .arg(node_runtime_client())
        .current_dir(&task_root)
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "example-node")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        // The Node.js client refuses an invocation without these (it builds its context from them).
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/example-node")
        .env(
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2025/01/01/[$LATEST]0123456789abcdef",
        )
        .env("LAMBDA_TASK_ROOT", &task_root)
        .env("_HANDLER", handler.name())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("node runtime starts");
    ChildGuard(Some(child))
}
