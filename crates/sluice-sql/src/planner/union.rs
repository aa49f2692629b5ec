//! `UNION ALL`: the rows of both inputs, their columns brought to common types (named as the
//! left input names them, as in Flink).

use super::{Planned, cast_columns};
use crate::error::{SqlError, SqlResult};
use crate::expr::bind::{Scope, ScopeColumn};
use crate::types::SqlType;

/// The union of `left` and `right`.
pub fn union_all(left: Planned, right: Planned) -> SqlResult<Planned> {
    let (l, r) = (&left.scope.columns, &right.scope.columns);
    if l.len() != r.len() {
        return Err(SqlError::new(format!(
            "UNION ALL of {} columns with {} columns",
            l.len(),
            r.len()
        )));
    }
    let mut scope = Scope::default();
    for (a, b) in l.iter().zip(r) {
        let ty = common(&a.ty, &b.ty).ok_or_else(|| {
            SqlError::new(format!(
                "UNION ALL of column '{}' ({}) with '{}' ({})",
                a.name, a.ty, b.name, b.ty
            ))
        })?;
        let mut column = ScopeColumn::new(&a.name, ty, a.nullable || b.nullable);
        column.rowtime = a.rowtime && b.rowtime;
        scope.columns.push(column);
    }
    let left = cast_columns(left, &scope);
    let right = cast_columns(right, &scope);
    Ok(Planned::new(left.union([right]), scope))
}

/// The type both sides' values become.
pub(super) fn common(a: &SqlType, b: &SqlType) -> Option<SqlType> {
    if a == b {
        return Some(a.clone());
    }
    if a.is_string() && b.is_string() {
        return Some(SqlType::Varchar(None));
    }
    if a.is_timestamp() && b.is_timestamp() {
        return Some(a.clone());
    }
    a.common_numeric(b)
}
