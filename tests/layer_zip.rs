//! The layer zips `make zip` assembles (reference §7): layout and unix modes, the binaries in them
//! (static, built for the right architecture, size), the multi-architecture launcher, the deploy dry
//! run, and the arm64 binary serving the example function in the sandbox under user-mode qemu.
//!
//! The zips are build products of `make zip` (which `make test` runs first); these tests fail, rather
//! than skip, when they are missing.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use lambda_sandbox::{Invocation, Sandbox, ShutdownReason, Status};
use serde_json::json;

use lambda_lens_test_support::repo::repo_root;
use lambda_lens_test_support::sandbox::{finished_records_for, python_sandbox_config};

const DIR: u32 = 0o040755;
const EXE: u32 = 0o100755;
const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;
/// Ceiling for each binary: the 4 MB target (the release profile is size-optimised and keeps
/// panic=unwind, see Cargo.toml).
const SIZE_LIMIT: u64 = 4_000_000;

fn layer_zip(name: &str) -> Vec<u8> {
    let path = repo_root().join("target/layers").join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `make zip` first (`make test` does)",
            path.display()
        )
    })
}

/// Each entry's name and unix mode, from the zip's central directory.
fn entries(zip: &[u8]) -> Vec<(String, u32)> {
    let u16_at = |at: usize| u16::from_le_bytes([zip[at], zip[at + 1]]);
    let u32_at = |at: usize| u32::from_le_bytes(zip[at..at + 4].try_into().unwrap());
    let eocd = (0..zip.len() - 21)
        .rev()
        .find(|&at| zip[at..at + 4] == *b"PK\x05\x06")
        .expect("end of central directory");
    let mut at = u32_at(eocd + 16) as usize;
    let mut found = Vec::new();
    for _ in 0..u16_at(eocd + 10) {
        assert_eq!(zip[at..at + 4], *b"PK\x01\x02", "central directory entry");
        let name_len = u16_at(at + 28) as usize;
        let name = String::from_utf8(zip[at + 46..at + 46 + name_len].to_vec()).expect("name");
        found.push((name, u32_at(at + 38) >> 16));
        at += 46 + name_len + u16_at(at + 30) as usize + u16_at(at + 32) as usize;
    }
    found.sort();
    found
}

fn expected(layout: &[(&str, u32)]) -> Vec<(String, u32)> {
    let mut layout: Vec<_> = layout.iter().map(|&(n, m)| (n.to_owned(), m)).collect();
    layout.sort();
    layout
}

/// Extracts a layer zip into a fresh directory the way Lambda does under `/opt`, modes included
/// (Python's zipfile extracts the bytes but not the modes).
fn unpack(zip_name: &str, dir_name: &str) -> PathBuf {
    let zip = layer_zip(zip_name);
    let dir =
        std::env::temp_dir().join(format!("lens-layer-zip-{}-{dir_name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let status = Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])",
        ])
        .arg(repo_root().join("target/layers").join(zip_name))
        .arg(&dir)
        .status()
        .expect("python3 runs");
    assert!(status.success(), "extracting {zip_name}");
    for (name, mode) in entries(&zip) {
        let perms = std::fs::Permissions::from_mode(mode & 0o7777);
        std::fs::set_permissions(dir.join(name), perms).expect("mode set");
    }
    dir
}

fn write_script(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).expect("script dir");
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).expect("script written");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("script mode");
}

/// Asserts `elf` is a 64-bit little-endian executable for `machine` with no program interpreter and
/// no shared-library dependency: what `file` reports as "statically linked".
fn assert_static_elf(elf: &[u8], machine: u16, what: &str) {
    let u16_at = |at: usize| u16::from_le_bytes([elf[at], elf[at + 1]]);
    let u64_at = |at: usize| u64::from_le_bytes(elf[at..at + 8].try_into().unwrap()) as usize;
    assert_eq!(
        elf[..6],
        *b"\x7fELF\x02\x01",
        "{what}: 64-bit little-endian ELF"
    );
    assert_eq!(u16_at(18), machine, "{what}: e_machine");
    let (phoff, phentsize) = (u64_at(32), u16_at(54) as usize);
    for ph in (0..u16_at(56) as usize).map(|i| phoff + i * phentsize) {
        let p_type = u32::from_le_bytes(elf[ph..ph + 4].try_into().unwrap());
        const PT_DYNAMIC: u32 = 2;
        const PT_INTERP: u32 = 3;
        assert_ne!(p_type, PT_INTERP, "{what}: has a program interpreter");
        if p_type == PT_DYNAMIC {
            // A static-pie keeps a dynamic section for its own relocations, but needs no library.
            let (offset, size) = (u64_at(ph + 8), u64_at(ph + 32));
            let tags = (offset..offset + size)
                .step_by(16)
                .map(|at| u64_at(at) as i64);
            const DT_NEEDED: i64 = 1;
            assert!(
                !tags.take_while(|&t| t != 0).any(|t| t == DT_NEEDED),
                "{what}: DT_NEEDED"
            );
        }
    }
}

/// `(zip, path inside it, e_machine)` of every binary the layers ship.
const BINARIES: [(&str, &str, u16); 4] = [
    (
        "lambda-lens-x86_64.zip",
        "extensions/lambda-lens",
        EM_X86_64,
    ),
    (
        "lambda-lens-arm64.zip",
        "extensions/lambda-lens",
        EM_AARCH64,
    ),
    (
        "lambda-lens-multiarch.zip",
        "lambda-lens/x86_64/lambda-lens",
        EM_X86_64,
    ),
    (
        "lambda-lens-multiarch.zip",
        "lambda-lens/aarch64/lambda-lens",
        EM_AARCH64,
    ),
];

#[test]
fn per_architecture_layers_hold_the_extension_and_the_wrapper() {
    for zip in ["lambda-lens-x86_64.zip", "lambda-lens-arm64.zip"] {
        assert_eq!(
            entries(&layer_zip(zip)),
            expected(&[
                ("extensions/", DIR),
                ("extensions/lambda-lens", EXE),
                ("lambda-lens-wrapper", EXE),
            ]),
            "{zip}"
        );
    }
}

#[test]
fn the_multiarch_layer_starts_lambda_lens_through_the_launcher() {
    assert_eq!(
        entries(&layer_zip("lambda-lens-multiarch.zip")),
        expected(&[
            ("extensions/", DIR),
            ("extensions/lambda-lens", EXE),
            ("lambda-lens/", DIR),
            ("lambda-lens/aarch64/", DIR),
            ("lambda-lens/aarch64/lambda-lens", EXE),
            ("lambda-lens/x86_64/", DIR),
            ("lambda-lens/x86_64/lambda-lens", EXE),
            ("lambda-lens-wrapper", EXE),
        ])
    );
    let multi = unpack("lambda-lens-multiarch.zip", "contents-multi");
    let read = |path: PathBuf| std::fs::read(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    assert_eq!(
        read(multi.join("extensions/lambda-lens")),
        read(repo_root().join("layer/lambda-lens-launcher"))
    );
    assert_eq!(
        read(multi.join("lambda-lens-wrapper")),
        read(repo_root().join("layer/lambda-lens-wrapper"))
    );
    // The same binaries as the per-architecture layers.
    for (arch, zip) in [
        ("x86_64", "lambda-lens-x86_64.zip"),
        ("aarch64", "lambda-lens-arm64.zip"),
    ] {
        let single = unpack(zip, &format!("contents-{arch}"));
        assert_eq!(
            read(multi.join(format!("lambda-lens/{arch}/lambda-lens"))),
            read(single.join("extensions/lambda-lens")),
            "{arch}"
        );
        std::fs::remove_dir_all(single).expect("unpacked layer removed");
    }
    std::fs::remove_dir_all(multi).expect("unpacked layer removed");
}

#[test]
fn binaries_are_static_and_built_for_their_architecture() {
    for (zip, path, machine) in BINARIES {
        let dir = unpack(zip, "static");
        let elf = std::fs::read(dir.join(path)).expect("binary");
        assert_static_elf(&elf, machine, &format!("{zip}:{path}"));
        std::fs::remove_dir_all(dir).expect("unpacked layer removed");
    }
}

#[test]
fn binaries_stay_within_the_size_limit() {
    let sizes: Vec<_> = BINARIES
        .into_iter()
        .map(|(zip, path, _)| {
            let dir = unpack(zip, "size");
            let size = std::fs::metadata(dir.join(path)).expect("binary").len();
            std::fs::remove_dir_all(dir).expect("unpacked layer removed");
            (zip, path, size)
        })
        .collect();
    for (zip, path, size) in &sizes {
        assert!(
            *size <= SIZE_LIMIT,
            "{zip}:{path} is {size} bytes, over the {SIZE_LIMIT}-byte limit; all: {sizes:?}"
        );
    }
}

#[test]
fn the_launcher_execs_the_binary_for_uname_m() {
    let opt = unpack("lambda-lens-multiarch.zip", "launcher");
    // Stand-ins for the binaries report which one ran, its pid and arguments.
    for arch in ["x86_64", "aarch64"] {
        let stub = opt.join(format!("lambda-lens/{arch}/lambda-lens"));
        write_script(&stub, &format!("echo {arch} $$ \"$@\""));
    }
    let fake_bin = opt.join("fake-bin");
    write_script(&fake_bin.join("uname"), "echo \"$FAKE_UNAME_M\"");
    let launch = |machine: &str| {
        let child = Command::new(opt.join("extensions/lambda-lens"))
            .arg("--flag")
            .env("PATH", format!("{}:/usr/bin:/bin", fake_bin.display()))
            .env("FAKE_UNAME_M", machine)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("launcher starts");
        let pid = child.id();
        (pid, child.wait_with_output().expect("launcher ends"))
    };
    for arch in ["x86_64", "aarch64"] {
        let (pid, out) = launch(arch);
        assert!(out.status.success(), "{arch}: {out:?}");
        // Same pid: the launcher exec'd the binary, so Lambda's signals reach lambda-lens itself.
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{arch} {pid} --flag\n")
        );
    }
    let (_, out) = launch("riscv64");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "lambda-lens: this layer has no binary for riscv64\n"
    );
    std::fs::remove_dir_all(opt).expect("unpacked layer removed");
}

#[test]
fn deploy_dry_run_prints_one_publish_per_layer() {
    // Neither the AWS CLI nor a build: PATH holds only the system tools make and its recipes need.
    let out = Command::new("make")
        .args(["-s", "deploy", "DRY_RUN=1"])
        .current_dir(repo_root())
        .env("PATH", "/usr/bin:/bin")
        .env_remove("MAKEFLAGS")
        .env_remove("MAKELEVEL")
        .env_remove("MFLAGS")
        .output()
        .expect("make runs");
    assert!(out.status.success(), "{out:?}");
    let layers = repo_root().join("target/layers");
    let publish = "aws lambda publish-layer-version --compatible-runtimes python3.13 python3.12 \
                   nodejs22.x nodejs20.x java21 java17 dotnet8 ruby3.3 provided.al2023 provided.al2";
    let expected: Vec<_> = [
        ("lambda-lens-x86_64", "x86_64", "lambda-lens-x86_64.zip"),
        ("lambda-lens-arm64", "arm64", "lambda-lens-arm64.zip"),
        ("lambda-lens", "x86_64 arm64", "lambda-lens-multiarch.zip"),
    ]
    .iter()
    .map(|(name, archs, zip)| {
        format!(
            "{publish} --layer-name {name} --compatible-architectures {archs} \
             --zip-file fileb://{}",
            layers.join(zip).display()
        )
    })
    .collect();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .collect::<Vec<_>>(),
        expected
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_arm64_binary_serves_the_example_function_under_qemu() {
    let qemu = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("qemu-aarch64-static"))
        .find(|path| path.is_file())
        .expect(
            "qemu-aarch64-static is not on PATH: `make test` installs Debian's qemu-user-static",
        );
    let opt = unpack("lambda-lens-arm64.zip", "qemu");
    let binary = opt.join("arm64/lambda-lens");
    std::fs::create_dir_all(binary.parent().unwrap()).expect("binary dir");
    std::fs::rename(opt.join("extensions/lambda-lens"), &binary).expect("binary moved");
    // The extension keeps its file name, lambda-lens, which is the name it registers with.
    write_script(
        &opt.join("extensions/lambda-lens"),
        &format!("exec '{}' '{}' \"$@\"", qemu.display(), binary.display()),
    );

    let config = python_sandbox_config(&opt)
        .with_env("LAMBDA_LENS_LOG", "info,lambda_lens::record=debug")
        // Emulation makes the extension several times slower than native.
        .with_timeout(Duration::from_secs(10));
    let sandbox = Sandbox::start(config).await.expect("sandbox starts");

    let ok = sandbox
        .invoke(Invocation::json(&json!({"name": "qemu"})))
        .await;
    assert_eq!(ok.status, Status::Success, "{}", ok.body_text());
    assert_eq!(ok.body_json()["keys"], json!(["name"]));

    let shutdown = sandbox.shutdown(ShutdownReason::Spindown).await;
    let lens = shutdown
        .process("lambda-lens")
        .expect("lambda-lens ran as an extension");
    assert_eq!(lens.code, Some(0), "{lens:?}");

    // The runtime reached the Runtime API through the arm64 binary's proxy: the event, the
    // result and the runtime's next `/next` after it.
    let records = finished_records_for(&sandbox, &ok.request_id.to_string());
    assert_eq!(records[1]["upstream_status"], 202);
    std::fs::remove_dir_all(&opt).expect("layer removed");
}
