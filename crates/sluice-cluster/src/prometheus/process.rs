//! A process's CPU time and resident memory, read from `/proc` (Linux; elsewhere nothing).

/// CPU time and resident memory of some processes, summed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessUsage {
    /// CPU time used, user and system, in seconds.
    pub cpu_seconds: f64,
    /// Resident memory, in bytes.
    pub rss_bytes: u64,
}

/// Clock ticks per second of `/proc/<pid>/stat`'s times (`USER_HZ`, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;
/// The page size `/proc/<pid>/statm` counts in.
const PAGE_BYTES: u64 = 4096;

/// The usage of process `pid` (`"self"` for this one), if `/proc` tells it.
pub fn usage_of(pid: &str) -> Option<ProcessUsage> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command (which may hold spaces) in parentheses.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line: 12 and 13 after the command.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(ProcessUsage {
        cpu_seconds: ticks as f64 / TICKS_PER_SECOND,
        rss_bytes: pages * PAGE_BYTES,
    })
}

/// The usage of this process and of `children`, summed.
pub fn usage_with(children: &[u32]) -> ProcessUsage {
    let mut total = usage_of("self").unwrap_or_default();
    for child in children {
        if let Some(usage) = usage_of(&child.to_string()) {
            total.cpu_seconds += usage.cpu_seconds;
            total.rss_bytes += usage.rss_bytes;
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_uses_memory_and_time() {
        if !std::path::Path::new("/proc/self/stat").exists() {
            // Only Linux has /proc: elsewhere there is nothing to read.
            assert_eq!(usage_with(&[]), ProcessUsage::default());
            return;
        }
        let busy: u64 = (0..20_000_000u64).fold(0, |a, b| a.wrapping_add(b * b));
        assert!(busy > 0);
        let usage = usage_with(&[]);
        assert!(usage.rss_bytes > 1 << 20, "{usage:?}");
        assert!(usage.cpu_seconds > 0.0, "{usage:?}");
        assert!(usage_of("0").is_none(), "no process 0 in /proc");
    }
}
