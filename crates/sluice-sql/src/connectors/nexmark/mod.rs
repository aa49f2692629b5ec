//! The `nexmark` connector: the Nexmark benchmark's stream of people, auctions and bids as a
//! table, with the Nexmark Flink connector's schema (`event_type` and one `ROW` column per kind
//! of event) and options (`first-event.rate`, `events.num`, `person.proportion`,
//! `bid.hot-ratio.auctions`, `base-time`, ...). Unlike that connector's, its events are
//! deterministic: the same options and `seed` give the same events at any parallelism.

mod generator;
mod java_random;
mod source;

use std::collections::BTreeMap;

pub use source::{NexmarkReader, NexmarkSource, NexmarkSplit};

use crate::error::{SqlError, SqlResult};
use crate::types::{SqlField, SqlType, arrow_schema};
use generator::GeneratorConfig;

/// The options the connector reads, besides `connector`.
const OPTIONS: &[&str] = &[
    "first-event.rate",
    "next-event.rate",
    "rate.shape",
    "rate.period",
    "rate.limited",
    "max-emit-speed",
    "events.num",
    "base-time",
    "seed",
    "person.proportion",
    "auction.proportion",
    "bid.proportion",
    "person.avg-size",
    "auction.avg-size",
    "bid.avg-size",
    "bid.hot-ratio.auctions",
    "bid.hot-ratio.bidders",
    "auction.hot-ratio.sellers",
];

impl NexmarkSource {
    /// The source of table `table` with physical columns `fields` and `options`; `now` (epoch
    /// milliseconds) is the event time of the first event when `base-time` is 0 or absent.
    pub fn new(
        table: &str,
        fields: &[SqlField],
        options: &BTreeMap<String, String>,
        now: i64,
    ) -> SqlResult<NexmarkSource> {
        check_schema(table, fields)?;
        if let Some(unknown) = options
            .keys()
            .find(|k| *k != "connector" && !OPTIONS.contains(&k.as_str()))
        {
            return Err(SqlError::new(format!(
                "table '{table}': unsupported nexmark option '{unknown}' (supported: {})",
                OPTIONS.join(", ")
            )));
        }
        let option = |key: &str, default: i64| -> SqlResult<i64> {
            match options.get(key) {
                None => Ok(default),
                Some(text) => parse_number(text).ok_or_else(|| {
                    SqlError::new(format!(
                        "table '{table}': '{key}' must be a number, not '{text}'"
                    ))
                }),
            }
        };
        let flag = |key: &str, default: bool| -> SqlResult<bool> {
            match options.get(key).map(|v| v.to_ascii_lowercase()) {
                None => Ok(default),
                Some(v) if v == "true" => Ok(true),
                Some(v) if v == "false" => Ok(false),
                Some(v) => Err(SqlError::new(format!(
                    "table '{table}': '{key}' must be true or false, not '{v}'"
                ))),
            }
        };
        let positive = |key: &str, default: i64| -> SqlResult<i64> {
            let value = option(key, default)?;
            if value < 1 {
                return Err(SqlError::new(format!(
                    "table '{table}': '{key}' must be at least 1, not {value}"
                )));
            }
            Ok(value)
        };
        let proportions = [
            option("person.proportion", 1)?,
            option("auction.proportion", 3)?,
            option("bid.proportion", 46)?,
        ];
        if proportions.iter().any(|p| *p < 0) || proportions.iter().sum::<i64>() < 1 {
            return Err(SqlError::new(format!(
                "table '{table}': the person, auction and bid proportions must not be negative and not all 0"
            )));
        }
        let rate = positive("first-event.rate", 10_000)?;
        positive("next-event.rate", 10_000)?;
        let size = |key: &str, default: i64| -> SqlResult<i32> {
            let text = options.get(key).map(String::as_str);
            match text.map(parse_memory_size) {
                None => Ok(default as i32),
                Some(Some(bytes)) => Ok(bytes),
                Some(None) => Err(SqlError::new(format!(
                    "table '{table}': '{key}' must be a size such as '100b' or '1kb', not '{}'",
                    text.unwrap_or_default()
                ))),
            }
        };
        let events = option("events.num", 0)?;
        let base_time = option("base-time", 0)?;
        let generator = GeneratorConfig {
            person_proportion: proportions[0],
            auction_proportion: proportions[1],
            bid_proportion: proportions[2],
            hot_auction_ratio: positive("bid.hot-ratio.auctions", 2)? as i32,
            hot_bidders_ratio: positive("bid.hot-ratio.bidders", 4)? as i32,
            hot_sellers_ratio: positive("auction.hot-ratio.sellers", 4)? as i32,
            active_people: 1000,
            in_flight_auctions: 100,
            avg_person_size: size("person.avg-size", 200)?,
            avg_auction_size: size("auction.avg-size", 500)?,
            avg_bid_size: size("bid.avg-size", 100)?,
            inter_event_delay_us: 1_000_000.0 / rate as f64,
            base_time: if base_time == 0 { now } else { base_time },
            seed: option("seed", 0)?,
        };
        Ok(NexmarkSource {
            generator,
            events: (events > 0).then_some(events as u64),
            paced: flag("rate.limited", false)? || !flag("max-emit-speed", true)?,
            schema: arrow_schema(fields),
        })
    }
}

/// Flink's nexmark table must have exactly the connector's physical columns.
fn check_schema(table: &str, fields: &[SqlField]) -> SqlResult<()> {
    let expected = [
        ("event_type", SqlType::Int),
        ("person", SqlType::Row(source::person_fields())),
        ("auction", SqlType::Row(source::auction_fields())),
        ("bid", SqlType::Row(source::bid_fields())),
    ];
    let matches = fields.len() == expected.len()
        && fields
            .iter()
            .zip(&expected)
            .all(|(f, (name, ty))| f.name == *name && f.ty == *ty);
    if matches {
        return Ok(());
    }
    let wanted: Vec<String> = expected
        .iter()
        .map(|(name, ty)| format!("{name} {ty}"))
        .collect();
    let found: Vec<String> = fields
        .iter()
        .map(|f| format!("{} {}", f.name, f.ty))
        .collect();
    Err(SqlError::new(format!(
        "table '{table}': a nexmark table's physical columns must be ({}), not ({})",
        wanted.join(", "),
        found.join(", ")
    )))
}

/// An integer option (a long, as Flink's `intType`/`longType` options read).
fn parse_number(text: &str) -> Option<i64> {
    text.trim().parse().ok()
}

/// Flink's memory sizes: a number of bytes with an optional unit (`b`, `kb`, `mb`).
fn parse_memory_size(text: &str) -> Option<i32> {
    let text = text.trim().to_ascii_lowercase();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().ok()?;
    let scale = match unit.trim() {
        "" | "b" | "bytes" => 1,
        "k" | "kb" | "kibibytes" => 1 << 10,
        "m" | "mb" | "mebibytes" => 1 << 20,
        _ => return None,
    };
    i32::try_from(number.checked_mul(scale)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::options;
    use crate::types::RowField;
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use sluice_runtime::source::Source;

    fn fields() -> Vec<SqlField> {
        let row = |fields: Vec<RowField>| SqlType::Row(fields);
        vec![
            SqlField::new("event_type", SqlType::Int),
            SqlField::new("person", row(source::person_fields())),
            SqlField::new("auction", row(source::auction_fields())),
            SqlField::new("bid", row(source::bid_fields())),
        ]
    }

    #[test]
    fn batches_hold_one_row_column_per_kind_of_event() {
        let source = NexmarkSource::new(
            "nexmark",
            &fields(),
            &options(&[("events.num", "100"), ("base-time", "1000")]),
            0,
        )
        .unwrap();
        assert_eq!(source.events, Some(100));
        let batch = source.batch(&(0..100).collect::<Vec<_>>()).unwrap();
        let kinds = batch
            .column(0)
            .as_primitive::<arrow_array::types::Int32Type>();
        let bids = batch.column(3).as_struct();
        for row in 0..100 {
            assert_eq!(bids.is_valid(row), kinds.value(row) == 2, "row {row}");
        }
        assert_eq!(kinds.values().iter().filter(|k| **k == 0).count(), 2);
        // The first event is a person at the base time.
        let people = batch.column(1).as_struct();
        let times = people
            .column(6)
            .as_primitive::<arrow_array::types::TimestampMillisecondType>();
        assert_eq!(times.value(0), 1000);
    }

    #[test]
    fn splits_stripe_the_events_and_resume_where_they_stopped() {
        let source =
            NexmarkSource::new("nexmark", &fields(), &options(&[("events.num", "5")]), 0).unwrap();
        let splits = source.create_splits(2).unwrap();
        assert_eq!(
            splits,
            [
                NexmarkSplit { next: 0, stride: 2 },
                NexmarkSplit { next: 1, stride: 2 }
            ]
        );
        // More subtasks than events: no empty stripes.
        assert_eq!(source.create_splits(8).unwrap().len(), 5);
    }

    #[test]
    fn bad_options_and_schemas_are_refused() {
        let err = |pairs: &[(&str, &str)]| {
            NexmarkSource::new("nx", &fields(), &options(pairs), 0)
                .unwrap_err()
                .to_string()
        };
        assert!(
            err(&[("events.number", "5")]).contains("unsupported nexmark option 'events.number'")
        );
        assert!(err(&[("first-event.rate", "0")]).contains("at least 1"));
        assert!(err(&[("bid.avg-size", "big")]).contains("'bid.avg-size'"));
        assert!(err(&[("rate.limited", "maybe")]).contains("true or false"));
        let mut wrong = fields();
        wrong.pop();
        let error = NexmarkSource::new("nx", &wrong, &options(&[]), 0)
            .unwrap_err()
            .to_string();
        assert!(error.contains("physical columns must be"), "{error}");
        assert_eq!(parse_memory_size("1kb"), Some(1024));
        assert_eq!(parse_memory_size("200b"), Some(200));
    }
}
