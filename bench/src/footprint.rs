//! What ships: the arm64 `bootstrap` of every function, as `scripts/bench.sh` builds them (each
//! package on its own, like `sam build`, so no function links another's features).

use std::path::Path;

/// `(function, bytes)` for every `functions/<name>`, `None` where no bootstrap was built.
pub fn shipped_sizes() -> Vec<(String, Option<u64>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut names: Vec<String> = std::fs::read_dir(root.join("functions"))
        .expect("functions/")
        .flatten()
        .filter(|entry| entry.path().join("Cargo.toml").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let bootstrap = root.join("target/lambda").join(&name).join("bootstrap");
            let size = std::fs::metadata(bootstrap).ok().map(|m| m.len());
            (name, size)
        })
        .collect()
}

/// One markdown line: every function's size and the largest.
pub fn summary() -> String {
    let sizes = shipped_sizes();
    let listed: Vec<String> = sizes
        .iter()
        .map(|(name, size)| match size {
            Some(bytes) => format!("{name} {:.2}", *bytes as f64 / 1e6),
            None => format!("{name} not built"),
        })
        .collect();
    let largest = sizes
        .iter()
        .filter_map(|(name, size)| size.map(|s| (s, name)))
        .max();
    match largest {
        Some((bytes, name)) => format!(
            "shipped arm64 bootstraps (MB): {}; largest {name} {:.2} MB (target ≤ 8 MB)",
            listed.join(", "),
            bytes as f64 / 1e6
        ),
        None => "shipped sizes: no arm64 bootstrap built (run make bench)".into(),
    }
}
