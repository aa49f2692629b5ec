//! The statements of a Flink SQL script: the SQL client's own (`SET`, `RESET`, statement sets),
//! Flink's DDL, which sqlparser does not parse (`ddl.rs`), `EXPLAIN`, and the queries and
//! inserts sqlparser does; each statement with its text.

mod ddl;

use sqlparser::ast::{ObjectName, Statement};
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use crate::catalog::TableDef;
use crate::dialect::FlinkDialect;
use crate::error::{SqlError, SqlResult};
use ddl::parse_create_table;

/// A query's syntax tree (sqlparser's), as statements hold it.
pub use sqlparser::ast::Query;

/// One statement of a script.
#[derive(Debug, Clone)]
pub enum FlinkStatement {
    /// `SET 'key' = 'value'`.
    Set {
        /// The option.
        key: String,
        /// Its value.
        value: String,
    },
    /// `RESET 'key'`, or `RESET` for every option.
    Reset(Option<String>),
    /// `CREATE [TEMPORARY] TABLE [IF NOT EXISTS] ...`.
    CreateTable {
        /// The table.
        table: Box<TableDef>,
        /// Whether an existing table of the name is kept silently.
        if_not_exists: bool,
    },
    /// `CREATE [TEMPORARY] VIEW [IF NOT EXISTS] name AS query`.
    CreateView {
        /// The view's name.
        name: String,
        /// Its query.
        query: Box<Query>,
        /// Whether an existing name is kept silently.
        if_not_exists: bool,
    },
    /// `DROP [TEMPORARY] VIEW [IF EXISTS] name`.
    DropView {
        /// The view's name.
        name: String,
        /// Whether a missing view is fine.
        if_exists: bool,
    },
    /// `DROP [TEMPORARY] TABLE [IF EXISTS] name`.
    DropTable {
        /// The table's name.
        name: String,
        /// Whether a missing table is fine.
        if_exists: bool,
    },
    /// `CREATE [TEMPORARY [SYSTEM]] FUNCTION [IF NOT EXISTS] name AS 'identifier'
    /// [LANGUAGE ..]`: a function implemented under `identifier`.
    CreateFunction {
        /// The name SQL calls it by.
        name: String,
        /// The implementation's identifier (Flink: a class name).
        identifier: String,
        /// Whether an existing function of the name is kept silently.
        if_not_exists: bool,
    },
    /// `DROP [TEMPORARY [SYSTEM]] FUNCTION [IF EXISTS] name`.
    DropFunction {
        /// The function's name.
        name: String,
        /// Whether a missing function is fine.
        if_exists: bool,
    },
    /// `SHOW TABLES`.
    ShowTables,
    /// `DESCRIBE name` / `DESC name`.
    Describe(String),
    /// A query whose rows the client shows.
    Select(Box<Query>),
    /// `INSERT INTO table query` (or `EXECUTE INSERT INTO ..`).
    Insert {
        /// The sink table.
        table: String,
        /// The query whose rows it receives.
        query: Box<Query>,
    },
    /// `EXECUTE STATEMENT SET BEGIN insert; .. END` (or the client's `BEGIN STATEMENT SET;
    /// insert; .. END;`): the inserts run as one job.
    StatementSet(Vec<(String, Box<Query>)>),
    /// `EXPLAIN [PLAN FOR] statement`: the plan of a query, an insert or a statement set.
    Explain(Box<FlinkStatement>),
}

/// Parses a script into its statements, separated by `;`.
pub fn parse_script(script: &str) -> SqlResult<Vec<FlinkStatement>> {
    Ok(parse_script_texts(script)?
        .into_iter()
        .map(|(statement, _)| statement)
        .collect())
}

/// Parses a script into its statements, each with its text (without the `;`).
pub fn parse_script_texts(script: &str) -> SqlResult<Vec<(FlinkStatement, String)>> {
    let dialect = FlinkDialect;
    let mut parser = Parser::new(&dialect).try_with_sql(script)?;
    let offsets = LineOffsets::new(script);
    let mut statements = Vec::new();
    loop {
        while parser.consume_token(&Token::SemiColon) {}
        let first = parser.peek_token();
        if first.token == Token::EOF {
            return Ok(statements);
        }
        let statement = parse_statement(&mut parser)?;
        let next = parser.peek_token();
        if !matches!(next.token, Token::SemiColon | Token::EOF) {
            return Err(SqlError::at(
                &next.span,
                format!("expected ';' after the statement, found {}", next.token),
            ));
        }
        let start = offsets.offset(first.span.start);
        let end = match next.token {
            Token::EOF => script.len(),
            _ => offsets.offset(next.span.start),
        };
        let text = script
            .get(start..end)
            .unwrap_or_default()
            .trim()
            .to_string();
        statements.push((statement, text));
    }
}

/// Byte offsets of a text's lines, to turn the parser's line and column into a position.
struct LineOffsets<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineOffsets<'a> {
    fn new(text: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineOffsets { text, starts }
    }

    /// The byte offset of `location` (line and column from 1; columns count characters).
    fn offset(&self, location: sqlparser::tokenizer::Location) -> usize {
        let line = (location.line as usize).saturating_sub(1);
        let Some(&start) = self.starts.get(line) else {
            return self.text.len();
        };
        let column = (location.column as usize).saturating_sub(1);
        self.text[start..]
            .char_indices()
            .nth(column)
            .map_or(self.text.len(), |(i, _)| start + i)
    }
}

fn parse_statement(parser: &mut Parser<'_>) -> SqlResult<FlinkStatement> {
    let at = parser.peek_token();
    if parser.parse_keyword(Keyword::SET) {
        let key = parser.parse_literal_string()?;
        parser.expect_token(&Token::Eq)?;
        let value = parser.parse_literal_string()?;
        return Ok(FlinkStatement::Set { key, value });
    }
    if parser.parse_keyword(Keyword::RESET) {
        let key = match parser.peek_token().token {
            Token::SingleQuotedString(_) => Some(parser.parse_literal_string()?),
            _ => None,
        };
        return Ok(FlinkStatement::Reset(key));
    }
    if parser.parse_keyword(Keyword::CREATE) {
        // Every table of a session is temporary: the catalog lives as long as the session.
        let _ = parser.parse_keyword(Keyword::TEMPORARY);
        let _ = parser.parse_keyword(Keyword::SYSTEM);
        if parser.parse_keyword(Keyword::FUNCTION) {
            let if_not_exists =
                parser.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
            let name = object_name(&parser.parse_object_name(false)?);
            parser.expect_keyword(Keyword::AS)?;
            let identifier = parser.parse_literal_string()?;
            if parser.parse_keyword(Keyword::LANGUAGE) {
                parser.parse_identifier()?;
            }
            return Ok(FlinkStatement::CreateFunction {
                name,
                identifier,
                if_not_exists,
            });
        }
        if parser.parse_keyword(Keyword::VIEW) {
            let if_not_exists =
                parser.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
            let name = object_name(&parser.parse_object_name(false)?);
            parser.expect_keyword(Keyword::AS)?;
            let query = parser.parse_query()?;
            return Ok(FlinkStatement::CreateView {
                name,
                query,
                if_not_exists,
            });
        }
        parser.expect_keyword(Keyword::TABLE)?;
        let if_not_exists = parser.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
        let table = parse_create_table(parser)?;
        return Ok(FlinkStatement::CreateTable {
            table: Box::new(table),
            if_not_exists,
        });
    }
    if parser.parse_keyword(Keyword::DROP) {
        let _ = parser.parse_keyword(Keyword::TEMPORARY);
        let _ = parser.parse_keyword(Keyword::SYSTEM);
        if parser.parse_keyword(Keyword::FUNCTION) {
            let if_exists = parser.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
            let name = object_name(&parser.parse_object_name(false)?);
            return Ok(FlinkStatement::DropFunction { name, if_exists });
        }
        let view = parser.parse_keyword(Keyword::VIEW);
        if !view {
            parser.expect_keyword(Keyword::TABLE)?;
        }
        let if_exists = parser.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
        let name = object_name(&parser.parse_object_name(false)?);
        return Ok(if view {
            FlinkStatement::DropView { name, if_exists }
        } else {
            FlinkStatement::DropTable { name, if_exists }
        });
    }
    if parser.parse_keyword(Keyword::EXPLAIN) {
        let _ = parser.parse_keywords(&[Keyword::PLAN, Keyword::FOR]);
        // Flink's detail options (`EXPLAIN CHANGELOG_MODE, ..`): the plan always shows them.
        while [
            "ESTIMATED_COST",
            "CHANGELOG_MODE",
            "JSON_EXECUTION_PLAN",
            "PLAN_ADVICE",
        ]
        .iter()
        .any(|detail| parse_word(parser, detail))
        {
            let _ = parser.consume_token(&Token::Comma);
        }
        let explained = if parse_word(parser, "STATEMENT") {
            parser.expect_keyword(Keyword::SET)?;
            parser.expect_keyword(Keyword::BEGIN)?;
            parse_statement_set(parser)?
        } else {
            parse_statement(parser)?
        };
        return match explained {
            FlinkStatement::Select(_)
            | FlinkStatement::Insert { .. }
            | FlinkStatement::StatementSet(_) => Ok(FlinkStatement::Explain(Box::new(explained))),
            _ => Err(SqlError::at(
                &at.span,
                "EXPLAIN explains a query, an INSERT or a statement set",
            )),
        };
    }
    if parser.parse_keyword(Keyword::EXECUTE) {
        if parse_word(parser, "STATEMENT") {
            parser.expect_keyword(Keyword::SET)?;
            parser.expect_keyword(Keyword::BEGIN)?;
            return parse_statement_set(parser);
        }
        return match parse_statement(parser)? {
            insert @ FlinkStatement::Insert { .. } => Ok(insert),
            _ => Err(SqlError::at(
                &at.span,
                "EXECUTE runs an INSERT or a STATEMENT SET",
            )),
        };
    }
    if parser.parse_keyword(Keyword::BEGIN) {
        if !parse_word(parser, "STATEMENT") {
            return Err(SqlError::at(&at.span, "expected BEGIN STATEMENT SET"));
        }
        parser.expect_keyword(Keyword::SET)?;
        parser.expect_token(&Token::SemiColon)?;
        return parse_statement_set(parser);
    }
    if parser.parse_keywords(&[Keyword::SHOW, Keyword::TABLES]) {
        return Ok(FlinkStatement::ShowTables);
    }
    if parser
        .parse_one_of_keywords(&[Keyword::DESCRIBE, Keyword::DESC])
        .is_some()
    {
        return Ok(FlinkStatement::Describe(object_name(
            &parser.parse_object_name(false)?,
        )));
    }
    match parser.parse_statement()? {
        Statement::Insert(insert) => {
            let table = match &insert.table {
                sqlparser::ast::TableObject::TableName(name) => object_name(name),
                other => {
                    return Err(SqlError::at(
                        &at.span,
                        format!("INSERT INTO {other}: only tables can be written to"),
                    ));
                }
            };
            let query = insert.source.ok_or_else(|| {
                SqlError::at(&at.span, "INSERT needs a query (SELECT ... or VALUES ...)")
            })?;
            Ok(FlinkStatement::Insert { table, query })
        }
        Statement::Query(query) => Ok(FlinkStatement::Select(query)),
        other => Err(SqlError::at(
            &at.span,
            format!(
                "unsupported statement: {}",
                other.to_string().chars().take(60).collect::<String>()
            ),
        )),
    }
}

/// The inserts of a statement set after its `BEGIN`, up to its `END`.
fn parse_statement_set(parser: &mut Parser<'_>) -> SqlResult<FlinkStatement> {
    let mut inserts = Vec::new();
    loop {
        while parser.consume_token(&Token::SemiColon) {}
        if parser.parse_keyword(Keyword::END) {
            break;
        }
        let at = parser.peek_token();
        if at.token == Token::EOF {
            return Err(SqlError::at(&at.span, "the statement set has no END"));
        }
        match parse_statement(parser)? {
            FlinkStatement::Insert { table, query } => inserts.push((table, query)),
            _ => {
                return Err(SqlError::at(
                    &at.span,
                    "a statement set holds INSERT statements only",
                ));
            }
        }
        let next = parser.peek_token();
        if next.token != Token::SemiColon {
            return Err(SqlError::at(
                &next.span,
                format!("expected ';' after the INSERT, found {}", next.token),
            ));
        }
    }
    if inserts.is_empty() {
        return Err(SqlError::new("the statement set holds no INSERT"));
    }
    Ok(FlinkStatement::StatementSet(inserts))
}

/// A table's name: its last part (the catalog has one database).
pub(crate) fn object_name(name: &ObjectName) -> String {
    name.0
        .last()
        .and_then(|part| part.as_ident())
        .map(|ident| ident.value.clone())
        .unwrap_or_default()
}

/// Consumes the word `word` (not a keyword of sqlparser's) if it comes next.
pub(super) fn parse_word(parser: &mut Parser<'_>, word: &str) -> bool {
    let found = matches!(&parser.peek_token().token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word));
    if found {
        parser.next_token();
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ColumnKind;
    use crate::types::SqlType;

    const DDL: &str = "
        SET 'parallelism.default' = '2';
        CREATE TABLE `Bids` (
            auction BIGINT NOT NULL,
            price DECIMAL(10, 2) COMMENT 'in euro',
            ts TIMESTAMP(3),
            cost AS price * 2,
            file STRING METADATA FROM 'file.path' VIRTUAL,
            PRIMARY KEY (auction) NOT ENFORCED,
            WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
        ) PARTITIONED BY (auction) WITH ('connector' = 'filesystem', 'path' = '/data/bids.csv', 'format' = 'csv');
        INSERT INTO out SELECT auction FROM Bids;
        RESET;
    ";

    #[test]
    fn parses_flinks_create_table() {
        let statements = parse_script(DDL).unwrap();
        assert_eq!(statements.len(), 4);
        assert!(
            matches!(&statements[0], FlinkStatement::Set { key, value } if key == "parallelism.default" && value == "2")
        );
        let FlinkStatement::CreateTable { table, .. } = &statements[1] else {
            panic!("{:?}", statements[1]);
        };
        assert_eq!(table.name, "Bids");
        let names: Vec<_> = table
            .columns
            .iter()
            .map(|c| c.field.name.as_str())
            .collect();
        assert_eq!(names, ["auction", "price", "ts", "cost", "file"]);
        assert_eq!(table.columns[1].field.ty, SqlType::Decimal(10, 2));
        assert!(!table.columns[0].field.nullable);
        assert!(matches!(table.columns[3].kind, ColumnKind::Computed(_)));
        assert_eq!(
            table.columns[4].kind,
            ColumnKind::Metadata {
                key: "file.path".into(),
                is_virtual: true
            }
        );
        assert_eq!(table.primary_key, ["auction"]);
        assert_eq!(table.partition_keys, ["auction"]);
        let watermark = table.watermark.as_ref().unwrap();
        assert_eq!(watermark.column, "ts");
        assert_eq!(watermark.expr.to_string(), "ts - INTERVAL '5' SECOND");
        assert_eq!(table.options["path"], "/data/bids.csv");
        assert!(matches!(&statements[2], FlinkStatement::Insert { table, .. } if table == "out"));
        assert!(matches!(&statements[3], FlinkStatement::Reset(None)));
    }

    #[test]
    fn errors_give_the_position_and_what_was_expected() {
        let error = parse_script("CREATE TABLE t (a INT,\n  b WHAT) WITH ()").unwrap_err();
        assert_eq!(error.position, Some((2, 5)), "{error}");
        assert!(error.message.contains("unknown or unsupported type WHAT"));
        let error = parse_script("SELECT FROM;").unwrap_err();
        assert!(error.to_string().contains("line 1"), "{error}");
        let error = parse_script("CREATE TABLE t (a INT) PARTITIONED BY (b)").unwrap_err();
        assert!(
            error.message.contains("Partition column 'b' not defined"),
            "{error}"
        );
        let error = parse_script("CREATE TABLE t (a INT, PRIMARY KEY (a))").unwrap_err();
        assert!(error.message.contains("NOT ENFORCED"), "{error}");
    }

    #[test]
    fn statement_sets_and_explain_wrap_inserts() {
        let statements = parse_script(
            "EXECUTE STATEMENT SET BEGIN INSERT INTO a SELECT 1; INSERT INTO b SELECT 2; END;
             BEGIN STATEMENT SET; INSERT INTO c SELECT 3; END;
             EXPLAIN CHANGELOG_MODE, ESTIMATED_COST INSERT INTO d SELECT 4;
             EXECUTE INSERT INTO e SELECT 5;
             EXPLAIN STATEMENT SET BEGIN INSERT INTO f SELECT 6; END;",
        )
        .unwrap();
        let tables = |statement: &FlinkStatement| match statement {
            FlinkStatement::StatementSet(inserts) => {
                inserts.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>()
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(tables(&statements[0]), ["a", "b"]);
        assert_eq!(tables(&statements[1]), ["c"]);
        assert!(matches!(&statements[2], FlinkStatement::Explain(inner)
            if matches!(inner.as_ref(), FlinkStatement::Insert { table, .. } if table == "d")));
        assert!(matches!(&statements[3], FlinkStatement::Insert { table, .. } if table == "e"));
        assert!(matches!(&statements[4], FlinkStatement::Explain(inner)
            if matches!(inner.as_ref(), FlinkStatement::StatementSet(_))));
        let error = parse_script("BEGIN STATEMENT SET; SET 'a' = 'b'; END;").unwrap_err();
        assert!(error.message.contains("INSERT statements only"), "{error}");
        let error =
            parse_script("EXECUTE STATEMENT SET BEGIN INSERT INTO a SELECT 1;").unwrap_err();
        assert!(error.message.contains("no END"), "{error}");
    }

    #[test]
    fn each_statement_keeps_its_text() {
        let script = "SET 'a' = 'b';\n-- a comment\nCREATE TABLE t (x INT) WITH ('k' = 'ü;');\n  INSERT INTO t\n  SELECT 1;\nSELECT 2";
        let texts: Vec<String> = parse_script_texts(script)
            .unwrap()
            .into_iter()
            .map(|(_, text)| text)
            .collect();
        assert_eq!(
            texts,
            [
                "SET 'a' = 'b'",
                "CREATE TABLE t (x INT) WITH ('k' = 'ü;')",
                "INSERT INTO t\n  SELECT 1",
                "SELECT 2"
            ]
        );
    }

    #[test]
    fn window_table_functions_take_table_arguments() {
        let statements = parse_script(
            "INSERT INTO o SELECT * FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND))",
        )
        .unwrap();
        let FlinkStatement::Insert { query, .. } = &statements[0] else {
            panic!()
        };
        assert!(query.to_string().contains("TUMBLE(TABLE(bids)"), "{query}");
    }
}
