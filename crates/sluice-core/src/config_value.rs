//! Configuration values as Flink writes them: durations (`500 ms`, `10 s`, `1 min`) and memory
//! sizes (`4mb`, `64 m`, `1gb`), shared by every crate that reads Flink's keys.

use std::time::Duration;

/// Splits `text` into its leading whole number and the unit after it (trimmed).
fn amount_and_unit(text: &str) -> Option<(u64, &str)> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    Some((number.parse().ok()?, unit.trim()))
}

/// Parses a memory size as Flink writes them: `4mb`, `64 m`, `1gb`, `512kb`, or plain bytes.
pub fn parse_memory_size(text: &str) -> Result<usize, String> {
    let (amount, unit) = amount_and_unit(text)
        .ok_or_else(|| format!("'{text}' is not a memory size (like 4mb, 64 mb, 1gb)"))?;
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" | "bytes" => 0,
        "k" | "kb" | "kibibytes" => 10,
        "m" | "mb" | "mebibytes" => 20,
        "g" | "gb" | "gibibytes" => 30,
        other => return Err(format!("'{text}': unknown memory unit '{other}'")),
    };
    usize::try_from(amount)
        .ok()
        .and_then(|amount| amount.checked_mul(1 << shift))
        .ok_or_else(|| format!("'{text}' is too large"))
}

/// Parses a duration as Flink writes them: `500 ms`, `10s`, `1 min`, `2h`, or plain
/// milliseconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (amount, unit) = amount_and_unit(text)
        .ok_or_else(|| format!("'{text}' is not a duration (like 500 ms, 10 s, 1 min)"))?;
    let millis = match unit {
        "" | "ms" | "milli" | "millis" | "milliseconds" => 1,
        "s" | "sec" | "secs" | "second" | "seconds" => 1_000,
        "min" | "m" | "minute" | "minutes" => 60_000,
        "h" | "hour" | "hours" => 3_600_000,
        other => return Err(format!("'{text}': unknown time unit '{other}'")),
    };
    Ok(Duration::from_millis(amount.saturating_mul(millis)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_flinks() {
        assert_eq!(
            parse_duration("500 ms").unwrap(),
            Duration::from_millis(500)
        );
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("1 min").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("250").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("soon").is_err());
        assert!(
            parse_duration("5 fortnights")
                .unwrap_err()
                .contains("fortnights")
        );
    }

    #[test]
    fn memory_sizes_read_like_flinks() {
        assert_eq!(parse_memory_size("4mb").unwrap(), 4 << 20);
        assert_eq!(parse_memory_size(" 64 MB ").unwrap(), 64 << 20);
        assert_eq!(parse_memory_size("512k").unwrap(), 512 << 10);
        assert_eq!(parse_memory_size("1gb").unwrap(), 1 << 30);
        assert_eq!(parse_memory_size("1000").unwrap(), 1000);
        assert!(
            parse_memory_size("lots")
                .unwrap_err()
                .contains("not a memory size")
        );
        assert!(
            parse_memory_size("4 parsecs")
                .unwrap_err()
                .contains("'parsecs'")
        );
    }
}
