//! Flink's built-in scalar functions: resolution by name with their result types, and their
//! evaluation over whole columns.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, Int32Array, StringArray};

use crate::error::{SqlError, SqlResult};
use crate::types::SqlType;

/// A scalar function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `UPPER(s)`.
    Upper,
    /// `LOWER(s)`.
    Lower,
    /// `CHAR_LENGTH(s)` / `CHARACTER_LENGTH(s)`.
    CharLength,
    /// `CONCAT(s, ...)`: NULL if any argument is.
    Concat,
    /// `ABS(n)`.
    Abs,
}

impl Function {
    /// The function called `name` (any case), or `None`.
    pub fn named(name: &str) -> Option<Function> {
        Some(match name.to_ascii_uppercase().as_str() {
            "UPPER" => Function::Upper,
            "LOWER" => Function::Lower,
            "CHAR_LENGTH" | "CHARACTER_LENGTH" => Function::CharLength,
            "CONCAT" => Function::Concat,
            "ABS" => Function::Abs,
            _ => return None,
        })
    }

    /// The result type for arguments of `types`, or why they do not fit.
    pub fn result_type(&self, types: &[SqlType]) -> SqlResult<SqlType> {
        let strings = types.iter().all(SqlType::is_string);
        match self {
            Function::Upper | Function::Lower if types.len() == 1 && strings => {
                Ok(SqlType::Varchar(None))
            }
            Function::CharLength if types.len() == 1 && strings => Ok(SqlType::Int),
            Function::Concat if !types.is_empty() && strings => Ok(SqlType::Varchar(None)),
            Function::Abs if types.len() == 1 && types[0].is_numeric() => Ok(types[0].clone()),
            _ => Err(SqlError::new(format!(
                "cannot apply {self:?} to arguments of types ({})",
                types
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// Evaluates the function on argument columns of `rows` rows.
    pub fn eval(&self, args: &[ArrayRef], _ty: &SqlType, rows: usize) -> SqlResult<ArrayRef> {
        let strings = |i: usize| args[i].as_string::<i32>();
        Ok(match self {
            Function::Upper => map_strings(strings(0), str::to_uppercase),
            Function::Lower => map_strings(strings(0), str::to_lowercase),
            Function::CharLength => Arc::new(
                strings(0)
                    .iter()
                    .map(|s| s.map(|s| s.chars().count() as i32))
                    .collect::<Int32Array>(),
            ),
            Function::Concat => {
                let columns: Vec<_> = (0..args.len()).map(strings).collect();
                let mut joined = String::new();
                Arc::new(
                    (0..rows)
                        .map(|row| {
                            joined.clear();
                            for column in &columns {
                                if column.is_null(row) {
                                    return None;
                                }
                                joined.push_str(column.value(row));
                            }
                            Some(joined.clone())
                        })
                        .collect::<StringArray>(),
                )
            }
            Function::Abs => arrow_arith_abs(&args[0])?,
        })
    }
}

fn map_strings(strings: &arrow_array::StringArray, f: impl Fn(&str) -> String) -> ArrayRef {
    Arc::new(strings.iter().map(|s| s.map(&f)).collect::<StringArray>())
}

/// `ABS`: negates the negative values (`x < 0 ? -x : x`).
fn arrow_arith_abs(values: &ArrayRef) -> SqlResult<ArrayRef> {
    let zero = arrow_cast::cast(
        &(Arc::new(Int32Array::from(vec![0])) as ArrayRef),
        values.data_type(),
    )?;
    let negative = arrow_ord::cmp::lt(values, &arrow_array::Scalar::new(zero))?;
    let negated = arrow_arith::numeric::neg(values)?;
    Ok(arrow_select::zip::zip(&negative, &negated, values)?)
}
