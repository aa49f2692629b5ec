//! Flink's SQL data types: parsing them from DDL, printing them as Flink does (`DESCRIBE`), and
//! the Arrow type each is held in on the data plane.

use std::fmt;
use std::sync::Arc;

use arrow_schema::{DataType, Field, TimeUnit};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use crate::error::{SqlError, SqlResult};

/// A Flink logical type without its nullability (columns carry that).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SqlType {
    /// `BOOLEAN`.
    Boolean,
    /// `TINYINT`.
    TinyInt,
    /// `SMALLINT`.
    SmallInt,
    /// `INT` / `INTEGER`.
    Int,
    /// `BIGINT`.
    BigInt,
    /// `FLOAT` (32-bit).
    Float,
    /// `DOUBLE` (64-bit).
    Double,
    /// `DECIMAL(precision, scale)`.
    Decimal(u8, i8),
    /// `STRING` / `VARCHAR(n)` / `CHAR(n)`; `None` is `STRING` (`VARCHAR(2147483647)`).
    Varchar(Option<u32>),
    /// `DATE`.
    Date,
    /// `TIMESTAMP(p)`, without time zone; held at millisecond precision.
    Timestamp(u8),
    /// `TIMESTAMP_LTZ(p)`: an instant, shown in the session time zone.
    TimestampLtz(u8),
    /// `INTERVAL DAY TO SECOND` (milliseconds); the type of interval literals.
    IntervalDayTime,
    /// `ROW<name type, ...>`: a nested record, held in an Arrow struct.
    Row(Vec<RowField>),
    /// `ARRAY<t>` (or `t ARRAY`): a list of values of one type, held in an Arrow list.
    Array(Box<SqlType>),
    /// `MAP<k, v>`: keys and their values, held in an Arrow map.
    Map(Box<SqlType>, Box<SqlType>),
}

/// A named field of a `ROW` type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RowField {
    /// The field's name, case kept.
    pub name: String,
    /// Its type.
    pub ty: SqlType,
}

/// The longest `VARCHAR`: Flink prints it as `STRING`.
const MAX_VARCHAR: u32 = i32::MAX as u32;

impl SqlType {
    /// The Arrow type values of this type are held in.
    pub fn arrow_type(&self) -> DataType {
        match self {
            SqlType::Boolean => DataType::Boolean,
            SqlType::TinyInt => DataType::Int8,
            SqlType::SmallInt => DataType::Int16,
            SqlType::Int => DataType::Int32,
            SqlType::BigInt | SqlType::IntervalDayTime => DataType::Int64,
            SqlType::Float => DataType::Float32,
            SqlType::Double => DataType::Float64,
            SqlType::Decimal(p, s) => DataType::Decimal128(*p, *s),
            SqlType::Varchar(_) => DataType::Utf8,
            SqlType::Date => DataType::Date32,
            SqlType::Timestamp(_) => DataType::Timestamp(TimeUnit::Millisecond, None),
            SqlType::TimestampLtz(_) => {
                DataType::Timestamp(TimeUnit::Millisecond, Some(Arc::from("UTC")))
            }
            SqlType::Row(fields) => DataType::Struct(row_arrow_fields(fields)),
            SqlType::Array(element) => DataType::List(Arc::new(array_element_field(element))),
            SqlType::Map(key, value) => {
                DataType::Map(Arc::new(map_entries_field(key, value)), false)
            }
        }
    }

    /// The index and type of the field `name` of a `ROW` type.
    pub fn row_field(&self, name: &str) -> Option<(usize, &SqlType)> {
        match self {
            SqlType::Row(fields) => fields
                .iter()
                .position(|f| f.name == name)
                .map(|i| (i, &fields[i].ty)),
            _ => None,
        }
    }

    /// Whether values of this type are numbers (for arithmetic and comparison).
    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            SqlType::TinyInt
                | SqlType::SmallInt
                | SqlType::Int
                | SqlType::BigInt
                | SqlType::Float
                | SqlType::Double
                | SqlType::Decimal(..)
        )
    }

    /// Whether values of this type are exact integers.
    pub fn is_integer(&self) -> bool {
        matches!(
            self,
            SqlType::TinyInt | SqlType::SmallInt | SqlType::Int | SqlType::BigInt
        )
    }

    /// Whether this is a timestamp type (with or without local time zone).
    pub fn is_timestamp(&self) -> bool {
        matches!(self, SqlType::Timestamp(_) | SqlType::TimestampLtz(_))
    }

    /// Whether Flink's CSV and JSON writers print values of this type as (quotable) text
    /// (an `ARRAY` or `ROW` in CSV is its parts joined by `;`, quoted as text is).
    pub fn prints_as_text(&self) -> bool {
        matches!(
            self,
            SqlType::Varchar(_)
                | SqlType::Date
                | SqlType::Timestamp(_)
                | SqlType::TimestampLtz(_)
                | SqlType::Array(_)
                | SqlType::Row(_)
        )
    }

    /// Whether values of this type are made of other values (`ROW`, `ARRAY`, `MAP`).
    pub fn is_nested(&self) -> bool {
        matches!(self, SqlType::Row(_) | SqlType::Array(_) | SqlType::Map(..))
    }

    /// Whether this is a character string type.
    pub fn is_string(&self) -> bool {
        matches!(self, SqlType::Varchar(_))
    }

    /// The type both `self` and `other` widen to in arithmetic and comparisons, as Flink
    /// widens numbers: integers to the wider integer, anything with `DOUBLE` to `DOUBLE`, else
    /// with `FLOAT` to `FLOAT`, integers with decimals to a decimal.
    pub fn common_numeric(&self, other: &SqlType) -> Option<SqlType> {
        use SqlType::*;
        let rank = |t: &SqlType| match t {
            TinyInt => Some(1),
            SmallInt => Some(2),
            Int => Some(3),
            BigInt => Some(4),
            _ => None,
        };
        match (self, other) {
            (a, b) if a == b && a.is_numeric() => Some(a.clone()),
            (Double, b) | (b, Double) if b.is_numeric() => Some(Double),
            (Float, b) | (b, Float) if b.is_numeric() => Some(Float),
            (Decimal(p, s), b) | (b, Decimal(p, s)) if b.is_integer() => {
                let digits = integer_digits(b);
                let whole = (i16::from(*p) - i16::from(*s)).max(digits);
                let precision = (whole + i16::from(*s)).min(38) as u8;
                Some(Decimal(precision, *s))
            }
            (Decimal(p1, s1), Decimal(p2, s2)) => {
                let scale = (*s1).max(*s2);
                let whole = (i16::from(*p1) - i16::from(*s1)).max(i16::from(*p2) - i16::from(*s2));
                Some(Decimal((whole + i16::from(scale)).min(38) as u8, scale))
            }
            (a, b) => match (rank(a), rank(b)) {
                (Some(x), Some(y)) => Some(if x >= y { a.clone() } else { b.clone() }),
                _ => None,
            },
        }
    }

    /// Parses a Flink type at the parser's position: a name, its optional `(precision[,
    /// scale])`, and `WITH/WITHOUT [LOCAL] TIME ZONE` after `TIMESTAMP`.
    pub fn parse(parser: &mut Parser<'_>) -> SqlResult<SqlType> {
        let mut closed = 0;
        let ty = SqlType::parse_nested(parser, &mut closed)?;
        if closed > 0 {
            return Err(SqlError::at(
                &parser.peek_token().span,
                "one '>' too many after the type",
            ));
        }
        Ok(ty)
    }

    /// [`SqlType::parse`] inside `<..>`: `closed` counts the `>` a `>>` token closed beyond
    /// the innermost type, which the enclosing types take before reading a token.
    fn parse_nested(parser: &mut Parser<'_>, closed: &mut usize) -> SqlResult<SqlType> {
        let at = parser.peek_token();
        let name = match &at.token {
            Token::Word(word) => word.value.to_ascii_uppercase(),
            _ => {
                return Err(SqlError::at(
                    &at.span,
                    format!("expected a type, found {}", at.token),
                ));
            }
        };
        parser.next_token();
        let args = if matches!(name.as_str(), "ROW" | "ARRAY" | "MAP") {
            Vec::new()
        } else {
            parse_type_arguments(parser)?
        };
        let arg = |i: usize, default: u32| args.get(i).copied().unwrap_or(default);
        let ty = match name.as_str() {
            "BOOLEAN" | "BOOL" => SqlType::Boolean,
            "TINYINT" => SqlType::TinyInt,
            "SMALLINT" => SqlType::SmallInt,
            "INT" | "INTEGER" => SqlType::Int,
            "BIGINT" => SqlType::BigInt,
            "FLOAT" | "REAL" => SqlType::Float,
            "DOUBLE" => {
                let _ = parser.parse_keyword(sqlparser::keywords::Keyword::PRECISION);
                SqlType::Double
            }
            "DECIMAL" | "DEC" | "NUMERIC" => {
                let (precision, scale) = (arg(0, 10), arg(1, 0));
                if !(1..=38).contains(&precision) || scale > precision {
                    return Err(SqlError::at(
                        &at.span,
                        format!(
                            "DECIMAL({precision}, {scale}): precision must be 1 to 38 and scale at most the precision"
                        ),
                    ));
                }
                SqlType::Decimal(precision as u8, scale as i8)
            }
            "STRING" => SqlType::Varchar(None),
            "VARCHAR" | "CHAR" | "CHARACTER" => {
                let length = arg(0, if name == "VARCHAR" { MAX_VARCHAR } else { 1 });
                SqlType::Varchar((length != MAX_VARCHAR).then_some(length))
            }
            "DATE" => SqlType::Date,
            "TIMESTAMP" => {
                let precision = timestamp_precision(&at.span, arg(0, 6))?;
                if parse_time_zone_clause(parser)? {
                    SqlType::TimestampLtz(precision)
                } else {
                    SqlType::Timestamp(precision)
                }
            }
            "TIMESTAMP_LTZ" => SqlType::TimestampLtz(timestamp_precision(&at.span, arg(0, 6))?),
            "ROW" => SqlType::Row(parse_row_fields(parser, closed)?),
            "ARRAY" => {
                let [element] = parse_type_parameters::<1>(parser, closed)?;
                SqlType::Array(Box::new(element))
            }
            "MAP" => {
                let [key, value] = parse_type_parameters::<2>(parser, closed)?;
                SqlType::Map(Box::new(key), Box::new(value))
            }
            other => {
                return Err(SqlError::at(
                    &at.span,
                    format!("unknown or unsupported type {other}"),
                ));
            }
        };
        // `INT ARRAY`: Flink's postfix spelling of `ARRAY<INT>`.
        let mut ty = ty;
        while *closed == 0 && parser.parse_keyword(sqlparser::keywords::Keyword::ARRAY) {
            ty = SqlType::Array(Box::new(ty));
        }
        Ok(ty)
    }
}

/// The Arrow field of an `ARRAY`'s elements.
pub fn array_element_field(element: &SqlType) -> Field {
    Field::new("element", element.arrow_type(), true)
}

/// The Arrow field of a `MAP`'s entries: a struct of [`map_entry_fields`].
pub fn map_entries_field(key: &SqlType, value: &SqlType) -> Field {
    Field::new(
        "entries",
        DataType::Struct(map_entry_fields(key, value)),
        false,
    )
}

/// The fields of a `MAP` entry: a key (never NULL in Arrow; a NULL key is refused) and a value.
pub fn map_entry_fields(key: &SqlType, value: &SqlType) -> arrow_schema::Fields {
    vec![
        Field::new("key", key.arrow_type(), false),
        Field::new("value", value.arrow_type(), true),
    ]
    .into()
}

/// `<t1, ..., tN>` after `ARRAY` or `MAP`.
fn parse_type_parameters<const N: usize>(
    parser: &mut Parser<'_>,
    closed: &mut usize,
) -> SqlResult<[SqlType; N]> {
    parser.expect_token(&Token::Lt)?;
    let mut types = Vec::with_capacity(N);
    for i in 0..N {
        if i > 0 {
            parser.expect_token(&Token::Comma)?;
        }
        types.push(SqlType::parse_nested(parser, closed)?);
        skip_not_null(parser, closed);
    }
    expect_closing_angle(parser, closed)?;
    Ok(std::array::from_fn(|_| types.remove(0)))
}

/// `NOT NULL` after a nested type (values inside are nullable here), unless a `>>` already
/// closed the enclosing type: then it belongs to what comes after.
fn skip_not_null(parser: &mut Parser<'_>, closed: &usize) {
    if *closed == 0 {
        let _ = parser.parse_keywords(&[
            sqlparser::keywords::Keyword::NOT,
            sqlparser::keywords::Keyword::NULL,
        ]);
    }
}

/// The `>` closing a type's parameters: one a `>>` closed already, a `>`, or a `>>` (which
/// closes the enclosing type's too).
fn expect_closing_angle(parser: &mut Parser<'_>, closed: &mut usize) -> SqlResult<()> {
    if *closed > 0 {
        *closed -= 1;
    } else if parser.consume_token(&Token::ShiftRight) {
        *closed += 1;
    } else {
        parser.expect_token(&Token::Gt)?;
    }
    Ok(())
}

/// The Arrow fields of a `ROW` type's struct (all nullable, as columns are).
pub fn row_arrow_fields(fields: &[RowField]) -> arrow_schema::Fields {
    fields
        .iter()
        .map(|f| Field::new(&f.name, f.ty.arrow_type(), true))
        .collect()
}

/// How many decimal digits an integer type's values can have.
fn integer_digits(ty: &SqlType) -> i16 {
    match ty {
        SqlType::TinyInt => 3,
        SqlType::SmallInt => 5,
        SqlType::Int => 10,
        _ => 19,
    }
}

/// Timestamps are held as milliseconds: a precision above 3 would lose digits.
fn timestamp_precision(span: &sqlparser::tokenizer::Span, precision: u32) -> SqlResult<u8> {
    // Flink's default TIMESTAMP precision is 6; values are kept to the millisecond here, which
    // every connector of this crate produces.
    if precision > 9 {
        return Err(SqlError::at(
            span,
            format!("TIMESTAMP({precision}): precision must be 0 to 9"),
        ));
    }
    Ok(precision as u8)
}

/// The fields of `ROW<name type, ...>` or `ROW(name type, ...)`, after the word `ROW`.
fn parse_row_fields(parser: &mut Parser<'_>, closed: &mut usize) -> SqlResult<Vec<RowField>> {
    let close = if parser.consume_token(&Token::Lt) {
        Token::Gt
    } else {
        parser.expect_token(&Token::LParen)?;
        Token::RParen
    };
    let mut fields: Vec<RowField> = Vec::new();
    loop {
        let name = parser.parse_identifier()?;
        let ty = SqlType::parse_nested(parser, closed)?;
        skip_not_null(parser, closed);
        if fields.iter().any(|f| f.name == name.value) {
            return Err(SqlError::at(
                &name.span,
                format!("the ROW type has two fields named '{}'", name.value),
            ));
        }
        fields.push(RowField {
            name: name.value,
            ty,
        });
        if !parser.consume_token(&Token::Comma) {
            break;
        }
    }
    // `>>` closes two nested ROWs at once.
    if close == Token::Gt {
        expect_closing_angle(parser, closed)?;
    } else {
        parser.expect_token(&close)?;
    }
    Ok(fields)
}

/// `(n)` or `(n, m)` after a type name; empty when absent.
fn parse_type_arguments(parser: &mut Parser<'_>) -> SqlResult<Vec<u32>> {
    let mut args = Vec::new();
    if parser.consume_token(&Token::LParen) {
        loop {
            let value = parser.parse_literal_uint()?;
            args.push(u32::try_from(value).unwrap_or(u32::MAX));
            if !parser.consume_token(&Token::Comma) {
                break;
            }
        }
        parser.expect_token(&Token::RParen)?;
    }
    Ok(args)
}

/// `WITHOUT TIME ZONE` (false), `WITH LOCAL TIME ZONE` (true), or nothing (false).
fn parse_time_zone_clause(parser: &mut Parser<'_>) -> SqlResult<bool> {
    use sqlparser::keywords::Keyword;
    if parser.parse_keywords(&[Keyword::WITHOUT, Keyword::TIME, Keyword::ZONE]) {
        return Ok(false);
    }
    if parser.parse_keywords(&[Keyword::WITH, Keyword::LOCAL, Keyword::TIME, Keyword::ZONE]) {
        return Ok(true);
    }
    Ok(false)
}

impl fmt::Display for SqlType {
    /// Flink's own spelling (`DESCRIBE`, error messages).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SqlType::Boolean => f.write_str("BOOLEAN"),
            SqlType::TinyInt => f.write_str("TINYINT"),
            SqlType::SmallInt => f.write_str("SMALLINT"),
            SqlType::Int => f.write_str("INT"),
            SqlType::BigInt => f.write_str("BIGINT"),
            SqlType::Float => f.write_str("FLOAT"),
            SqlType::Double => f.write_str("DOUBLE"),
            SqlType::Decimal(p, s) => write!(f, "DECIMAL({p}, {s})"),
            SqlType::Varchar(None) => f.write_str("STRING"),
            SqlType::Varchar(Some(n)) => write!(f, "VARCHAR({n})"),
            SqlType::Date => f.write_str("DATE"),
            SqlType::Timestamp(p) => write!(f, "TIMESTAMP({p})"),
            SqlType::TimestampLtz(p) => write!(f, "TIMESTAMP_LTZ({p})"),
            SqlType::IntervalDayTime => f.write_str("INTERVAL SECOND(3)"),
            SqlType::Row(fields) => {
                f.write_str("ROW<")?;
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "`{}` {}", field.name, field.ty)?;
                }
                f.write_str(">")
            }
            SqlType::Array(element) => write!(f, "ARRAY<{element}>"),
            SqlType::Map(key, value) => write!(f, "MAP<{key}, {value}>"),
        }
    }
}

/// A named, typed column of a schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlField {
    /// The column's name, case kept.
    pub name: String,
    /// Its type.
    pub ty: SqlType,
    /// Whether it may hold NULL.
    pub nullable: bool,
    /// Whether it is an event-time attribute (`*ROWTIME*` in Flink's `DESCRIBE`).
    pub rowtime: bool,
}

impl SqlField {
    /// A nullable, non-time-attribute field.
    pub fn new(name: impl Into<String>, ty: SqlType) -> Self {
        SqlField {
            name: name.into(),
            ty,
            nullable: true,
            rowtime: false,
        }
    }

    /// The Arrow field this column is held in: nullable whatever the SQL type says (the
    /// planner checks NOT NULL; a batch does not).
    pub fn arrow_field(&self) -> Field {
        Field::new(&self.name, self.ty.arrow_type(), true)
    }
}

/// The Arrow schema of a list of SQL fields.
pub fn arrow_schema(fields: &[SqlField]) -> arrow_schema::SchemaRef {
    Arc::new(arrow_schema::Schema::new(
        fields.iter().map(SqlField::arrow_field).collect::<Vec<_>>(),
    ))
}

#[cfg(test)]
impl SqlType {
    /// The type `text` spells (for tests).
    pub(crate) fn from_text(text: &str) -> SqlResult<SqlType> {
        let dialect = sqlparser::dialect::GenericDialect {};
        let mut parser = Parser::new(&dialect).try_with_sql(text)?;
        SqlType::parse(&mut parser)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> SqlResult<SqlType> {
        SqlType::from_text(text)
    }

    #[test]
    fn parses_flinks_type_names() {
        assert_eq!(parse("STRING").unwrap(), SqlType::Varchar(None));
        assert_eq!(parse("varchar(10)").unwrap(), SqlType::Varchar(Some(10)));
        assert_eq!(parse("VARCHAR").unwrap(), SqlType::Varchar(None));
        assert_eq!(parse("DECIMAL(10, 2)").unwrap(), SqlType::Decimal(10, 2));
        assert_eq!(parse("DECIMAL").unwrap(), SqlType::Decimal(10, 0));
        assert_eq!(parse("TIMESTAMP(3)").unwrap(), SqlType::Timestamp(3));
        assert_eq!(parse("TIMESTAMP").unwrap(), SqlType::Timestamp(6));
        assert_eq!(
            parse("TIMESTAMP(3) WITH LOCAL TIME ZONE").unwrap(),
            SqlType::TimestampLtz(3)
        );
        assert_eq!(parse("TIMESTAMP_LTZ(3)").unwrap(), SqlType::TimestampLtz(3));
        assert_eq!(parse("DOUBLE PRECISION").unwrap(), SqlType::Double);
        assert_eq!(parse("INTEGER").unwrap(), SqlType::Int);
    }

    #[test]
    fn parses_arrays_and_maps_nested_with_double_angle_brackets() {
        let ints = || Box::new(SqlType::Int);
        assert_eq!(parse("ARRAY<INT>").unwrap(), SqlType::Array(ints()));
        assert_eq!(parse("INT ARRAY").unwrap(), SqlType::Array(ints()));
        let nested = parse("MAP<STRING, ARRAY<ARRAY<INT>>>").unwrap();
        assert_eq!(nested.to_string(), "MAP<STRING, ARRAY<ARRAY<INT>>>");
        let row = parse("ROW<a ARRAY<INT>>").unwrap();
        assert_eq!(row.to_string(), "ROW<`a` ARRAY<INT>>");
        assert!(parse("ARRAY<INT>>").is_err(), "one '>' too many");
        assert!(
            parse("MAP<INT>").is_err(),
            "a MAP has a key and a value type"
        );
    }

    #[test]
    fn rejects_unknown_types_and_bad_precisions() {
        let err = parse("BLOB").unwrap_err().to_string();
        assert!(err.contains("unknown or unsupported type BLOB"), "{err}");
        assert!(err.contains("line 1, column 1"), "{err}");
        assert!(parse("DECIMAL(40, 2)").is_err());
        assert!(parse("DECIMAL(4, 6)").is_err());
    }

    #[test]
    fn prints_as_flink_does() {
        assert_eq!(SqlType::Varchar(None).to_string(), "STRING");
        assert_eq!(SqlType::Decimal(10, 2).to_string(), "DECIMAL(10, 2)");
        assert_eq!(SqlType::Timestamp(3).to_string(), "TIMESTAMP(3)");
    }

    #[test]
    fn widens_numbers_as_flink_does() {
        use SqlType::*;
        assert_eq!(Int.common_numeric(&BigInt), Some(BigInt));
        assert_eq!(Int.common_numeric(&Double), Some(Double));
        assert_eq!(Int.common_numeric(&Decimal(5, 2)), Some(Decimal(12, 2)));
        assert_eq!(
            Decimal(5, 2).common_numeric(&Decimal(10, 4)),
            Some(Decimal(10, 4))
        );
        assert_eq!(Int.common_numeric(&Varchar(None)), None);
    }
}
