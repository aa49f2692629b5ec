//! Ports given as one port or a range (Flink's `metrics.reporter.prom.port`, `rest.bind-port`):
//! several processes of one host each listen on the first free port of the range.

use std::net::TcpListener;
use std::ops::RangeInclusive;

/// The ports `text` allows: one (`9249`) or a range (`9249-9260`).
pub fn parse(text: &str) -> Result<RangeInclusive<u16>, String> {
    let port = |p: &str| {
        p.trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("'{text}' is not a port or a range of ports like 9249-9260"))
    };
    let (first, last) = match text.split_once('-') {
        Some((first, last)) => (port(first)?, port(last)?),
        None => (port(text)?, port(text)?),
    };
    if first > last {
        return Err(format!("'{text}': the range ends before it starts"));
    }
    Ok(first..=last)
}

/// Listens on the first free port of `ports` on `host`; the error names `what` listens.
pub fn bind(host: &str, ports: &RangeInclusive<u16>, what: &str) -> Result<TcpListener, String> {
    let mut last_error = None;
    for port in ports.clone() {
        match TcpListener::bind((host, port)) {
            Ok(listener) => return Ok(listener),
            Err(error) => last_error = Some(error),
        }
    }
    Err(format!(
        "no free port for {what} in {}-{} on {host}: {}",
        ports.start(),
        ports.end(),
        last_error.map_or_else(|| "empty range".into(), |e| e.to_string())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_port_or_a_range() {
        assert_eq!(parse("9249"), Ok(9249..=9249));
        assert_eq!(parse(" 9249-9260 "), Ok(9249..=9260));
        assert!(parse("9260-9249").unwrap_err().contains("ends before"));
        assert!(parse("0").is_err());
        assert!(parse("http").unwrap_err().contains("not a port"));
    }
}
