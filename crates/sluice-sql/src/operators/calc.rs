//! Calc: a filter and a projection evaluated on whole batches (Flink's fused `Calc` node).

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{Field, Schema, SchemaRef};
use sluice_core::{Record, UserResult};
use sluice_runtime::task::operator::{OneInputOperator, StreamOperator};
use sluice_runtime::task::output::Output;

use crate::batch::RowBatch;
use crate::error::SqlResult;
use crate::expr::bind::Scope;
use crate::expr::{Expr, as_boolean};
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

    /// [`Calc::apply`] with the shared expressions computed first, as extra columns.
    fn apply_sharing(&self, shared: &SharedExprs, batch: &RecordBatch) -> SqlResult<RecordBatch> {
        let mut fields: Vec<_> = batch.schema().fields().iter().cloned().collect();
        let mut columns = batch.columns().to_vec();
        for (i, expr) in shared.exprs.iter().enumerate() {
            let values = expr.eval(batch)?;
            let name = format!("$shared{i}");
            fields.push(Arc::new(Field::new(name, values.data_type().clone(), true)));
            columns.push(values);
        }
        let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        let extended =
            RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), columns, &options)?;
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

    #[test]
    fn shared_expressions_give_what_computing_them_twice_gives() {
        let input = Scope {
            columns: vec![ScopeColumn::new("s", SqlType::Varchar(None), true)],
        };
        let parse = |sql: &str| {
            let expr = sqlparser::parser::Parser::new(&crate::dialect::FlinkDialect)
                .try_with_sql(sql)
                .unwrap()
                .parse_expr()
                .unwrap();
            bind(&expr, &input, &Functions::default()).unwrap()
        };
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
}
