//! Flink's SQL dialect on sqlparser: identifiers quoted with backticks (or double quotes),
//! case kept, and `TABLE name [PARTITION BY columns]` as an argument of a window table function
//! (`TUMBLE(TABLE bids, ...)`, `SESSION(TABLE bids PARTITION BY bidder, ...)`) and the map
//! constructor `MAP[k, v, ...]`, which sqlparser's generic dialect does not take.

use sqlparser::ast::{
    Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList, FunctionArguments, Ident,
    ObjectName,
};
use sqlparser::dialect::Dialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

/// The name of the call `TABLE name [PARTITION BY a, b]` parses into inside expressions:
/// `TABLE(name, a, b)`.
pub const TABLE_ARGUMENT: &str = "TABLE";

/// The name of the call `MAP[k, v, ...]` parses into: `MAP(k, v, ...)`.
pub const MAP_CONSTRUCTOR: &str = "MAP";

/// Flink SQL's dialect.
#[derive(Debug, Default, Clone, Copy)]
pub struct FlinkDialect;

impl Dialect for FlinkDialect {
    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        ch == '`' || ch == '"'
    }

    fn is_identifier_start(&self, ch: char) -> bool {
        ch.is_alphabetic() || ch == '_' || ch == '$'
    }

    fn is_identifier_part(&self, ch: char) -> bool {
        ch.is_alphanumeric() || ch == '_' || ch == '$'
    }

    fn supports_group_by_expr(&self) -> bool {
        true
    }

    /// `TABLE name [PARTITION BY a, b]` (not `TABLE(`) becomes the call `TABLE(name, a, b)`;
    /// `MAP[k, v, ...]` the call `MAP(k, v, ...)`.
    fn parse_prefix(&self, parser: &mut Parser) -> Option<Result<Expr, ParserError>> {
        let is_map =
            matches!(&parser.peek_token().token, Token::Word(w) if w.keyword == Keyword::MAP);
        if is_map && parser.peek_nth_token(1).token == Token::LBracket {
            parser.next_token();
            return Some(parse_map_constructor(parser));
        }
        let is_table =
            matches!(&parser.peek_token().token, Token::Word(w) if w.keyword == Keyword::TABLE);
        let then_name = matches!(&parser.peek_nth_token(1).token, Token::Word(_));
        if !(is_table && then_name) {
            return None;
        }
        parser.next_token();
        Some(parse_table_argument(parser))
    }
}

fn parse_table_argument(parser: &mut Parser) -> Result<Expr, ParserError> {
    let name = parser.parse_object_name(false)?;
    let mut partition = Vec::new();
    if parser.parse_keywords(&[Keyword::PARTITION, Keyword::BY]) {
        // Columns up to the comma before the next argument (`DESCRIPTOR(..)`, a call).
        loop {
            partition.push(parser.parse_identifier()?);
            let more = parser.peek_token().token == Token::Comma
                && matches!(parser.peek_nth_token(1).token, Token::Word(_))
                && parser.peek_nth_token(2).token != Token::LParen;
            if !more {
                break;
            }
            parser.next_token();
        }
    }
    Ok(table_argument(name, partition))
}

/// `[k1, v1, ...]` after `MAP`, as the call `MAP(k1, v1, ...)`.
fn parse_map_constructor(parser: &mut Parser) -> Result<Expr, ParserError> {
    parser.expect_token(&Token::LBracket)?;
    let args = parser.parse_comma_separated(Parser::parse_expr)?;
    parser.expect_token(&Token::RBracket)?;
    Ok(marker_call(MAP_CONSTRUCTOR, args))
}

/// The marker call for `TABLE name PARTITION BY partition`.
fn table_argument(name: ObjectName, partition: Vec<Ident>) -> Expr {
    let parts = name
        .0
        .into_iter()
        .filter_map(|part| part.as_ident().cloned())
        .collect::<Vec<Ident>>();
    let args = std::iter::once(Expr::CompoundIdentifier(parts))
        .chain(partition.into_iter().map(Expr::Identifier))
        .collect();
    marker_call(TABLE_ARGUMENT, args)
}

/// The call `name(args)`, standing for a syntax of Flink's that sqlparser does not take.
fn marker_call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Function(Function {
        name: ObjectName::from(vec![Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: args
                .into_iter()
                .map(|e| FunctionArg::Unnamed(FunctionArgExpr::Expr(e)))
                .collect(),
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}
