//! Connectors of SQL tables and their formats.

pub mod csv;
pub mod datagen;
pub mod debezium_json;
pub mod file_metadata;
pub mod json;
pub mod nexmark;
pub mod partitioned_files;
mod text_values;

/// A local path given as a path or a `file://` URI.
pub fn local_path(path: &str) -> &str {
    path.strip_prefix("file://").unwrap_or(path)
}

/// A table's `WITH` options from pairs, for tests.
#[cfg(test)]
pub(crate) fn options(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
