//! Real runtime clients as child processes: the example Python function under `awslambdaric`.

use std::process::Stdio;

use tokio::process::{Child, Command};

use crate::repo::{repo_root, venv_python};

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
