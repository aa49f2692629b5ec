//! Expressions a Calc's filter and projections have in common — Nexmark q21's
//! `REGEXP_EXTRACT(url, ..)` and `LOWER(channel)` in its `WHERE` and its `CASE` — computed once
//! per batch, before the filter, as columns appended to the input that the filter and the
//! projections read instead (as Flink's generated code reuses a deterministic expression).

use crate::expr::{Expr, ExprKind, Function};

/// The shared expressions of a filter and its projections, and both reading them as columns.
#[derive(Debug, Clone)]
pub struct SharedExprs {
    /// The expressions computed once, over the input's columns; the `i`-th becomes input
    /// column `inputs + i`.
    pub exprs: Vec<Expr>,
    /// The filter, reading them.
    pub filter: Expr,
    /// The projections, reading them.
    pub projections: Vec<Expr>,
}

/// What `filter` and `projections` (over `inputs` columns) share, if anything worth sharing.
pub fn shared_exprs(filter: &Expr, projections: &[Expr], inputs: usize) -> Option<SharedExprs> {
    let names: Vec<String> = (0..inputs).map(|i| format!("${i}")).collect();
    let digest = |e: &Expr| e.describe(&names);
    let mut in_filter = Vec::new();
    costly_subtrees(filter, &mut |e| in_filter.push(digest(e)));
    let mut exprs: Vec<Expr> = Vec::new();
    let mut digests: Vec<String> = Vec::new();
    for projection in projections {
        outermost(projection, &mut |e| {
            let d = digest(e);
            let shared = in_filter.contains(&d);
            if shared && !digests.contains(&d) {
                digests.push(d);
                exprs.push(e.clone());
            }
            shared
        });
    }
    if exprs.is_empty() {
        return None;
    }
    let replace = |e: &Expr| {
        let at = digests.iter().position(|d| *d == digest(e))?;
        let shared = &exprs[at];
        Some(Expr::column(
            inputs + at,
            shared.ty.clone(),
            shared.nullable,
        ))
    };
    Some(SharedExprs {
        filter: filter.replaced(&replace),
        projections: projections.iter().map(|p| p.replaced(&replace)).collect(),
        exprs: exprs.clone(),
    })
}

/// Whether computing `e` costs more than reading a column: a function call, a `CASE` or a
/// cast — not `PROCTIME()`, whose value is the moment it is read, nor a user's function, which
/// may not give the same result twice.
fn is_costly(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Call(Function::Proctime, _) => false,
        ExprKind::Call(..) | ExprKind::Case { .. } | ExprKind::Cast(_) => {
            !contains_udf_or_proctime(e)
        }
        _ => false,
    }
}

fn contains_udf_or_proctime(e: &Expr) -> bool {
    matches!(
        e.kind,
        ExprKind::Udf(..) | ExprKind::Call(Function::Proctime, _)
    ) || e.children().into_iter().any(contains_udf_or_proctime)
}

/// Calls `found` with every costly subexpression of `e`.
fn costly_subtrees(e: &Expr, found: &mut impl FnMut(&Expr)) {
    if is_costly(e) {
        found(e);
    }
    e.children()
        .into_iter()
        .for_each(|child| costly_subtrees(child, found));
}

/// Calls `take` with the costly subexpressions of `e`, outermost first, not looking inside
/// one it took.
fn outermost(e: &Expr, take: &mut impl FnMut(&Expr) -> bool) {
    if is_costly(e) && take(e) {
        return;
    }
    e.children()
        .into_iter()
        .for_each(|child| outermost(child, take));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::SqlType;

    fn call(function: Function, args: Vec<Expr>) -> Expr {
        Expr {
            kind: ExprKind::Call(function, args),
            ty: SqlType::Varchar(None),
            nullable: true,
        }
    }

    fn is_null(e: Expr) -> Expr {
        Expr {
            kind: ExprKind::IsNull {
                expr: Box::new(e),
                negated: true,
            },
            ty: SqlType::Boolean,
            nullable: false,
        }
    }

    #[test]
    fn a_call_in_both_is_computed_once_and_read_as_a_column() {
        let text = Expr::column(1, SqlType::Varchar(None), true);
        let lower = call(Function::Lower, vec![text.clone()]);
        let upper = call(Function::Upper, vec![text]);
        let filter = is_null(lower.clone());
        let projections = vec![Expr::column(0, SqlType::Int, false), lower, upper];
        let shared = shared_exprs(&filter, &projections, 2).unwrap();
        assert_eq!(
            shared.exprs.len(),
            1,
            "LOWER only: UPPER is not in the filter"
        );
        let names = ["a", "s", "$shared"].map(String::from);
        assert_eq!(shared.filter.describe(&names), "IS NOT NULL($shared)");
        let projected: Vec<String> = shared
            .projections
            .iter()
            .map(|p| p.describe(&names))
            .collect();
        assert_eq!(projected, ["a", "$shared", "UPPER(s)"]);
    }

    #[test]
    fn nothing_is_shared_without_a_common_call() {
        let text = Expr::column(0, SqlType::Varchar(None), true);
        let filter = is_null(text.clone());
        assert!(shared_exprs(&filter, &[call(Function::Lower, vec![text])], 1).is_none());
    }
}
