//! Values of options (`SET` keys and tables' `WITH` options) in Flink's notation.

use std::time::Duration;

use crate::error::{SqlError, SqlResult};

/// Flink's durations: `200 ms`, `5 s`, `1 min`, `2 h`, `1 d`, or milliseconds.
pub fn parse_duration(key: &str, value: &str) -> SqlResult<Duration> {
    let text = value.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let bad = || {
        SqlError::new(format!(
            "'{key}' must be a duration like '200 ms' or '5 s', not '{value}'"
        ))
    };
    let number: u64 = number.parse().map_err(|_| bad())?;
    let unit_millis: u64 = match unit.trim() {
        "" | "ms" | "milli" | "millis" => 1,
        "s" | "sec" | "secs" | "second" | "seconds" => 1_000,
        "min" | "m" | "minute" | "minutes" => 60_000,
        "h" | "hour" | "hours" => 3_600_000,
        "d" | "day" | "days" => 86_400_000,
        _ => return Err(bad()),
    };
    let millis = number.checked_mul(unit_millis).ok_or_else(bad)?;
    Ok(Duration::from_millis(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_flink_writes_them() {
        assert_eq!(parse_duration("k", "5 s").unwrap(), Duration::from_secs(5));
        assert_eq!(
            parse_duration("k", "1min").unwrap(),
            Duration::from_secs(60)
        );
        assert_eq!(
            parse_duration("k", "250").unwrap(),
            Duration::from_millis(250)
        );
        assert!(parse_duration("k", "soon").is_err());
    }
}
