//! Query results as Flink's SQL client prints them in its tableau mode (streaming): an `op`
//! column, each column as wide as its type needs (or `sql-client.display.max-column-width`),
//! values right-aligned, NULL as `<NULL>`, what does not fit cut with `...`, and a footer with
//! the row count.

use crate::batch::RowBatch;
use crate::expr::bind::Scope;
use crate::expr::format::{TextStyle, write_value};
use crate::types::SqlType;

/// Flink's default `sql-client.display.max-column-width`.
pub const DEFAULT_MAX_COLUMN_WIDTH: usize = 30;

const NULL: &str = "<NULL>";

/// The printed lines of a query's results.
pub fn tableau(scope: &Scope, batches: &[RowBatch], max_width: usize) -> Vec<String> {
    let mut widths = vec![2];
    for column in &scope.columns {
        let width = type_width(&column.ty, max_width)
            .max(column.name.chars().count().min(max_width))
            .max(NULL.len());
        widths.push(width);
    }
    let border = border(&widths);
    let mut lines = vec![border.clone()];
    let header =
        std::iter::once("op".to_string()).chain(scope.columns.iter().map(|c| c.name.clone()));
    lines.push(row(header, &widths));
    lines.push(border.clone());
    let mut count = 0;
    let mut text = String::new();
    for batch in batches {
        let data = &batch.0;
        for r in 0..data.num_rows() {
            let values = data
                .columns()
                .iter()
                .zip(&scope.columns)
                .map(|(array, column)| {
                    if array.is_null(r) {
                        return NULL.to_string();
                    }
                    text.clear();
                    write_value(array.as_ref(), r, &column.ty, TextStyle::Cast, &mut text);
                    text.clone()
                });
            let values: Vec<String> = values.collect();
            lines.push(row(
                std::iter::once("+I".to_string()).chain(values),
                &widths,
            ));
            count += 1;
        }
    }
    if count > 0 {
        lines.push(border);
    }
    lines.push(format!(
        "Received a total of {count} row{}",
        if count == 1 { "" } else { "s" }
    ));
    lines
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
    use crate::expr::bind::ScopeColumn;
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
        let lines = tableau(&scope, &[RowBatch(batch)], DEFAULT_MAX_COLUMN_WIDTH);
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
