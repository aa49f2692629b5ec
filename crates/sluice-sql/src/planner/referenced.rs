//! The column names a job's queries can reach, so that a table's scan computes only the
//! computed columns some query reads (as Flink pushes a query's projection into the scan):
//! `bid`'s `url AS CONCAT(..)` costs nothing in a query that never names `url`.
//!
//! The names are every word of the queries' text (and of the session's views, which they may
//! read): a superset of the columns named. A query that can reach a column without its name —
//! `SELECT *`, `t.*`, a positional alias `AS t(a, b)`, `NATURAL JOIN` — reaches every column.

use std::collections::HashSet;
use std::ops::ControlFlow;

use sqlparser::ast::{Query, Select, SelectItem, TableFactor, Visit, Visitor};
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::dialect::FlinkDialect;

/// The column names a job's queries can reach.
#[derive(Debug, Clone, Default)]
pub struct ReferencedNames {
    /// The words of the queries; `None` when a query reaches columns without naming them.
    names: Option<HashSet<String>>,
}

impl ReferencedNames {
    /// Every column is reached.
    pub fn all() -> ReferencedNames {
        ReferencedNames { names: None }
    }

    /// The names `queries` can reach.
    pub fn of<'q>(queries: impl IntoIterator<Item = &'q Query>) -> ReferencedNames {
        let mut names = HashSet::new();
        for query in queries {
            if reaches_unnamed_columns(query) || !add_words(&query.to_string(), &mut names) {
                return ReferencedNames::all();
            }
        }
        ReferencedNames { names: Some(names) }
    }

    /// Whether a query can reach the column `name`.
    pub fn includes(&self, name: &str) -> bool {
        self.names.as_ref().is_none_or(|names| names.contains(name))
    }

    /// The same names and the words of `text` (an expression a table itself evaluates).
    pub fn with_words_of(mut self, text: &str) -> ReferencedNames {
        if let Some(names) = &mut self.names
            && !add_words(text, names)
        {
            self.names = None;
        }
        self
    }
}

/// Adds each word of `text` to `names`; false when `text` is not SQL's tokens, or says
/// `NATURAL` (a join on every column of the same name).
fn add_words(text: &str, names: &mut HashSet<String>) -> bool {
    let Ok(tokens) = Tokenizer::new(&FlinkDialect, text).tokenize() else {
        return false;
    };
    for token in tokens {
        if let Token::Word(word) = token {
            if word.keyword == Keyword::NATURAL && word.quote_style.is_none() {
                return false;
            }
            names.insert(word.value);
        }
    }
    true
}

/// Whether `query` reads columns it does not name: a wildcard, or a `FROM` item whose alias
/// renames columns by position.
fn reaches_unnamed_columns(query: &Query) -> bool {
    struct Finder;
    impl Visitor for Finder {
        type Break = ();

        fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<()> {
            let wildcard = select.projection.iter().any(|item| {
                matches!(
                    item,
                    SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
                )
            });
            if wildcard {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        }

        fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
            let alias = match factor {
                TableFactor::Table { alias, .. }
                | TableFactor::Derived { alias, .. }
                | TableFactor::Function { alias, .. }
                | TableFactor::TableFunction { alias, .. } => alias,
                // Other kinds of FROM items: assume they reach every column.
                _ => return ControlFlow::Break(()),
            };
            if alias.as_ref().is_some_and(|a| !a.columns.is_empty()) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        }
    }
    query.visit(&mut Finder).is_break()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statement::{FlinkStatement, parse_script};

    fn names(sql: &str) -> ReferencedNames {
        let statements = parse_script(sql).unwrap();
        let queries: Vec<Query> = statements
            .into_iter()
            .map(|statement| match statement {
                FlinkStatement::Select(query) => *query,
                FlinkStatement::Insert { query, .. } => *query,
                other => panic!("not a query: {other:?}"),
            })
            .collect();
        ReferencedNames::of(&queries)
    }

    #[test]
    fn a_query_reaches_the_columns_it_names() {
        let reached = names(
            "INSERT INTO out SELECT auction, 0.908 * price AS p, COUNT(*) FROM bid \
             WHERE `dateTime` > TIMESTAMP '2020-01-01 00:00:00' GROUP BY auction, price;",
        );
        for name in ["auction", "price", "dateTime"] {
            assert!(reached.includes(name), "{name}");
        }
        assert!(!reached.includes("url"));
        assert!(!reached.includes("channel"));
    }

    #[test]
    fn names_inside_window_functions_and_subqueries_are_reached() {
        let reached = names(
            "SELECT window_start, MAX(n) FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(ts), \
             INTERVAL '10' SECOND)) JOIN (SELECT bidder AS n FROM bid) AS b ON TRUE \
             GROUP BY window_start;",
        );
        assert!(reached.includes("ts"));
        assert!(reached.includes("bidder"));
        assert!(!reached.includes("url"));
    }

    #[test]
    fn wildcards_positional_aliases_and_natural_joins_reach_every_column() {
        for sql in [
            "SELECT * FROM bid;",
            "SELECT b.* FROM bid AS b;",
            "SELECT x FROM (SELECT auction FROM bid) AS t(x);",
            "SELECT auction FROM bid NATURAL JOIN person;",
        ] {
            assert!(names(sql).includes("url"), "{sql}");
        }
    }

    #[test]
    fn a_table_s_own_expressions_add_their_names() {
        let reached = names("SELECT auction FROM bid;").with_words_of("ts - INTERVAL '4' SECOND");
        assert!(reached.includes("ts"));
        assert!(!reached.includes("url"));
    }
}
