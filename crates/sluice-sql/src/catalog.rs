//! The catalog: the tables a session has created, with their columns, watermark, primary key
//! and connector options (Flink's in-memory `default_catalog.default_database`).

use crate::expr::udf::Functions;
use std::collections::BTreeMap;

use sqlparser::ast::{Expr, Query};

use crate::error::{SqlError, SqlResult, did_you_mean};
use crate::types::{SqlField, SqlType};

/// How a column of a table gets its value.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnKind {
    /// Read from the connector.
    Physical,
    /// `name AS expr`: computed from the physical columns.
    Computed(Box<Expr>),
    /// `METADATA [FROM 'key'] [VIRTUAL]`: supplied by the connector.
    Metadata {
        /// The connector's metadata key.
        key: String,
        /// Virtual columns are read-only (not written by sinks).
        is_virtual: bool,
    },
}

/// A column of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Its name, type and nullability.
    pub field: SqlField,
    /// Where its value comes from.
    pub kind: ColumnKind,
}

/// `WATERMARK FOR column AS expr`.
#[derive(Debug, Clone, PartialEq)]
pub struct WatermarkSpec {
    /// The rowtime column.
    pub column: String,
    /// The watermark expression over the row.
    pub expr: Expr,
}

/// A table of the catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct TableDef {
    /// The table's name.
    pub name: String,
    /// Its columns, in order.
    pub columns: Vec<Column>,
    /// Its watermark, making one column a rowtime attribute.
    pub watermark: Option<WatermarkSpec>,
    /// `PRIMARY KEY (..) NOT ENFORCED` columns.
    pub primary_key: Vec<String>,
    /// `PARTITIONED BY (..)` columns: a filesystem sink writes a directory per value.
    pub partition_keys: Vec<String>,
    /// The `WITH (...)` options.
    pub options: BTreeMap<String, String>,
}

impl TableDef {
    /// The column named `name` (exactly: identifiers are case-sensitive, as in Flink).
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.field.name == name)
    }

    /// The physical columns, in order: what the connector reads and writes.
    pub fn physical_fields(&self) -> Vec<SqlField> {
        self.columns
            .iter()
            .filter(|c| c.kind == ColumnKind::Physical)
            .map(|c| c.field.clone())
            .collect()
    }

    /// The fields of the `METADATA` columns, as declared.
    pub fn metadata_fields(&self) -> Vec<SqlField> {
        self.columns
            .iter()
            .filter(|c| matches!(c.kind, ColumnKind::Metadata { .. }))
            .map(|c| c.field.clone())
            .collect()
    }

    /// An option that must be present.
    pub fn required_option(&self, key: &str) -> SqlResult<&str> {
        self.options.get(key).map(String::as_str).ok_or_else(|| {
            SqlError::new(format!(
                "table '{}' needs the option '{key}' in its WITH clause",
                self.name
            ))
        })
    }

    /// Checks that columns are unique and the watermark and key name real columns.
    pub fn validate(&self) -> SqlResult<()> {
        for (i, column) in self.columns.iter().enumerate() {
            if self.columns[..i]
                .iter()
                .any(|c| c.field.name == column.field.name)
            {
                return Err(SqlError::new(format!(
                    "table '{}' has the column '{}' twice",
                    self.name, column.field.name
                )));
            }
        }
        let names = || self.columns.iter().map(|c| c.field.name.as_str());
        if let Some(watermark) = &self.watermark {
            let column = self.column(&watermark.column).ok_or_else(|| {
                SqlError::new(format!(
                    "the watermark of table '{}' is for the unknown column '{}'.{}",
                    self.name,
                    watermark.column,
                    did_you_mean(&watermark.column, names())
                ))
            })?;
            if !matches!(
                column.field.ty,
                SqlType::Timestamp(_) | SqlType::TimestampLtz(_)
            ) {
                return Err(SqlError::new(format!(
                    "the watermark column '{}' must be TIMESTAMP(3) or TIMESTAMP_LTZ(3), not {}",
                    watermark.column, column.field.ty
                )));
            }
        }
        for key in &self.primary_key {
            if self.column(key).is_none() {
                return Err(SqlError::new(format!(
                    "the primary key of table '{}' names the unknown column '{key}'.{}",
                    self.name,
                    did_you_mean(key, names())
                )));
            }
        }
        Ok(())
    }
}

/// The session's tables and views.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    tables: BTreeMap<String, TableDef>,
    views: BTreeMap<String, Box<Query>>,
    /// The session's user-defined functions.
    pub functions: Functions,
}

impl Catalog {
    /// Adds a view: a named query, planned where it is read.
    pub fn create_view(
        &mut self,
        name: &str,
        query: Box<Query>,
        if_not_exists: bool,
    ) -> SqlResult<()> {
        if self.exists(name) {
            if if_not_exists {
                return Ok(());
            }
            return Err(SqlError::new(format!(
                "a table or view '{name}' already exists"
            )));
        }
        self.views.insert(name.to_string(), query);
        Ok(())
    }

    /// Removes a view; a missing one is an error unless `if_exists`.
    pub fn drop_view(&mut self, name: &str, if_exists: bool) -> SqlResult<()> {
        if self.views.remove(name).is_none() && !if_exists {
            return Err(self.unknown(name));
        }
        Ok(())
    }

    /// The view named `name`, if there is one.
    pub fn view(&self, name: &str) -> Option<&Query> {
        self.views.get(name).map(Box::as_ref)
    }

    /// The queries of every view.
    pub fn view_queries(&self) -> impl Iterator<Item = &Query> {
        self.views.values().map(Box::as_ref)
    }

    fn exists(&self, name: &str) -> bool {
        self.tables.contains_key(name) || self.views.contains_key(name)
    }

    /// Adds a table; an existing name is an error unless `if_not_exists`.
    pub fn create_table(&mut self, table: TableDef, if_not_exists: bool) -> SqlResult<()> {
        table.validate()?;
        if self.exists(&table.name) {
            if if_not_exists {
                return Ok(());
            }
            return Err(SqlError::new(format!(
                "table '{}' already exists",
                table.name
            )));
        }
        self.tables.insert(table.name.clone(), table);
        Ok(())
    }

    /// Removes a table; a missing one is an error unless `if_exists`.
    pub fn drop_table(&mut self, name: &str, if_exists: bool) -> SqlResult<()> {
        if self.tables.remove(name).is_none() && !if_exists {
            return Err(self.unknown(name));
        }
        Ok(())
    }

    /// The table named `name`, or an error naming the closest known table.
    pub fn table(&self, name: &str) -> SqlResult<&TableDef> {
        self.tables.get(name).ok_or_else(|| self.unknown(name))
    }

    /// The names of the tables and views, sorted.
    pub fn table_names(&self) -> impl Iterator<Item = &str> {
        let mut names: Vec<&str> = self
            .tables
            .keys()
            .chain(self.views.keys())
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        names.into_iter()
    }

    fn unknown(&self, name: &str) -> SqlError {
        SqlError::new(format!(
            "Object '{name}' not found: no table or view of that name.{}",
            did_you_mean(name, self.table_names())
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str) -> TableDef {
        TableDef {
            partition_keys: Vec::new(),
            name: name.into(),
            columns: vec![Column {
                field: SqlField::new("ts", SqlType::Timestamp(3)),
                kind: ColumnKind::Physical,
            }],
            watermark: None,
            primary_key: vec![],
            options: BTreeMap::new(),
        }
    }

    #[test]
    fn unknown_tables_name_the_closest() {
        let mut catalog = Catalog::default();
        catalog.create_table(table("bids"), false).unwrap();
        let error = catalog.table("bid").unwrap_err().to_string();
        assert!(error.contains("Object 'bid' not found"), "{error}");
        assert!(error.contains("Did you mean 'bids'?"), "{error}");
        assert!(catalog.create_table(table("bids"), false).is_err());
        catalog.create_table(table("bids"), true).unwrap();
        catalog.drop_table("bids", false).unwrap();
        assert!(catalog.drop_table("bids", false).is_err());
        catalog.drop_table("bids", true).unwrap();
    }

    #[test]
    fn validation_checks_watermark_and_key_columns() {
        let mut bad = table("t");
        bad.primary_key = vec!["tss".into()];
        let error = bad.validate().unwrap_err().to_string();
        assert!(error.contains("Did you mean 'ts'?"), "{error}");
    }
}
