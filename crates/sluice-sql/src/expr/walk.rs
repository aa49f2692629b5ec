//! Walking an expression's tree: the columns it reads, its subexpressions, and a copy with
//! some of them replaced.

use super::{Expr, ExprKind};

impl Expr {
    /// The expressions this one is made of, in order.
    pub fn children(&self) -> Vec<&Expr> {
        match &self.kind {
            ExprKind::Column(_) | ExprKind::Literal(_) => Vec::new(),
            ExprKind::Binary(_, left, right) => vec![left, right],
            ExprKind::Not(inner)
            | ExprKind::Negate(inner)
            | ExprKind::Cast(inner)
            | ExprKind::Field(inner, _)
            | ExprKind::Partial { expr: inner, .. }
            | ExprKind::IsNull { expr: inner, .. } => vec![inner],
            ExprKind::Case {
                branches,
                otherwise,
            } => branches
                .iter()
                .flat_map(|(condition, result)| [condition, result])
                .chain(otherwise.as_deref())
                .collect(),
            ExprKind::Call(_, args) | ExprKind::Udf(_, args) => args.iter().collect(),
        }
    }

    /// Sets `read[i]` for each input column `i` the expression reads.
    pub fn mark_columns(&self, read: &mut [bool]) {
        let columns = match self.kind {
            ExprKind::Column(index) => vec![index],
            ExprKind::Partial {
                values, computed, ..
            } => vec![values, computed],
            _ => Vec::new(),
        };
        for index in columns {
            if let Some(slot) = read.get_mut(index) {
                *slot = true;
            }
        }
        self.children()
            .into_iter()
            .for_each(|child| child.mark_columns(read));
    }

    /// A copy where each outermost subexpression that `replace` maps is replaced by what it
    /// gives.
    pub fn replaced(&self, replace: &impl Fn(&Expr) -> Option<Expr>) -> Expr {
        if let Some(replacement) = replace(self) {
            return replacement;
        }
        let again = |e: &Expr| Box::new(e.replaced(replace));
        let kind = match &self.kind {
            ExprKind::Column(_) | ExprKind::Literal(_) => self.kind.clone(),
            ExprKind::Binary(op, left, right) => ExprKind::Binary(*op, again(left), again(right)),
            ExprKind::Not(inner) => ExprKind::Not(again(inner)),
            ExprKind::Negate(inner) => ExprKind::Negate(again(inner)),
            ExprKind::Cast(inner) => ExprKind::Cast(again(inner)),
            ExprKind::Field(inner, index) => ExprKind::Field(again(inner), *index),
            ExprKind::Partial {
                values,
                computed,
                expr,
            } => ExprKind::Partial {
                values: *values,
                computed: *computed,
                expr: again(expr),
            },
            ExprKind::IsNull { expr, negated } => ExprKind::IsNull {
                expr: again(expr),
                negated: *negated,
            },
            ExprKind::Case {
                branches,
                otherwise,
            } => ExprKind::Case {
                branches: branches
                    .iter()
                    .map(|(c, r)| (c.replaced(replace), r.replaced(replace)))
                    .collect(),
                otherwise: otherwise.as_deref().map(again),
            },
            ExprKind::Call(function, args) => ExprKind::Call(
                *function,
                args.iter().map(|a| a.replaced(replace)).collect(),
            ),
            ExprKind::Udf(udf, args) => ExprKind::Udf(
                udf.clone(),
                args.iter().map(|a| a.replaced(replace)).collect(),
            ),
        };
        Expr {
            kind,
            ty: self.ty.clone(),
            nullable: self.nullable,
        }
    }
}
