//! Connectors of SQL tables and their formats.

pub mod csv;
pub mod datagen;
pub mod debezium_json;
pub mod nexmark;
