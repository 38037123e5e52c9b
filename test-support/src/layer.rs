//! lambda-lens as a layer: the directory Lambda extracts a layer into under `/opt`.

use std::path::{Path, PathBuf};

use crate::repo::repo_root;

/// A layer directory as Lambda extracts it under `/opt`: `extensions/lambda-lens` (a copy of
/// `extension`, the test's `env!("CARGO_BIN_EXE_lambda-lens")`) and `lambda-lens-wrapper`. Unique
/// per test `name`.
pub fn build_layer(extension: impl AsRef<Path>, name: &str) -> PathBuf {
    let opt = std::env::temp_dir().join(format!("lens-layer-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&opt);
    std::fs::create_dir_all(opt.join("extensions")).expect("layer dirs");
    std::fs::copy(extension, opt.join("extensions/lambda-lens"))
        .expect("extension copied into the layer");
    std::fs::copy(
        repo_root().join("layer/lambda-lens-wrapper"),
        opt.join("lambda-lens-wrapper"),
    )
    .expect("wrapper copied into the layer");
    opt
}
