//! Checkpointing settings, with Flink's configuration keys.

use sluice_core::config_value::parse_duration;
use std::time::Duration;

/// The guarantee checkpoints give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum CheckpointingMode {
    /// Barriers are aligned: a restored job has seen every record exactly once.
    #[default]
    ExactlyOnce,
    /// Barriers are not aligned: records after a barrier may be in the snapshot and replayed.
    AtLeastOnce,
}

/// How and where a job checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CheckpointConfig {
    /// Time between checkpoint triggers (`execution.checkpointing.interval`).
    pub interval: Duration,
    /// The guarantee (`execution.checkpointing.mode`).
    pub mode: CheckpointingMode,
    /// A checkpoint not complete after this long is abandoned (`execution.checkpointing.timeout`).
    pub timeout: Duration,
    /// Least time from one completed checkpoint to the next trigger
    /// (`execution.checkpointing.min-pause`).
    pub min_pause: Duration,
    /// How many checkpoints may be in flight at once
    /// (`execution.checkpointing.max-concurrent-checkpoints`).
    pub max_concurrent: usize,
    /// How many checkpoints in a row may fail before the job fails
    /// (`execution.checkpointing.tolerable-failed-checkpoints`).
    pub tolerable_failures: usize,
    /// How many completed checkpoints are kept (`state.checkpoints.num-retained`).
    pub retained: usize,
    /// Where checkpoints are written: a directory or a `file://` URL (`state.checkpoints.dir`,
    /// Flink 2's `execution.checkpointing.dir`).
    pub directory: Option<String>,
    /// Barriers overtake in-flight data, which goes into the checkpoint, so checkpoints
    /// complete under backpressure (`execution.checkpointing.unaligned.enabled`; exactly-once
    /// checkpoints only, savepoints stay aligned).
    pub unaligned: bool,
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        CheckpointConfig {
            interval: Duration::from_secs(10),
            mode: CheckpointingMode::ExactlyOnce,
            timeout: Duration::from_secs(600),
            min_pause: Duration::ZERO,
            max_concurrent: 1,
            tolerable_failures: 0,
            retained: 1,
            directory: None,
            unaligned: false,
        }
    }
}

impl CheckpointConfig {
    /// Checkpoints every `interval`, exactly-once, with Flink's other defaults.
    pub fn every(interval: Duration) -> Self {
        CheckpointConfig {
            interval,
            ..Self::default()
        }
    }

    /// Applies one Flink configuration key; an error names the key and the bad value.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let bad = |what: &str| format!("{key}: '{value}' is not {what}");
        let count = || value.trim().parse::<usize>().map_err(|_| bad("a count"));
        match key {
            "execution.checkpointing.interval" => self.interval = parse_duration(value)?,
            "execution.checkpointing.timeout" => self.timeout = parse_duration(value)?,
            "execution.checkpointing.min-pause" => self.min_pause = parse_duration(value)?,
            "execution.checkpointing.max-concurrent-checkpoints" => {
                self.max_concurrent = count()?.max(1)
            }
            "execution.checkpointing.tolerable-failed-checkpoints" => {
                self.tolerable_failures = count()?
            }
            "state.checkpoints.num-retained" => self.retained = count()?.max(1),
            "state.checkpoints.dir" | "execution.checkpointing.dir" => {
                self.directory = Some(value.trim().to_string())
            }
            "execution.checkpointing.unaligned.enabled" | "execution.checkpointing.unaligned" => {
                self.unaligned = match value.trim().to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(bad("true or false")),
                }
            }
            "execution.checkpointing.mode" => {
                self.mode = match value.trim().to_ascii_uppercase().as_str() {
                    "EXACTLY_ONCE" => CheckpointingMode::ExactlyOnce,
                    "AT_LEAST_ONCE" => CheckpointingMode::AtLeastOnce,
                    _ => return Err(bad("EXACTLY_ONCE or AT_LEAST_ONCE")),
                }
            }
            _ => return Err(format!("unknown checkpointing option '{key}'")),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flink_keys_set_the_config() {
        let mut config = CheckpointConfig::default();
        config
            .set("execution.checkpointing.interval", "2 s")
            .unwrap();
        config
            .set("execution.checkpointing.mode", "at_least_once")
            .unwrap();
        config.set("state.checkpoints.num-retained", "3").unwrap();
        config
            .set("state.checkpoints.dir", "file:///tmp/ckpt")
            .unwrap();
        assert_eq!(config.interval, Duration::from_secs(2));
        assert_eq!(config.mode, CheckpointingMode::AtLeastOnce);
        assert_eq!(config.retained, 3);
        assert_eq!(config.directory.as_deref(), Some("file:///tmp/ckpt"));
        config
            .set("execution.checkpointing.dir", "s3://bucket/ckpt")
            .unwrap();
        assert_eq!(config.directory.as_deref(), Some("s3://bucket/ckpt"));
        let error = config
            .set("execution.checkpointing.mode", "sometimes")
            .unwrap_err();
        assert!(error.contains("execution.checkpointing.mode"), "{error}");
        assert!(config.set("no.such.key", "1").is_err());
        config
            .set("execution.checkpointing.unaligned.enabled", "true")
            .unwrap();
        assert!(config.unaligned);
        let error = config
            .set("execution.checkpointing.unaligned", "yes")
            .unwrap_err();
        assert!(error.contains("true or false"), "{error}");
    }
}
