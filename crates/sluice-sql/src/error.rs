//! Errors of the SQL layer: what went wrong and, where the text is to blame, the line and
//! column it points at.

use std::fmt;

use sqlparser::parser::ParserError;
use sqlparser::tokenizer::Span;

/// An error in a SQL statement or in running it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError {
    /// What is wrong, in words.
    pub message: String,
    /// The 1-based line and column of the text at fault, when known.
    pub position: Option<(u64, u64)>,
}

/// The result of SQL-layer operations.
pub type SqlResult<T> = Result<T, SqlError>;

impl SqlError {
    /// An error without a position in the text.
    pub fn new(message: impl Into<String>) -> Self {
        SqlError {
            message: message.into(),
            position: None,
        }
    }

    /// An error at the start of `span` (no position when the span is empty).
    pub fn at(span: &Span, message: impl Into<String>) -> Self {
        let start = span.start;
        SqlError {
            message: message.into(),
            position: (start.line > 0).then_some((start.line, start.column)),
        }
    }

    /// Gives the error a position if it has none.
    pub fn or_at(mut self, span: &Span) -> Self {
        if self.position.is_none() && span.start.line > 0 {
            self.position = Some((span.start.line, span.start.column));
        }
        self
    }
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, column)) => write!(f, "{} (at line {line}, column {column})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for SqlError {}

impl From<ParserError> for SqlError {
    /// sqlparser's messages end in ` at Line: L, Column: C`; that part becomes the position.
    fn from(error: ParserError) -> Self {
        let text = match error {
            ParserError::TokenizerError(text) | ParserError::ParserError(text) => text,
            ParserError::RecursionLimitExceeded => "the statement is nested too deeply".into(),
        };
        match text.rsplit_once(" at Line: ") {
            Some((message, at)) => {
                let position = at.split_once(", Column: ").and_then(|(line, column)| {
                    Some((line.trim().parse().ok()?, column.trim().parse().ok()?))
                });
                SqlError {
                    message: message.to_string(),
                    position,
                }
            }
            None => SqlError::new(text),
        }
    }
}

impl From<arrow_schema::ArrowError> for SqlError {
    fn from(error: arrow_schema::ArrowError) -> Self {
        SqlError::new(error.to_string())
    }
}

/// The name among `known` closest to `name` (edit distance, case ignored), for "did you mean"
/// hints; `None` when nothing is close.
pub fn closest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let wanted = name.to_lowercase();
    known
        .into_iter()
        .map(|candidate| (edit_distance(&wanted, &candidate.to_lowercase()), candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len().max(name.len()) / 2).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// A "did you mean" suffix for an unknown `name`: ` Did you mean 'x'?` or nothing.
pub fn did_you_mean<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    closest(name, known)
        .map(|hint| format!(" Did you mean '{hint}'?"))
        .unwrap_or_default()
}

/// Levenshtein distance between two strings, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_positions_become_line_and_column() {
        let error = SqlError::from(ParserError::ParserError(
            "Expected: an expression, found: FROM at Line: 2, Column: 8".into(),
        ));
        assert_eq!(error.position, Some((2, 8)));
        assert_eq!(
            error.to_string(),
            "Expected: an expression, found: FROM (at line 2, column 8)"
        );
    }

    #[test]
    fn suggests_the_closest_known_name() {
        let known = ["price", "bidder", "auction"];
        assert_eq!(closest("prise", known), Some("price"));
        assert_eq!(closest("Bidder", known), Some("bidder"));
        assert_eq!(closest("zzzzzzzz", known), None);
        assert_eq!(did_you_mean("auctoin", known), " Did you mean 'auction'?");
    }
}
