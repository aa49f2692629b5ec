//! The runtime's layering rule, checked on its sources: each top-level module belongs to a
//! layer, and code may import (`crate::…`) only from layers below its own. Tests are exempt
//! (`#[cfg(test)]` code, and test-only files: `tests.rs` modules and `test_support.rs`). `docs/architecture.md` draws the same layers.

use std::collections::BTreeMap;
use std::path::Path;

/// Every top-level module of `src/` and its layer, lowest first.
const LAYERS: &[(&str, &[&str])] = &[
    ("base", &["error", "signal", "metrics", "job_id"]),
    ("wire", &["net"]),
    ("time and checkpoints", &["time", "checkpoint"]),
    ("exchange", &["exchange"]),
    ("tasks", &["task"]),
    (
        "APIs of sources, sinks and functions",
        &["source", "sink", "functions", "two_phase_commit"],
    ),
    ("operators", &["operators", "windowing", "harness"]),
    ("job graphs", &["graph"]),
    ("deployment", &["deploy"]),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&module))
}

/// The code of `path` that is not test code (everything before its first `#[cfg(test)]`).
fn production_code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    match text.find("#[cfg(test)]") {
        Some(tests) => text[..tests].to_string(),
        None => text,
    }
}

/// Every `.rs` file under `dir`, with its path relative to `src/`.
fn sources(dir: &Path, src: &Path, out: &mut Vec<(String, std::path::PathBuf)>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, src, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(src).unwrap().display().to_string();
            out.push((relative, path));
        }
    }
}

/// The top-level modules `code` imports with `crate::`.
fn imported(code: &str) -> Vec<String> {
    code.match_indices("crate::")
        .map(|(at, _)| {
            code[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

#[test]
fn every_import_points_to_a_lower_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &src, &mut files);
    let mut violations = BTreeMap::new();
    for (relative, path) in files {
        let top = relative
            .split('/')
            .next()
            .unwrap()
            .trim_end_matches(".rs")
            .to_string();
        // Test-only files: `tests.rs` modules and the windows' shared test support.
        if top == "lib" || relative.ends_with("/tests.rs") || relative.ends_with("test_support.rs")
        {
            continue;
        }
        let Some(own) = layer_of(&top) else {
            violations.insert(relative, format!("module '{top}' has no layer in LAYERS"));
            continue;
        };
        for module in imported(&production_code(&path)) {
            if module == top {
                continue;
            }
            match layer_of(&module) {
                Some(layer) if layer < own => {}
                Some(layer) => {
                    violations.insert(
                        format!("{relative} -> {module}"),
                        format!(
                            "'{top}' ({}) may not import '{module}' ({})",
                            LAYERS[own].0, LAYERS[layer].0
                        ),
                    );
                }
                None => {
                    violations.insert(relative.clone(), format!("'{module}' has no layer"));
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "layering violations: {violations:#?}"
    );
}

#[test]
fn the_check_sees_an_upward_import() {
    assert_eq!(imported("use crate::deploy::worker;"), ["deploy"]);
    assert!(layer_of("deploy") > layer_of("net"));
}
