//! Decimal division with Flink's result scale, rounding half up (Arrow's division keeps other
//! scales).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Decimal128Type;
use arrow_array::{Array, ArrayRef, Decimal128Array};
use arrow_schema::DataType;

use crate::error::{SqlError, SqlResult};
use crate::types::SqlType;

/// `left / right` for decimal operands, as the decimal type `ty`; NULL when either is NULL,
/// an error on division by zero or overflow.
pub fn divide(left: &ArrayRef, right: &ArrayRef, ty: &SqlType) -> SqlResult<ArrayRef> {
    let SqlType::Decimal(precision, scale) = *ty else {
        return Err(SqlError::new(format!("decimal division into {ty}")));
    };
    let (left, left_scale) = decimal_operand(left)?;
    let (right, right_scale) = decimal_operand(right)?;
    // result = left / right · 10^(scale − left_scale + right_scale), on the unscaled values.
    let shift = i32::from(scale) - i32::from(left_scale) + i32::from(right_scale);
    let quotients = (0..left.len())
        .map(|row| {
            if left.is_null(row) || right.is_null(row) {
                return Ok(None);
            }
            divide_unscaled(left.value(row), right.value(row), shift).map(Some)
        })
        .collect::<SqlResult<Decimal128Array>>()?;
    Ok(Arc::new(
        quotients.with_precision_and_scale(precision, scale)?,
    ))
}

fn decimal_operand(array: &ArrayRef) -> SqlResult<(Decimal128Array, i8)> {
    match array.data_type() {
        DataType::Decimal128(_, scale) => {
            Ok((array.as_primitive::<Decimal128Type>().clone(), *scale))
        }
        other => Err(SqlError::new(format!("decimal division of {other}"))),
    }
}

/// `numerator · 10^shift / denominator`, rounded half away from zero.
fn divide_unscaled(numerator: i128, denominator: i128, shift: i32) -> SqlResult<i128> {
    if denominator == 0 {
        return Err(SqlError::new("Division by zero"));
    }
    let overflow = || SqlError::new("decimal overflow in division");
    let (mut numerator, mut denominator) = (numerator, denominator);
    if shift >= 0 {
        numerator = numerator
            .checked_mul(10i128.checked_pow(shift as u32).ok_or_else(overflow)?)
            .ok_or_else(overflow)?;
    } else {
        denominator = denominator
            .checked_mul(10i128.checked_pow((-shift) as u32).ok_or_else(overflow)?)
            .ok_or_else(overflow)?;
    }
    let quotient = numerator / denominator;
    let remainder = numerator % denominator;
    let round_up = remainder.unsigned_abs() * 2 >= denominator.unsigned_abs();
    Ok(match (round_up, (numerator < 0) != (denominator < 0)) {
        (false, _) => quotient,
        (true, false) => quotient + 1,
        (true, true) => quotient - 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divides_with_flinks_scale_rounding_half_up() {
        // 107 / 3.0 as DECIMAL(17, 6): 35.666667 (Flink 2.3's result).
        // shift = result scale 6 - left scale 0 + right scale 1.
        assert_eq!(divide_unscaled(107, 30, 7), Ok(35_666_667));
        assert_eq!(divide_unscaled(-2, 30, 7), Ok(-666_667));
        assert_eq!(
            divide_unscaled(1, 0, 0),
            Err(SqlError::new("Division by zero"))
        );
    }
}
