//! A process's CPU time and resident memory and the machine's memory, read from `/proc`
//! (Linux; elsewhere nothing).

use std::time::Instant;

pub use sluice_runtime::metrics::ProcessUsage;

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

/// The machine's physical memory in bytes (`MemTotal` of `/proc/meminfo`), if it tells.
pub fn physical_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
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

/// A process's latest two usage readings, for its CPU load between them.
#[derive(Debug, Clone, Copy, Default)]
pub struct UsageSamples {
    latest: Option<(Instant, ProcessUsage)>,
    previous: Option<(Instant, ProcessUsage)>,
}

impl UsageSamples {
    /// A new reading came.
    pub fn update(&mut self, usage: ProcessUsage) {
        self.previous = self.latest.take();
        self.latest = Some((Instant::now(), usage));
    }

    /// The latest reading.
    pub fn latest(&self) -> Option<ProcessUsage> {
        self.latest.map(|(_, usage)| usage)
    }

    /// The metrics of the readings by Flink's names, on a host of `cores` CPU cores: CPU time
    /// (s), CPU load (the share of the host's cores used between the last two readings) and
    /// resident memory (bytes). Empty before the first reading.
    pub fn metrics(&self, cores: usize) -> Vec<(&'static str, f64)> {
        let Some((now, usage)) = self.latest else {
            return Vec::new();
        };
        let load = match self.previous {
            Some((then, before)) if now > then => {
                let seconds = now.duration_since(then).as_secs_f64();
                (usage.cpu_seconds - before.cpu_seconds).max(0.0) / seconds / cores.max(1) as f64
            }
            _ => 0.0,
        };
        vec![
            ("Status.Process.CPU.Time", usage.cpu_seconds),
            ("Status.Process.CPU.Load", load),
            ("Status.Process.Memory.RSS", usage.rss_bytes as f64),
        ]
    }
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
        let memory = physical_memory().unwrap();
        assert!(memory > usage.rss_bytes, "{memory}");
    }

    #[test]
    fn cpu_load_is_the_share_of_the_cores_used_between_two_readings() {
        let mut samples = UsageSamples::default();
        assert!(samples.metrics(2).is_empty());
        samples.update(ProcessUsage {
            cpu_seconds: 1.0,
            rss_bytes: 10,
        });
        assert_eq!(samples.metrics(2)[1], ("Status.Process.CPU.Load", 0.0));
        std::thread::sleep(std::time::Duration::from_millis(100));
        samples.update(ProcessUsage {
            cpu_seconds: 1.1,
            rss_bytes: 20,
        });
        let metrics = samples.metrics(2);
        let load = metrics[1].1;
        assert!(
            load > 0.2 && load <= 0.5,
            "0.1 s of CPU in about 0.1 s on 2 cores: {load}"
        );
        assert_eq!(metrics[2], ("Status.Process.Memory.RSS", 20.0));
    }
}
