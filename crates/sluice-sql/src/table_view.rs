//! Flink's `table` result mode (`sql-client.execution.result-mode`): a query's changes applied
//! to the table they describe, which is shown in place — redrawn on a terminal as it changes,
//! printed once when the query ends elsewhere. As in Flink, an update-after appends its row, a
//! retraction removes the newest equal row, and at most
//! `sql-client.execution.max-table-result.rows` rows are kept (the oldest dropped first).

use std::collections::VecDeque;

use crate::operators::group_agg::RowKind;
use crate::tableau::Tableau;
use crate::types::SqlType;

/// Flink's default `sql-client.execution.max-table-result.rows`.
pub const DEFAULT_MAX_ROWS: usize = 1_000_000;

/// How many of the newest rows a frame on a terminal shows.
const FRAME_ROWS: usize = 50;

/// How the client shows a query's results (`sql-client.execution.result-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultMode {
    /// Each change as a line with its kind, as it arrives (`tableau`, and `changelog`).
    Tableau,
    /// The table the changes leave, updated in place (`table`).
    Table {
        /// The most rows kept.
        max_rows: usize,
    },
}

/// A query's changes applied to the table they describe.
#[derive(Debug, Clone)]
pub struct MaterializedTable {
    rows: VecDeque<Vec<Option<String>>>,
    max_rows: usize,
}

impl MaterializedTable {
    /// An empty table keeping at most `max_rows` rows.
    pub fn new(max_rows: usize) -> Self {
        MaterializedTable {
            rows: VecDeque::new(),
            max_rows: max_rows.max(1),
        }
    }

    /// Applies one change: an insert or update-after appends `values` (dropping the oldest row
    /// when the table is full), a retraction removes the newest equal row.
    pub fn apply(&mut self, kind: RowKind, values: Vec<Option<String>>) {
        match kind {
            RowKind::Insert | RowKind::UpdateAfter => {
                if self.rows.len() == self.max_rows {
                    self.rows.pop_front();
                }
                self.rows.push_back(values);
            }
            RowKind::UpdateBefore | RowKind::Delete => {
                if let Some(at) = self.rows.iter().rposition(|row| *row == values) {
                    self.rows.remove(at);
                }
            }
        }
    }

    /// The rows, oldest first.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = &Vec<Option<String>>> {
        self.rows.iter()
    }
}

/// Draws a [`MaterializedTable`], each frame in place of the one before on a terminal.
#[derive(Debug, Clone)]
pub struct TableView {
    layout: Tableau,
    terminal: bool,
    /// How many lines the last frame took.
    drawn: usize,
}

impl TableView {
    /// A view of a table of `columns` no wider than `max_width` each; `terminal` redraws
    /// frames in place and shows only the newest rows.
    pub fn new(columns: &[(String, SqlType)], max_width: usize, terminal: bool) -> Self {
        TableView {
            layout: Tableau::without_kinds(columns, max_width),
            terminal,
            drawn: 0,
        }
    }

    /// Whether frames are redrawn while the query runs (on a terminal), rather than drawn
    /// once at its end.
    pub fn redraws(&self) -> bool {
        self.terminal
    }

    /// The lines of a frame showing `table` and a `status` line under it. On a terminal the
    /// first line starts by moving the cursor back over the previous frame and clearing it.
    pub fn frame(&mut self, table: &MaterializedTable, status: &str) -> Vec<String> {
        let mut lines = self.layout.header();
        let shown = if self.terminal {
            table.rows.len().min(FRAME_ROWS)
        } else {
            table.rows.len()
        };
        if shown < table.rows.len() {
            lines.push(format!(
                "({} older rows not shown)",
                table.rows.len() - shown
            ));
        }
        let newest = table.rows.iter().skip(table.rows.len() - shown);
        lines.extend(newest.map(|values| self.layout.values(values)));
        if shown > 0 {
            lines.push(self.layout.border());
        }
        lines.push(status.to_string());
        if self.terminal && self.drawn > 0 {
            // Cursor to the start of the line `drawn` lines up, then clear to the end.
            lines[0].insert_str(0, &format!("\x1b[{}F\x1b[J", self.drawn));
        }
        self.drawn = lines.len();
        lines
    }
}

/// `N rows in set` (`1 row`, `Empty set`), as Flink counts a final table.
pub fn rows_in_set(rows: usize) -> String {
    match rows {
        0 => "Empty set".to_string(),
        1 => "1 row in set".to_string(),
        n => format!("{n} rows in set"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, count: u32) -> Vec<Option<String>> {
        vec![Some(name.to_string()), Some(count.to_string())]
    }

    #[test]
    fn changes_leave_their_table_in_flinks_order() {
        let mut table = MaterializedTable::new(10);
        table.apply(RowKind::Insert, row("a", 1));
        table.apply(RowKind::Insert, row("b", 1));
        table.apply(RowKind::UpdateBefore, row("a", 1));
        table.apply(RowKind::UpdateAfter, row("a", 2));
        table.apply(RowKind::Insert, row("c", 1));
        table.apply(RowKind::Delete, row("b", 1));
        table.apply(RowKind::Delete, row("never", 0));
        let rows: Vec<_> = table.rows().cloned().collect();
        assert_eq!(rows, [row("a", 2), row("c", 1)]);
    }

    #[test]
    fn a_full_table_drops_its_oldest_rows() {
        let mut table = MaterializedTable::new(2);
        for i in 0..5 {
            table.apply(RowKind::Insert, row("k", i));
        }
        let rows: Vec<_> = table.rows().cloned().collect();
        assert_eq!(rows, [row("k", 3), row("k", 4)]);
    }

    #[test]
    fn a_terminal_frame_replaces_the_one_before() {
        let columns = [
            ("name".to_string(), SqlType::Varchar(None)),
            ("n".to_string(), SqlType::Int),
        ];
        let mut table = MaterializedTable::new(100);
        table.apply(RowKind::Insert, row("a", 1));
        let mut view = TableView::new(&columns, 6, true);
        let first = view.frame(&table, "updating");
        assert_eq!(
            first,
            [
                "+--------+-------------+",
                "|   name |           n |",
                "+--------+-------------+",
                "|      a |           1 |",
                "+--------+-------------+",
                "updating",
            ]
        );
        table.apply(RowKind::UpdateBefore, row("a", 1));
        table.apply(RowKind::UpdateAfter, row("a", 2));
        let second = view.frame(&table, &rows_in_set(1));
        assert_eq!(second[0], "\x1b[6F\x1b[J+--------+-------------+");
        assert_eq!(second[3], "|      a |           2 |");
        assert_eq!(second[5], "1 row in set");
        for i in 0..60 {
            table.apply(RowKind::Insert, row("b", i));
        }
        let third = view.frame(&table, "updating");
        assert!(third[0].starts_with("\x1b[6F"), "{third:?}");
        assert_eq!(third[3], "(11 older rows not shown)");
        assert_eq!(third.len(), 3 + 1 + FRAME_ROWS + 2);
    }

    #[test]
    fn elsewhere_the_frame_shows_every_row_once() {
        let columns = [("n".to_string(), SqlType::Int)];
        let mut table = MaterializedTable::new(100);
        (0..60).for_each(|i| table.apply(RowKind::Insert, vec![Some(i.to_string())]));
        let mut view = TableView::new(&columns, 30, false);
        assert!(!view.redraws());
        let lines = view.frame(&table, &rows_in_set(60));
        assert_eq!(lines.len(), 3 + 60 + 2);
        assert!(!lines[0].starts_with('\x1b'));
        assert_eq!(lines.last().unwrap(), "60 rows in set");
    }
}
