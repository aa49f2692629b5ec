//! Calc: a filter and a projection evaluated on whole batches (Flink's fused `Calc` node).

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use sluice_core::{Record, UserResult};
use sluice_runtime::task::operator::{OneInputOperator, StreamOperator};
use sluice_runtime::task::output::Output;

use crate::batch::RowBatch;
use crate::error::SqlResult;
use crate::expr::bind::Scope;
use crate::expr::{Expr, as_boolean, rows, true_where};
use crate::operators::shared_exprs::{SharedExprs, shared_exprs};

/// Keeps the rows where `filter` is true and computes `projections` of them.
#[derive(Debug, Clone)]
pub struct Calc {
    /// Rows pass where this is TRUE (not FALSE or NULL).
    pub filter: Option<Expr>,
    /// The output columns.
    pub projections: Vec<Expr>,
    /// The output schema.
    pub schema: SchemaRef,
    /// How plans show it: `Calc(select=[..], where=[..])`.
    pub description: String,
    /// How plans show each output column's expression.
    pub column_texts: Vec<String>,
    /// What the filter and the projections share, computed once per batch.
    shared: Option<SharedExprs>,
}

impl Calc {
    /// A Calc keeping the rows of `input` where `filter` holds and computing `projections`,
    /// which give the columns of `output`.
    pub fn new(
        filter: Option<Expr>,
        projections: Vec<Expr>,
        input: &Scope,
        output: &Scope,
    ) -> Calc {
        let names: Vec<String> = input.columns.iter().map(|c| c.name.clone()).collect();
        let column_texts: Vec<String> = projections.iter().map(|e| e.describe(&names)).collect();
        let select: Vec<String> = column_texts
            .iter()
            .zip(&output.columns)
            .map(|(text, column)| {
                if *text == column.name || column.name.starts_with('$') {
                    text.clone()
                } else {
                    format!("{text} AS {}", column.name)
                }
            })
            .collect();
        let mut description = format!("Calc(select=[{}]", select.join(", "));
        if let Some(filter) = &filter {
            description.push_str(&format!(", where=[{}]", filter.describe(&names)));
        }
        description.push(')');
        // Computed from here on with their constants folded (the description shows them as
        // written).
        let filter = filter.map(|f| f.folded());
        let projections: Vec<Expr> = projections.iter().map(Expr::folded).collect();
        let shared = filter
            .as_ref()
            .and_then(|filter| shared_exprs(filter, &projections, input.columns.len()));
        Calc {
            filter,
            projections,
            schema: output.arrow_schema(),
            description,
            column_texts,
            shared,
        }
    }

    /// Applies the filter and projection to `batch`.
    pub fn apply(&self, batch: &RecordBatch) -> SqlResult<RecordBatch> {
        match &self.shared {
            Some(shared) => self.apply_sharing(shared, batch),
            None => self.filter_and_project(self.filter.as_ref(), &self.projections, batch),
        }
    }

    /// [`Calc::apply`] with the shared expressions computed first, as extra columns: those
    /// the filter has a guard for only where it needs them, followed by columns saying where.
    fn apply_sharing(&self, shared: &SharedExprs, batch: &RecordBatch) -> SqlResult<RecordBatch> {
        let mut values: Vec<Option<ArrayRef>> = vec![None; shared.exprs.len()];
        for (value, (expr, guard)) in values
            .iter_mut()
            .zip(shared.exprs.iter().zip(&shared.guards))
        {
            if guard.is_none() {
                *value = Some(expr.eval(batch)?);
            }
        }
        // The guards' terms read the input and the expressions computed on every row.
        let unguarded = extended(batch, &values, &[])?;
        let mut computed = Vec::new();
        for (at, guard) in shared.guards.iter().enumerate() {
            let Some(guard) = guard else { continue };
            let true_here = true_where(as_boolean(&guard.term.eval(&unguarded)?)?);
            let needed = match guard.decides_when_true {
                true => arrow_arith::boolean::not(&true_here)?,
                false => true_here,
            };
            values[at] = Some(rows::eval_where(&shared.exprs[at], batch, &needed)?);
            computed.push(Arc::new(needed) as ArrayRef);
        }
        let extended = extended(batch, &values, &computed)?;
        self.filter_and_project(Some(&shared.filter), &shared.projections, &extended)
    }

    /// The rows of `batch` where `filter` holds, as `projections` of them.
    fn filter_and_project(
        &self,
        filter: Option<&Expr>,
        projections: &[Expr],
        batch: &RecordBatch,
    ) -> SqlResult<RecordBatch> {
        let filtered;
        let input = match filter {
            Some(filter) => {
                let keep = filter.eval(batch)?;
                filtered = arrow_select::filter::filter_record_batch(batch, as_boolean(&keep)?)?;
                &filtered
            }
            None => batch,
        };
        if input.num_rows() == 0 {
            return Ok(RecordBatch::new_empty(Arc::clone(&self.schema)));
        }
        let columns = projections
            .iter()
            .map(|e| e.eval(input))
            .collect::<SqlResult<Vec<_>>>()?;
        let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(input.num_rows()));
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(&self.schema),
            columns,
            &options,
        )?)
    }
}

/// `batch` with the shared expressions' `values` (a column of NULLs where one is not
/// computed yet) and the `computed` columns after its own.
fn extended(
    batch: &RecordBatch,
    values: &[Option<ArrayRef>],
    computed: &[ArrayRef],
) -> SqlResult<RecordBatch> {
    let mut fields: Vec<_> = batch.schema().fields().iter().cloned().collect();
    let mut columns = batch.columns().to_vec();
    let rows = batch.num_rows();
    for (i, value) in values.iter().enumerate() {
        let value = value
            .clone()
            .unwrap_or_else(|| Arc::new(arrow_array::NullArray::new(rows)));
        fields.push(Arc::new(Field::new(
            format!("$shared{i}"),
            value.data_type().clone(),
            true,
        )));
        columns.push(value);
    }
    for (i, done) in computed.iter().enumerate() {
        fields.push(Arc::new(Field::new(
            format!("$computed{i}"),
            DataType::Boolean,
            false,
        )));
        columns.push(Arc::clone(done));
    }
    let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(rows));
    Ok(RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        columns,
        &options,
    )?)
}

/// The Calc operator.
pub struct CalcOperator(pub Calc);

impl StreamOperator<RowBatch, RowBatch> for CalcOperator {}

impl OneInputOperator<RowBatch, RowBatch> for CalcOperator {
    fn process_batch(
        &mut self,
        batch: &mut Vec<Record<RowBatch>>,
        out: &mut Output<RowBatch>,
    ) -> UserResult {
        map_batches(batch, out, |rows| Ok(self.0.apply(rows)?))
    }
}

/// Emits `f` of each record's rows (with the record's timestamp) when it has any: what a
/// stateless row-batch operator does with a batch of records.
pub fn map_batches(
    batch: &mut Vec<Record<RowBatch>>,
    out: &mut Output<RowBatch>,
    mut f: impl FnMut(&RecordBatch) -> UserResult<RecordBatch>,
) -> UserResult {
    for record in batch.drain(..) {
        let result = f(&record.value.0)?;
        if result.num_rows() > 0 {
            out.emit(RowBatch(result), record.timestamp);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::bind::{ScopeColumn, bind};
    use crate::expr::udf::Functions;
    use crate::types::SqlType;
    use arrow_array::{ArrayRef, StringArray};

    /// The SQL expression `sql` bound over `input`.
    fn parsed(sql: &str, input: &Scope) -> Expr {
        let expr = sqlparser::parser::Parser::new(&crate::dialect::FlinkDialect)
            .try_with_sql(sql)
            .unwrap()
            .parse_expr()
            .unwrap();
        bind(&expr, input, &Functions::default()).unwrap()
    }

    #[test]
    fn shared_expressions_give_what_computing_them_twice_gives() {
        let input = Scope {
            columns: vec![ScopeColumn::new("s", SqlType::Varchar(None), true)],
        };
        let parse = |sql: &str| parsed(sql, &input);
        let filter = parse("LOWER(s) <> 'b'");
        let projections = vec![
            parse("CASE WHEN LOWER(s) = 'a' THEN 'first' ELSE LOWER(s) END"),
            parse("UPPER(s)"),
        ];
        let output = Scope {
            columns: vec![
                ScopeColumn::new("x", SqlType::Varchar(None), true),
                ScopeColumn::new("y", SqlType::Varchar(None), true),
            ],
        };
        let sharing = Calc::new(Some(filter), projections, &input, &output);
        assert_eq!(sharing.shared.as_ref().map(|s| s.exprs.len()), Some(1));
        let mut plain = sharing.clone();
        plain.shared = None;
        let batch = RecordBatch::try_from_iter([(
            "s",
            Arc::new(StringArray::from(vec![
                Some("A"),
                Some("B"),
                None,
                Some("Cd"),
            ])) as ArrayRef,
        )])
        .unwrap();
        let shared = sharing.apply(&batch).unwrap();
        assert_eq!(shared, plain.apply(&batch).unwrap());
        assert_eq!(shared.num_rows(), 2);
    }

    #[test]
    fn an_expression_computed_only_where_the_filter_needs_it_gives_the_same_rows() {
        let input = Scope {
            columns: vec![
                ScopeColumn::new("channel", SqlType::Varchar(None), true),
                ScopeColumn::new("url", SqlType::Varchar(None), true),
            ],
        };
        let parse = |sql: &str| parsed(sql, &input);
        let output = Scope {
            columns: vec![
                ScopeColumn::new("x", SqlType::Varchar(None), true),
                ScopeColumn::new("y", SqlType::Varchar(None), true),
            ],
        };
        let batch = RecordBatch::try_from_iter([
            (
                "channel",
                Arc::new(StringArray::from(vec![
                    Some("A"),
                    Some("b"),
                    Some("B"),
                    Some("c"),
                    Some("c"),
                    None,
                    None,
                ])) as ArrayRef,
            ),
            (
                "url",
                Arc::new(StringArray::from(vec![
                    "x?id=1", "no", "id=7", "id=3", "none", "id=4", "none",
                ])),
            ),
        ])
        .unwrap();
        let id = "REGEXP_EXTRACT(url, 'id=([0-9]+)', 1)";
        for (filter, kept) in [
            // Decided without the expression where the channel is a or b.
            (
                format!("{id} IS NOT NULL OR LOWER(channel) = 'a' OR LOWER(channel) = 'b'"),
                5,
            ),
            // Decided without it where the channel is not c.
            (format!("{id} IS NOT NULL AND LOWER(channel) = 'c'"), 1),
        ] {
            let projections = vec![
                parse(&format!(
                    "CASE WHEN LOWER(channel) = 'a' THEN 'first' ELSE {id} END"
                )),
                parse(id),
            ];
            let sharing = Calc::new(Some(parse(&filter)), projections, &input, &output);
            let shared = sharing.shared.as_ref().unwrap();
            let guarded = shared.exprs.iter().zip(&shared.guards);
            let guarded: Vec<String> = guarded
                .filter(|(_, guard)| guard.is_some())
                .map(|(e, _)| e.describe(&["channel".into(), "url".into()]))
                .collect();
            assert_eq!(guarded, [id], "{filter}");
            let mut plain = sharing.clone();
            plain.shared = None;
            let result = sharing.apply(&batch).unwrap();
            assert_eq!(result, plain.apply(&batch).unwrap(), "{filter}");
            assert_eq!(result.num_rows(), kept, "{filter}");
        }
    }
}
