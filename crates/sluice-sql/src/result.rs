//! A query's results as the client receives them: the columns, and each row with its row kind
//! (`+I`, or the `-U`/`+U`/`-D` of an updating query), its values as Flink casts them to text;
//! and the table those changes leave behind.

use crate::batch::RowBatch;
use crate::expr::bind::Scope;
use crate::expr::format::{TextStyle, write_value};
use crate::operators::group_agg::{RowKind, row_kinds};
use crate::planner::select::changelog_kind;
use crate::table_view::MaterializedTable;
use crate::types::SqlType;

/// One row: its kind and its values (`None` for NULL).
pub type ResultRow = (RowKind, Vec<Option<String>>);

/// The rows a query produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryResult {
    /// The columns' names and types.
    pub columns: Vec<(String, SqlType)>,
    /// The rows in the order they arrived.
    pub rows: Vec<ResultRow>,
}

impl QueryResult {
    /// The rows of `batches`, whose columns are `scope`'s (a changelog's row kinds read from
    /// its row-kind column, which is not shown).
    pub fn collect(scope: &Scope, batches: &[RowBatch]) -> QueryResult {
        let kind_column = changelog_kind(scope);
        let shown: Vec<usize> = (0..scope.columns.len())
            .filter(|i| Some(*i) != kind_column)
            .collect();
        let columns = shown
            .iter()
            .map(|&i| (scope.columns[i].name.clone(), scope.columns[i].ty.clone()))
            .collect();
        let mut rows = Vec::new();
        for batch in batches {
            let data = &batch.0;
            let kinds = row_kinds(data);
            for r in 0..data.num_rows() {
                let kind = kinds.map_or(RowKind::Insert, |k| RowKind::from_code(k.value(r)));
                let values = shown
                    .iter()
                    .map(|&i| {
                        let array = data.column(i);
                        (!array.is_null(r)).then(|| {
                            let mut text = String::new();
                            let ty = &scope.columns[i].ty;
                            write_value(array.as_ref(), r, ty, TextStyle::Cast, &mut text);
                            text
                        })
                    })
                    .collect();
                rows.push((kind, values));
            }
        }
        QueryResult { columns, rows }
    }

    /// The table the changes leave (see [`MaterializedTable`]), kept whole.
    pub fn materialized(&self) -> Vec<Vec<Option<String>>> {
        self.materialized_table(usize::MAX)
            .rows()
            .cloned()
            .collect()
    }

    /// The table the changes leave, keeping at most `max_rows` rows.
    pub fn materialized_table(&self, max_rows: usize) -> MaterializedTable {
        let mut table = MaterializedTable::new(max_rows);
        for (kind, values) in &self.rows {
            table.apply(*kind, values.clone());
        }
        table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: RowKind, name: &str, count: i32) -> ResultRow {
        (kind, vec![Some(name.into()), Some(count.to_string())])
    }

    #[test]
    fn retractions_take_their_row_away() {
        let result = QueryResult {
            columns: vec![],
            rows: vec![
                row(RowKind::Insert, "a", 1),
                row(RowKind::Insert, "b", 1),
                row(RowKind::UpdateBefore, "a", 1),
                row(RowKind::UpdateAfter, "a", 2),
                row(RowKind::Delete, "b", 1),
            ],
        };
        assert_eq!(
            result.materialized(),
            [vec![Some("a".to_string()), Some("2".to_string())]]
        );
    }
}
