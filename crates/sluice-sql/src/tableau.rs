//! Query results as Flink's SQL client prints them in its tableau mode (streaming): an `op`
//! column, each column as wide as its type needs (or `sql-client.display.max-column-width`),
//! values right-aligned, NULL as `<NULL>`, what does not fit cut with `...`, and a footer with
//! the row count.

use crate::result::{QueryResult, ResultRow};
use crate::types::SqlType;

/// Flink's default `sql-client.display.max-column-width`.
pub const DEFAULT_MAX_COLUMN_WIDTH: usize = 30;

const NULL: &str = "<NULL>";

/// The printed lines of a query's results.
pub fn tableau(result: &QueryResult, max_width: usize) -> Vec<String> {
    let table = Tableau::new(&result.columns, max_width);
    let mut lines = table.header();
    lines.extend(table.rows(&result.rows));
    lines.extend(table.footer(result.rows.len()));
    lines
}

/// The layout of one query's table, printed in parts as its rows arrive.
#[derive(Debug, Clone)]
pub struct Tableau {
    names: Vec<String>,
    widths: Vec<usize>,
    /// Whether the first column is each row's kind (`op`).
    kinds: bool,
}

impl Tableau {
    /// The table of `columns` (name, type) after an `op` column, no column wider than
    /// `max_width`.
    pub fn new(columns: &[(String, SqlType)], max_width: usize) -> Tableau {
        let mut table = Tableau::without_kinds(columns, max_width);
        table.names.insert(0, "op".to_string());
        table.widths.insert(0, 2);
        table.kinds = true;
        table
    }

    /// The table of `columns` alone (rows without their kinds: a materialized result).
    pub fn without_kinds(columns: &[(String, SqlType)], max_width: usize) -> Tableau {
        let mut widths = Vec::new();
        for (name, ty) in columns {
            let width = type_width(ty, max_width)
                .max(name.chars().count().min(max_width))
                .max(NULL.len());
            widths.push(width);
        }
        Tableau {
            names: columns.iter().map(|(name, _)| name.clone()).collect(),
            widths,
            kinds: false,
        }
    }

    /// The top border, the column names and the border under them.
    pub fn header(&self) -> Vec<String> {
        let border = self.border();
        vec![
            border.clone(),
            row(self.names.iter().cloned(), &self.widths),
            border,
        ]
    }

    /// One line per row: its kind (when the table shows kinds) and values.
    pub fn rows(&self, rows: &[ResultRow]) -> Vec<String> {
        rows.iter()
            .map(|(kind, values)| {
                let kind = self.kinds.then(|| kind.short().to_string());
                row(kind.into_iter().chain(cells(values)), &self.widths)
            })
            .collect()
    }

    /// The line of a row's `values`.
    pub fn values(&self, values: &[Option<String>]) -> String {
        row(cells(values), &self.widths)
    }

    /// The line above and below the column names, and under the last row.
    pub fn border(&self) -> String {
        border(&self.widths)
    }

    /// The bottom border (when there were rows) and the count of `rows`.
    pub fn footer(&self, rows: usize) -> Vec<String> {
        let mut lines = Vec::new();
        if rows > 0 {
            lines.push(self.border());
        }
        lines.push(format!("Received {}", total(rows)));
        lines
    }
}

/// A row's values as cells: NULL as `<NULL>`.
fn cells(values: &[Option<String>]) -> impl Iterator<Item = String> + '_ {
    values
        .iter()
        .map(|value| value.clone().unwrap_or_else(|| NULL.to_string()))
}

/// `a total of N rows` (`row` for one), as the client counts what a query showed.
pub fn total(rows: usize) -> String {
    format!("a total of {rows} row{}", if rows == 1 { "" } else { "s" })
}

/// The width a column of `ty` gets in streaming mode.
fn type_width(ty: &SqlType, max_width: usize) -> usize {
    match ty {
        SqlType::Boolean => 5,
        SqlType::TinyInt => 4,
        SqlType::SmallInt => 6,
        SqlType::Int => 11,
        SqlType::BigInt => 20,
        SqlType::Decimal(precision, _) => usize::from(*precision) + 2,
        SqlType::Date => 10,
        SqlType::Timestamp(p) | SqlType::TimestampLtz(p) => match p {
            0 => 19,
            1..=3 => 23,
            4..=6 => 26,
            _ => 29,
        },
        _ => max_width,
    }
}

fn border(widths: &[usize]) -> String {
    let mut line = String::from("+");
    for width in widths {
        line.push_str(&"-".repeat(width + 2));
        line.push('+');
    }
    line
}

/// One line of cells, each right-aligned in its width and cut with `...` when too long.
fn row(cells: impl Iterator<Item = String>, widths: &[usize]) -> String {
    let mut line = String::from("|");
    for (cell, &width) in cells.zip(widths) {
        let length = cell.chars().count();
        let shown = if length > width {
            let kept: String = cell.chars().take(width.saturating_sub(3)).collect();
            format!("{kept}...")
        } else {
            cell
        };
        line.push_str(&format!(" {shown:>width$} |"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::RowBatch;
    use crate::expr::bind::{Scope, ScopeColumn};
    use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    use std::sync::Arc;

    #[test]
    fn prints_as_flinks_tableau() {
        let scope = Scope {
            columns: vec![
                ScopeColumn::new("name", SqlType::Varchar(None), true),
                ScopeColumn::new("cnt", SqlType::BigInt, false),
            ],
        };
        let batch = RecordBatch::try_from_iter([
            (
                "name",
                Arc::new(StringArray::from(vec![
                    Some("Alice"),
                    None,
                    Some("a much longer name than thirty chars"),
                ])) as ArrayRef,
            ),
            ("cnt", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef),
        ])
        .unwrap();
        let result = QueryResult::collect(&scope, &[RowBatch(batch)]);
        let lines = tableau(&result, DEFAULT_MAX_COLUMN_WIDTH);
        assert_eq!(
            lines,
            [
                "+----+--------------------------------+----------------------+",
                "| op |                           name |                  cnt |",
                "+----+--------------------------------+----------------------+",
                "| +I |                          Alice |                    1 |",
                "| +I |                         <NULL> |                    2 |",
                "| +I | a much longer name than thi... |                    3 |",
                "+----+--------------------------------+----------------------+",
                "Received a total of 3 rows",
            ]
        );
    }
}
