//! Expressions a Calc's filter and projections have in common — Nexmark q21's
//! `REGEXP_EXTRACT(url, ..)` and `LOWER(channel)` in its `WHERE` and its `CASE` — computed once
//! per batch, before the filter, as columns appended to the input that the filter and the
//! projections read instead (as Flink's generated code reuses a deterministic expression).
//! Where the filter is `a OR b` (or `a AND b`) and only `a` reads one, it is computed only on
//! the rows `b` leaves undecided — q21's regular expression on the rows whose channel is not
//! one of the four named — and a projection computes it on the others it reaches.

use crate::expr::{BinaryOp, Expr, ExprKind, Function};

/// The shared expressions of a filter and its projections, and both reading them as columns.
#[derive(Debug, Clone)]
pub struct SharedExprs {
    /// The expressions computed once, over the input's columns; the `i`-th becomes input
    /// column `inputs + i`.
    pub exprs: Vec<Expr>,
    /// For each, where the filter is decided without it, if anywhere: it is then computed
    /// only on the other rows, and the projections compute it where they reach one of them.
    pub guards: Vec<Option<Guard>>,
    /// The filter, reading them.
    pub filter: Expr,
    /// The projections, reading them.
    pub projections: Vec<Expr>,
}

/// Where a filter `a OR b` (or `a AND b`) is decided without a shared expression that only
/// `a` reads: where `b` is true (not true).
#[derive(Debug, Clone)]
pub struct Guard {
    /// `b`, over the input's columns and the shared expressions computed on every row.
    pub term: Expr,
    /// Whether the filter is decided where `term` is true (an `OR`) or where it is not (an
    /// `AND`).
    pub decides_when_true: bool,
    /// The input column saying on which rows the expression was computed.
    pub computed: usize,
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
    let position = |e: &Expr| digests.iter().position(|d| *d == digest(e));
    let as_column = |e: &Expr| {
        let at = position(e)?;
        Some(Expr::column(
            inputs + at,
            exprs[at].ty.clone(),
            exprs[at].nullable,
        ))
    };
    let guards = guards(
        filter,
        &exprs,
        inputs,
        &|e| e.replaced(&as_column),
        &|e, at| {
            let mut found = false;
            costly_subtrees(e, &mut |sub| found |= position(sub) == Some(at));
            found
        },
    );
    let read_by_projections = |e: &Expr| {
        let at = position(e)?;
        Some(match &guards[at] {
            Some(guard) => Expr {
                kind: ExprKind::Partial {
                    values: inputs + at,
                    computed: guard.computed,
                    expr: Box::new(exprs[at].clone()),
                },
                ty: exprs[at].ty.clone(),
                nullable: true,
            },
            None => as_column(e)?,
        })
    };
    Some(SharedExprs {
        filter: filter.replaced(&as_column),
        projections: projections
            .iter()
            .map(|p| p.replaced(&read_by_projections))
            .collect(),
        guards,
        exprs,
    })
}

/// The guards of the shared `exprs` in `filter` (over `inputs` columns; `as_columns` reads
/// the shared expressions in an expression as columns, `reads(e, i)` says whether `e` reads
/// the `i`-th): the largest expressions guarded first, none by a term that reads a guarded
/// one. Their `computed` columns follow the shared ones.
fn guards(
    filter: &Expr,
    exprs: &[Expr],
    inputs: usize,
    as_columns: &impl Fn(&Expr) -> Expr,
    reads: &impl Fn(&Expr, usize) -> bool,
) -> Vec<Option<Guard>> {
    let mut terms: Vec<Option<(Expr, bool, Vec<bool>)>> = vec![None; exprs.len()];
    let ExprKind::Binary(op @ (BinaryOp::Or | BinaryOp::And), left, right) = &filter.kind else {
        return vec![None; exprs.len()];
    };
    let mut by_size: Vec<usize> = (0..exprs.len()).collect();
    by_size.sort_by_key(|&at| std::cmp::Reverse(size(&exprs[at])));
    for at in by_size {
        let term = match (reads(left, at), reads(right, at)) {
            (true, false) => right,
            (false, true) => left,
            _ => continue,
        };
        // Flink computes `a` on every row but where `b`, on its left, makes an `OR` true (it
        // still computes it where `b` is NULL in an `AND`): skipped on other rows, `a` must
        // be one that fails on none.
        let as_flink = std::ptr::eq(term, left) && *op == BinaryOp::Or;
        if !as_flink && !exprs[at].cannot_fail() {
            continue;
        }
        let term = as_columns(term);
        let mut read = vec![false; inputs + exprs.len()];
        term.mark_columns(&mut read);
        let reads_guarded =
            (0..exprs.len()).any(|other| terms[other].is_some() && read[inputs + other]);
        let guarded_reads = terms
            .iter()
            .flatten()
            .any(|(_, _, other_reads)| other_reads[inputs + at]);
        if !reads_guarded && !guarded_reads {
            terms[at] = Some((term, *op == BinaryOp::Or, read));
        }
    }
    let mut computed = inputs + exprs.len();
    terms
        .into_iter()
        .map(|term| {
            let (term, decides_when_true, _) = term?;
            computed += 1;
            Some(Guard {
                term,
                decides_when_true,
                computed: computed - 1,
            })
        })
        .collect()
}

/// How many nodes `e` has.
fn size(e: &Expr) -> usize {
    1 + e.children().into_iter().map(size).sum::<usize>()
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
    fn the_largest_expression_the_filter_can_decide_without_is_guarded() {
        let (channel, url) = (
            Expr::column(0, SqlType::Varchar(None), true),
            Expr::column(1, SqlType::Varchar(None), true),
        );
        let lower = call(Function::Lower, vec![channel]);
        let larger = call(Function::Upper, vec![call(Function::Trim, vec![url])]);
        let or = |left: Expr, right: Expr| Expr {
            kind: ExprKind::Binary(BinaryOp::Or, Box::new(left), Box::new(right)),
            ty: SqlType::Boolean,
            nullable: true,
        };
        // Each side reads one of the two: only one can be guarded by the other.
        let filter = or(is_null(larger.clone()), is_null(lower.clone()));
        let shared = shared_exprs(&filter, &[lower, larger], 2).unwrap();
        let names = ["channel", "url", "$lower", "$larger", "$computed"].map(String::from);
        let guards: Vec<Option<(String, bool, usize)>> = shared
            .guards
            .iter()
            .map(|g| {
                g.as_ref()
                    .map(|g| (g.term.describe(&names), g.decides_when_true, g.computed))
            })
            .collect();
        assert_eq!(
            guards,
            [None, Some(("IS NOT NULL($lower)".into(), true, 4))]
        );
        let projected: Vec<String> = shared
            .projections
            .iter()
            .map(|p| p.describe(&names))
            .collect();
        assert_eq!(projected, ["$lower", "UPPER(TRIM(url))"]);
        assert!(matches!(
            shared.projections[1].kind,
            ExprKind::Partial {
                values: 3,
                computed: 4,
                ..
            }
        ));
        assert_eq!(
            shared.filter.describe(&names),
            "OR(IS NOT NULL($larger), IS NOT NULL($lower))"
        );
    }

    #[test]
    fn one_that_may_fail_is_computed_on_fewer_rows_only_where_flink_would_skip_it() {
        let (number, text) = (
            Expr::column(0, SqlType::Varchar(None), true),
            Expr::column(1, SqlType::Varchar(None), true),
        );
        let as_int = Expr {
            kind: ExprKind::Cast(Box::new(number)),
            ty: SqlType::Int,
            nullable: true,
        };
        let empty = is_null(text);
        let or = |left: &Expr, right: &Expr| Expr {
            kind: ExprKind::Binary(
                BinaryOp::Or,
                Box::new(left.clone()),
                Box::new(right.clone()),
            ),
            ty: SqlType::Boolean,
            nullable: true,
        };
        let guarded = |filter: Expr| {
            let shared = shared_exprs(&filter, std::slice::from_ref(&as_int), 2).unwrap();
            shared.guards[0].is_some()
        };
        // Flink casts every row where the cast comes first, and skips it where the other
        // side, first, decides.
        assert!(!guarded(or(&is_null(as_int.clone()), &empty)));
        assert!(guarded(or(&empty, &is_null(as_int.clone()))));
    }

    #[test]
    fn nothing_is_shared_without_a_common_call() {
        let text = Expr::column(0, SqlType::Varchar(None), true);
        let filter = is_null(text.clone());
        assert!(shared_exprs(&filter, &[call(Function::Lower, vec![text])], 1).is_none());
    }
}
