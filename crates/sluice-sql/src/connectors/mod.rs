//! Connectors of SQL tables and their formats.

pub mod csv;
pub mod datagen;
pub mod debezium_json;
pub mod json;
pub mod nexmark;
mod text_values;

/// A table's `WITH` options from pairs, for tests.
#[cfg(test)]
pub(crate) fn options(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
