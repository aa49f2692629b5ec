//! The columns an expression can name: each with its type, nullability, the `FROM` item it
//! comes from and what it is to time (a rowtime or processing-time attribute, a window bound);
//! names resolve here, with Flink's errors for unknown and ambiguous ones.

use super::Expr;
use crate::error::{SqlError, SqlResult, did_you_mean};
use crate::types::SqlType;

/// A column visible to expressions.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopeColumn {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: SqlType,
    /// Whether it can be NULL.
    pub nullable: bool,
    /// Whether it is an event-time attribute (a table's `WATERMARK` column, `window_time`).
    pub rowtime: bool,
    /// Whether it is a processing-time attribute (`PROCTIME()`).
    pub proctime: bool,
    /// Whether it is the start (or end) of the windows of a window aggregation: grouping by
    /// both aggregates per window again.
    pub window_bound: Option<WindowBound>,
    /// Whether every row after a watermark holds a value above it: the end (or time) of the
    /// windows a window aggregation fires. A join forgets the other side's rows that only such
    /// values could still join.
    pub above_watermark: bool,
    /// The name or alias of the `FROM` item it comes from (`P` of `P.id`), where known.
    pub table: Option<String>,
}

impl ScopeColumn {
    /// A column that is not a time attribute, of no named `FROM` item.
    pub fn new(name: &str, ty: SqlType, nullable: bool) -> Self {
        ScopeColumn {
            name: name.to_string(),
            ty,
            nullable,
            rowtime: false,
            proctime: false,
            window_bound: None,
            above_watermark: false,
            table: None,
        }
    }
}

/// Which bound of a window a column is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowBound {
    /// `window_start`.
    Start,
    /// `window_end`.
    End,
}

/// The columns an expression may name, in the order of the batch it is evaluated on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scope {
    /// The columns.
    pub columns: Vec<ScopeColumn>,
}

impl Scope {
    /// The scope of a table's `fields`.
    pub fn of_fields(fields: &[crate::types::SqlField]) -> Scope {
        Scope {
            columns: fields
                .iter()
                .map(|f| ScopeColumn::new(&f.name, f.ty.clone(), f.nullable))
                .collect(),
        }
    }

    /// The index of the column `name`, or an error naming the closest one (or saying that
    /// two `FROM` items have it).
    pub fn resolve(&self, name: &str) -> SqlResult<usize> {
        let mut found = self
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.name == name);
        match (found.next(), found.next()) {
            (Some((index, _)), None) => Ok(index),
            (Some(_), Some(_)) => Err(SqlError::new(format!(
                "Column '{name}' is ambiguous: name it with its table's name or alias"
            ))),
            (None, _) => Err(SqlError::new(format!(
                "Column '{name}' not found in any table.{}",
                did_you_mean(name, self.columns.iter().map(|c| c.name.as_str()))
            ))),
        }
    }

    /// The index of column `name` of the `FROM` item named or aliased `table`. A scope whose
    /// columns know no `FROM` item (one table, planned through a rewrite) resolves `name`.
    pub fn resolve_qualified(&self, table: &str, name: &str) -> SqlResult<usize> {
        if self.columns.iter().all(|c| c.table.is_none()) {
            return self.resolve(name);
        }
        let of_table: Vec<usize> = (0..self.columns.len())
            .filter(|&i| self.columns[i].table.as_deref() == Some(table))
            .collect();
        if of_table.is_empty() {
            return Err(SqlError::new(format!(
                "Table '{table}' not found.{}",
                did_you_mean(
                    table,
                    self.columns.iter().filter_map(|c| c.table.as_deref())
                )
            )));
        }
        of_table
            .iter()
            .copied()
            .find(|&i| self.columns[i].name == name)
            .ok_or_else(|| {
                SqlError::new(format!(
                    "Column '{name}' not found in table '{table}'.{}",
                    did_you_mean(
                        name,
                        of_table.iter().map(|&i| self.columns[i].name.as_str())
                    )
                ))
            })
    }

    /// The same columns, all of the `FROM` item `table`.
    pub fn qualified(mut self, table: &str) -> Scope {
        for column in &mut self.columns {
            column.table = Some(table.to_string());
        }
        self
    }

    /// The Arrow schema of batches holding these columns.
    pub fn arrow_schema(&self) -> arrow_schema::SchemaRef {
        let fields: Vec<_> = self
            .columns
            .iter()
            .map(|c| crate::types::SqlField::new(c.name.clone(), c.ty.clone()))
            .collect();
        crate::types::arrow_schema(&fields)
    }

    /// The expression reading column `index`.
    pub fn column(&self, index: usize) -> Expr {
        let column = &self.columns[index];
        Expr::column(index, column.ty.clone(), column.nullable)
    }
}
