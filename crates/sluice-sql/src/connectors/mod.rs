//! Connectors of SQL tables and their formats.

pub mod csv;
