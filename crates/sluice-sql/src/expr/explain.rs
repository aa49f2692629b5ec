//! Expressions as a plan shows them, in the prefix form of Flink's plans: `>(price, 10)`,
//! `CAST(auction AS VARCHAR)`, `UPPER(channel)`, input columns by name.

use arrow_array::Array;

use super::{BinaryOp, Expr, ExprKind, Function};
use crate::expr::functions::TimeField;
use crate::types::SqlType;

impl Expr {
    /// The expression over input columns called `names`.
    pub fn describe(&self, names: &[String]) -> String {
        let all = |args: &[Expr]| {
            args.iter()
                .map(|a| a.describe(names))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match &self.kind {
            ExprKind::Column(index) => names
                .get(*index)
                .cloned()
                .unwrap_or_else(|| format!("${index}")),
            ExprKind::Literal(value) => literal(value.as_ref(), &self.ty),
            ExprKind::Binary(op, left, right) => format!(
                "{}({}, {})",
                operator(*op),
                left.describe(names),
                right.describe(names)
            ),
            ExprKind::Not(inner) => format!("NOT({})", inner.describe(names)),
            ExprKind::Negate(inner) => format!("-({})", inner.describe(names)),
            ExprKind::IsNull { expr, negated } => {
                let not = if *negated { "NOT " } else { "" };
                format!("IS {not}NULL({})", expr.describe(names))
            }
            ExprKind::Cast(inner) => format!("CAST({} AS {})", inner.describe(names), self.ty),
            ExprKind::Case {
                branches,
                otherwise,
            } => {
                let mut parts: Vec<String> = branches
                    .iter()
                    .flat_map(|(when, then)| [when.describe(names), then.describe(names)])
                    .collect();
                parts.push(
                    otherwise
                        .as_ref()
                        .map_or("null".into(), |e| e.describe(names)),
                );
                format!("CASE({})", parts.join(", "))
            }
            ExprKind::Call(function, args) => {
                format!("{}({})", function_name(*function), all(args))
            }
            ExprKind::Udf(udf, args) => format!("{}({})", udf.name, all(args)),
            ExprKind::Partial { expr, .. } => expr.describe(names),
            ExprKind::Field(row, index) => {
                let field = match &row.ty {
                    SqlType::Row(fields) => fields.get(*index).map(|f| f.name.clone()),
                    _ => None,
                };
                format!(
                    "{}.{}",
                    row.describe(names),
                    field.unwrap_or_else(|| index.to_string())
                )
            }
        }
    }
}

fn operator(op: BinaryOp) -> &'static str {
    match op {
        BinaryOp::Plus => "+",
        BinaryOp::Minus => "-",
        BinaryOp::Multiply => "*",
        BinaryOp::Divide => "/",
        BinaryOp::Modulo => "MOD",
        BinaryOp::Eq => "=",
        BinaryOp::NotEq => "<>",
        BinaryOp::Lt => "<",
        BinaryOp::LtEq => "<=",
        BinaryOp::Gt => ">",
        BinaryOp::GtEq => ">=",
        BinaryOp::And => "AND",
        BinaryOp::Or => "OR",
    }
}

/// A function's SQL name: `CHAR_LENGTH` for `CharLength`.
fn function_name(function: Function) -> String {
    if let Function::TimeField(field) = function {
        return match field {
            TimeField::Year => "YEAR",
            TimeField::Month => "MONTH",
            TimeField::Day => "DAYOFMONTH",
            TimeField::Hour => "HOUR",
            TimeField::Minute => "MINUTE",
            TimeField::Second => "SECOND",
        }
        .into();
    }
    // Flink's names of the value constructors and of `a[i]`.
    match function {
        Function::ArrayOf => return "ARRAY".into(),
        Function::MapOf => return "MAP".into(),
        Function::Element => return "ITEM".into(),
        _ => {}
    }
    let mut name = String::new();
    for (i, c) in format!("{function:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
}

/// A constant: text quoted, NULL as `null`, others as Arrow shows them.
fn literal(value: &dyn Array, ty: &SqlType) -> String {
    if value.is_null(0) {
        return "null".into();
    }
    let text = arrow_cast::display::ArrayFormatter::try_new(value, &Default::default())
        .map(|f| f.value(0).to_string())
        .unwrap_or_else(|_| "?".into());
    if ty.is_string() {
        format!("'{}'", text.replace('\'', "''"))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use crate::expr::bind::{Scope, bind};
    use crate::expr::udf::Functions;
    use crate::types::{SqlField, SqlType};

    fn described(sql: &str) -> String {
        let scope = Scope::of_fields(&[
            SqlField::new("price", SqlType::Decimal(10, 2)),
            SqlField::new("channel", SqlType::Varchar(None)),
            SqlField::new("auction", SqlType::BigInt),
        ]);
        let dialect = crate::dialect::FlinkDialect;
        let parsed = sqlparser::parser::Parser::new(&dialect)
            .try_with_sql(sql)
            .and_then(|mut parser| parser.parse_expr())
            .unwrap();
        let expr = bind(&parsed, &scope, &Functions::default()).unwrap();
        let names: Vec<String> = scope.columns.iter().map(|c| c.name.clone()).collect();
        expr.describe(&names)
    }

    #[test]
    fn expressions_read_as_in_flinks_plans() {
        assert_eq!(
            described("price > 10 AND channel = 'it''s'"),
            "AND(>(CAST(price AS DECIMAL(12, 2)), CAST(10 AS DECIMAL(12, 2))), =(channel, 'it''s'))"
        );
        assert_eq!(described("UPPER(channel)"), "UPPER(channel)");
        assert_eq!(
            described("CHAR_LENGTH(channel) IS NULL"),
            "IS NULL(CHAR_LENGTH(channel))"
        );
        assert_eq!(
            described("CASE WHEN auction > 1 THEN 'a' END"),
            "CASE(>(auction, CAST(1 AS BIGINT)), 'a', null)"
        );
    }
}
