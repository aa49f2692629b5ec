//! Flink's SQL dialect on sqlparser: identifiers quoted with backticks (or double quotes),
//! case kept, and `TABLE name` as an argument of a window table function
//! (`TUMBLE(TABLE bids, ...)`), which sqlparser's generic dialect does not take.

use sqlparser::ast::{
    Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList, FunctionArguments, Ident,
    ObjectName,
};
use sqlparser::dialect::Dialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

/// The name of the call `TABLE name` parses into inside expressions.
pub const TABLE_ARGUMENT: &str = "TABLE";

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

    /// `TABLE name` (not `TABLE(`) becomes the call `TABLE(name)`.
    fn parse_prefix(&self, parser: &mut Parser) -> Option<Result<Expr, ParserError>> {
        let is_table =
            matches!(&parser.peek_token().token, Token::Word(w) if w.keyword == Keyword::TABLE);
        let then_name = matches!(&parser.peek_nth_token(1).token, Token::Word(_));
        if !(is_table && then_name) {
            return None;
        }
        parser.next_token();
        Some(parser.parse_object_name(false).map(table_argument))
    }
}

/// The marker call for `TABLE name`.
fn table_argument(name: ObjectName) -> Expr {
    let parts = name
        .0
        .into_iter()
        .filter_map(|part| part.as_ident().cloned())
        .collect::<Vec<Ident>>();
    Expr::Function(Function {
        name: ObjectName::from(vec![Ident::new(TABLE_ARGUMENT)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: vec![FunctionArg::Unnamed(FunctionArgExpr::Expr(
                Expr::CompoundIdentifier(parts),
            ))],
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}
