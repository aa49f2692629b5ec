//! Flink's DDL that sqlparser does not parse: `CREATE TABLE` with computed and metadata
//! columns, `WATERMARK FOR`, `PRIMARY KEY (..) NOT ENFORCED`, `PARTITIONED BY` and `WITH`
//! options, read with sqlparser's token API.

use std::collections::BTreeMap;

use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use super::{object_name, parse_word};
use crate::catalog::{Column, ColumnKind, TableDef, WatermarkSpec};
use crate::error::{SqlError, SqlResult};
use crate::types::{SqlField, SqlType};

/// The rest of `CREATE TABLE` after its keywords: name, `( elements )`, `WITH ( options )`.
pub(super) fn parse_create_table(parser: &mut Parser<'_>) -> SqlResult<TableDef> {
    let name = object_name(&parser.parse_object_name(false)?);
    let mut table = TableDef {
        name,
        columns: Vec::new(),
        watermark: None,
        primary_key: Vec::new(),
        partition_keys: Vec::new(),
        options: BTreeMap::new(),
    };
    parser.expect_token(&Token::LParen)?;
    loop {
        parse_table_element(parser, &mut table)?;
        if parser.consume_token(&Token::Comma) {
            continue;
        }
        parser.expect_token(&Token::RParen)?;
        break;
    }
    if parser.parse_keyword(Keyword::COMMENT) {
        parser.parse_literal_string()?;
    }
    if parser.parse_keywords(&[Keyword::PARTITIONED, Keyword::BY]) {
        let at = parser.peek_token();
        parser.expect_token(&Token::LParen)?;
        let keys = parser.parse_comma_separated(|p| p.parse_identifier())?;
        parser.expect_token(&Token::RParen)?;
        for key in keys {
            if table.column(&key.value).is_none() {
                return Err(SqlError::at(
                    &at.span,
                    format!(
                        "Partition column '{}' not defined in the table schema",
                        key.value
                    ),
                ));
            }
            table.partition_keys.push(key.value);
        }
    }
    if parser.parse_keyword(Keyword::WITH) {
        table.options = parse_options(parser)?;
    }
    Ok(table)
}

/// A column, `WATERMARK FOR`, or a `[CONSTRAINT name] PRIMARY KEY (..) NOT ENFORCED`.
fn parse_table_element(parser: &mut Parser<'_>, table: &mut TableDef) -> SqlResult<()> {
    let at = parser.peek_token();
    if parse_word(parser, "WATERMARK") {
        parser.expect_keyword(Keyword::FOR)?;
        let column = parser.parse_identifier()?.value;
        parser.expect_keyword(Keyword::AS)?;
        let expr = parser.parse_expr()?;
        if table.watermark.is_some() {
            return Err(SqlError::at(
                &at.span,
                "a table can have one WATERMARK only",
            ));
        }
        table.watermark = Some(WatermarkSpec { column, expr });
        return Ok(());
    }
    if parser.parse_keyword(Keyword::CONSTRAINT) {
        parser.parse_identifier()?;
    }
    if parser.parse_keywords(&[Keyword::PRIMARY, Keyword::KEY]) {
        parser.expect_token(&Token::LParen)?;
        let columns = parser.parse_comma_separated(|p| p.parse_identifier())?;
        parser.expect_token(&Token::RParen)?;
        expect_not_enforced(parser)?;
        table.primary_key = columns.into_iter().map(|c| c.value).collect();
        return Ok(());
    }
    let name = parser.parse_identifier()?.value;
    if parser.parse_keyword(Keyword::AS) {
        let expr = parser.parse_expr()?;
        skip_comment(parser)?;
        table.columns.push(Column {
            // The type is derived when the table is planned.
            field: SqlField::new(name, SqlType::Varchar(None)),
            kind: ColumnKind::Computed(Box::new(expr)),
        });
        return Ok(());
    }
    let mut field = SqlField::new(name, SqlType::parse(parser)?);
    let mut kind = ColumnKind::Physical;
    loop {
        if parser.parse_keywords(&[Keyword::NOT, Keyword::NULL]) {
            field.nullable = false;
        } else if parser.parse_keyword(Keyword::NULL) {
            field.nullable = true;
        } else if parser.parse_keyword(Keyword::METADATA) {
            let key = if parser.parse_keyword(Keyword::FROM) {
                parser.parse_literal_string()?
            } else {
                field.name.clone()
            };
            let is_virtual = parser.parse_keyword(Keyword::VIRTUAL);
            kind = ColumnKind::Metadata { key, is_virtual };
        } else if parser.parse_keywords(&[Keyword::PRIMARY, Keyword::KEY]) {
            expect_not_enforced(parser)?;
            table.primary_key = vec![field.name.clone()];
        } else if !skip_comment(parser)? {
            break;
        }
    }
    if table.primary_key.contains(&field.name) {
        field.nullable = false;
    }
    table.columns.push(Column { field, kind });
    Ok(())
}

/// Flink takes primary keys as declarations only: `NOT ENFORCED` is required.
fn expect_not_enforced(parser: &mut Parser<'_>) -> SqlResult<()> {
    let at = parser.peek_token();
    if parser.parse_keywords(&[Keyword::NOT, Keyword::ENFORCED]) {
        return Ok(());
    }
    Err(SqlError::at(
        &at.span,
        "Flink doesn't support ENFORCED mode for PRIMARY KEY constraint: write PRIMARY KEY (..) NOT ENFORCED",
    ))
}

/// Skips `COMMENT 'text'`; whether there was one.
fn skip_comment(parser: &mut Parser<'_>) -> SqlResult<bool> {
    if parser.parse_keyword(Keyword::COMMENT) {
        parser.parse_literal_string()?;
        return Ok(true);
    }
    Ok(false)
}

/// `( 'key' = 'value', ... )`.
fn parse_options(parser: &mut Parser<'_>) -> SqlResult<BTreeMap<String, String>> {
    parser.expect_token(&Token::LParen)?;
    let mut options = BTreeMap::new();
    if parser.consume_token(&Token::RParen) {
        return Ok(options);
    }
    loop {
        let key = parser.parse_literal_string()?;
        parser.expect_token(&Token::Eq)?;
        let value = parser.parse_literal_string()?;
        options.insert(key, value);
        if !parser.consume_token(&Token::Comma) {
            break;
        }
    }
    parser.expect_token(&Token::RParen)?;
    Ok(options)
}
