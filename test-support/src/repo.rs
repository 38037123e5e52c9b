//! The repository's files the tests use: its root, the project venv's Python and the example Node.js
//! function with its installed runtime client.

use std::path::{Path, PathBuf};

/// The repository root (this crate lives in its `test-support/` folder).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("test-support sits inside the repository")
        .to_path_buf()
}

/// `path`, asserted present: `make {target}` installs it.
fn installed(path: PathBuf, target: &str) -> PathBuf {
    assert!(
        path.exists(),
        "{} is missing: run `make {target}` (the README's test command does)",
        path.display()
    );
    path
}

/// The Python of the project venv (`make venv`).
pub fn venv_python() -> PathBuf {
    installed(repo_root().join(".venv/bin/python"), "venv")
}

/// The example Node.js function's folder (its task root).
pub fn node_function_dir() -> PathBuf {
    repo_root().join("examples/node-function")
}

/// The entry point of the Node.js runtime interface client installed beside the example function
/// (`make node`).
pub fn node_runtime_client() -> PathBuf {
    installed(
        node_function_dir().join("node_modules/aws-lambda-ric/index.mjs"),
        "node",
    )
}
