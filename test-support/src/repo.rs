//! The repository's files the tests use: its root and the project venv's Python.

use std::path::{Path, PathBuf};

/// The repository root (this crate lives in its `test-support/` folder).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("test-support sits inside the repository")
        .to_path_buf()
}

/// The Python of the project venv (`make venv`).
pub fn venv_python() -> PathBuf {
    let python = repo_root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `make venv` (the README's test command does)",
        python.display()
    );
    python
}
