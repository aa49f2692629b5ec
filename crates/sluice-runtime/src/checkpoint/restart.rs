//! Restart strategies: whether and when a failed job starts again from its latest completed
//! checkpoint (Flink's `restart-strategy.*`).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use sluice_core::config_value::parse_duration;

/// When a failed job restarts.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum RestartStrategy {
    /// Never: the first failure fails the job.
    None,
    /// Up to `attempts` restarts, each after `delay`.
    FixedDelay {
        /// How many restarts.
        attempts: usize,
        /// The wait before each.
        delay: Duration,
    },
    /// Restarts with a delay growing by `multiplier` from `initial` up to `max`; after
    /// `reset_threshold` without a failure the delay starts over. `attempts` bounds the
    /// restarts before a reset (`None`: no bound).
    ExponentialDelay {
        /// The first delay.
        initial: Duration,
        /// The largest delay.
        max: Duration,
        /// How the delay grows.
        multiplier: f64,
        /// A run this long without failing resets the delay.
        reset_threshold: Duration,
        /// The most restarts before a reset.
        attempts: Option<usize>,
    },
    /// Restarts after `delay` unless more than `max_failures` happened within `interval`.
    FailureRate {
        /// Failures tolerated per interval.
        max_failures: usize,
        /// The measuring interval.
        interval: Duration,
        /// The wait before each restart.
        delay: Duration,
    },
}

impl RestartStrategy {
    /// Flink's default with checkpointing: exponential delay from 1 s to 1 min, ×1.5, reset
    /// after an hour without failure, unbounded.
    pub fn flink_default() -> Self {
        RestartStrategy::ExponentialDelay {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            multiplier: 1.5,
            reset_threshold: Duration::from_secs(3600),
            attempts: None,
        }
    }

    /// Flink's default for a job that sets none: [`Self::flink_default`] when it checkpoints,
    /// no restarts otherwise.
    pub fn default_for(checkpointing: bool) -> Self {
        if checkpointing {
            RestartStrategy::flink_default()
        } else {
            RestartStrategy::None
        }
    }

    /// The strategy a job restarts with: the one it configured, else [`Self::default_for`].
    pub fn of_job(configured: Option<&RestartStrategy>, checkpointing: bool) -> Self {
        configured
            .cloned()
            .unwrap_or_else(|| RestartStrategy::default_for(checkpointing))
    }

    /// Applies one Flink configuration key (`restart-strategy.type` and the keys of each
    /// strategy); an error names the key and the value.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let bad = |what: &str| format!("{key}: '{value}' is not {what}");
        let count = || value.trim().parse::<usize>().map_err(|_| bad("a count"));
        let duration = || parse_duration(value).map_err(|e| format!("{key}: {e}"));
        match (key, &mut *self) {
            ("restart-strategy.type", _) => {
                *self = match value.trim().to_ascii_lowercase().as_str() {
                    "none" | "off" | "disable" => RestartStrategy::None,
                    "fixed-delay" | "fixeddelay" => RestartStrategy::FixedDelay {
                        attempts: 1,
                        delay: Duration::from_secs(1),
                    },
                    "exponential-delay" | "exponentialdelay" => Self::flink_default(),
                    "failure-rate" | "failurerate" => RestartStrategy::FailureRate {
                        max_failures: 1,
                        interval: Duration::from_secs(60),
                        delay: Duration::from_secs(1),
                    },
                    _ => {
                        return Err(bad("none, fixed-delay, exponential-delay or failure-rate"));
                    }
                }
            }
            (
                "restart-strategy.fixed-delay.attempts",
                RestartStrategy::FixedDelay { attempts, .. },
            ) => *attempts = count()?,
            ("restart-strategy.fixed-delay.delay", RestartStrategy::FixedDelay { delay, .. }) => {
                *delay = duration()?
            }
            (
                "restart-strategy.exponential-delay.initial-backoff",
                RestartStrategy::ExponentialDelay { initial, .. },
            ) => *initial = duration()?,
            (
                "restart-strategy.exponential-delay.max-backoff",
                RestartStrategy::ExponentialDelay { max, .. },
            ) => *max = duration()?,
            (
                "restart-strategy.exponential-delay.backoff-multiplier",
                RestartStrategy::ExponentialDelay { multiplier, .. },
            ) => {
                *multiplier = value
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|m| *m >= 1.0)
                    .ok_or_else(|| bad("a multiplier of at least 1"))?
            }
            (
                "restart-strategy.exponential-delay.reset-backoff-threshold",
                RestartStrategy::ExponentialDelay {
                    reset_threshold, ..
                },
            ) => *reset_threshold = duration()?,
            (
                "restart-strategy.exponential-delay.attempts-before-reset-backoff",
                RestartStrategy::ExponentialDelay { attempts, .. },
            ) => *attempts = Some(count()?),
            (
                "restart-strategy.failure-rate.max-failures-per-interval",
                RestartStrategy::FailureRate { max_failures, .. },
            ) => *max_failures = count()?,
            (
                "restart-strategy.failure-rate.failure-rate-interval",
                RestartStrategy::FailureRate { interval, .. },
            ) => *interval = duration()?,
            ("restart-strategy.failure-rate.delay", RestartStrategy::FailureRate { delay, .. }) => {
                *delay = duration()?
            }
            _ if key.starts_with("restart-strategy.") => {
                return Err(format!(
                    "'{key}' does not apply to the restart strategy {self:?} (set restart-strategy.type first)"
                ));
            }
            _ => return Err(format!("unknown restart option '{key}'")),
        }
        Ok(())
    }
}

/// Applies a strategy to a job's failures.
#[derive(Debug)]
pub struct RestartTracker {
    strategy: RestartStrategy,
    restarts: usize,
    next_delay: Option<Duration>,
    last_start: Instant,
    failures: VecDeque<Instant>,
}

impl RestartTracker {
    /// A tracker for `strategy`, the job having just started.
    pub fn new(strategy: RestartStrategy) -> Self {
        RestartTracker {
            strategy,
            restarts: 0,
            next_delay: None,
            last_start: Instant::now(),
            failures: VecDeque::new(),
        }
    }

    /// The job failed: how long to wait before restarting it, or `None` to give up.
    pub fn on_failure(&mut self) -> Option<Duration> {
        let now = Instant::now();
        let delay = match &self.strategy {
            RestartStrategy::None => None,
            RestartStrategy::FixedDelay { attempts, delay } => {
                (self.restarts < *attempts).then_some(*delay)
            }
            RestartStrategy::ExponentialDelay {
                initial,
                max,
                multiplier,
                reset_threshold,
                attempts,
            } => {
                if now.duration_since(self.last_start) >= *reset_threshold {
                    self.restarts = 0;
                    self.next_delay = None;
                }
                let delay = self.next_delay.unwrap_or(*initial).min(*max);
                self.next_delay = Some(delay.mul_f64(*multiplier).min(*max));
                attempts.is_none_or(|a| self.restarts < a).then_some(delay)
            }
            RestartStrategy::FailureRate {
                max_failures,
                interval,
                delay,
            } => {
                self.failures.push_back(now);
                while self
                    .failures
                    .front()
                    .is_some_and(|at| now.duration_since(*at) > *interval)
                {
                    self.failures.pop_front();
                }
                (self.failures.len() <= *max_failures).then_some(*delay)
            }
        };
        if delay.is_some() {
            self.restarts += 1;
        }
        delay
    }

    /// The job (re)started now.
    pub fn started(&mut self) {
        self.last_start = Instant::now();
    }

    /// How many restarts happened.
    pub fn restarts(&self) -> usize {
        self.restarts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_without_a_strategy_gets_flinks_default_for_its_checkpointing() {
        assert_eq!(
            RestartStrategy::of_job(None, true),
            RestartStrategy::flink_default()
        );
        assert_eq!(RestartStrategy::of_job(None, false), RestartStrategy::None);
        let fixed = RestartStrategy::FixedDelay {
            attempts: 2,
            delay: Duration::from_secs(1),
        };
        assert_eq!(RestartStrategy::of_job(Some(&fixed), true), fixed);
    }

    #[test]
    fn fixed_delay_gives_up_after_its_attempts() {
        let mut tracker = RestartTracker::new(RestartStrategy::FixedDelay {
            attempts: 2,
            delay: Duration::from_millis(5),
        });
        assert_eq!(tracker.on_failure(), Some(Duration::from_millis(5)));
        assert_eq!(tracker.on_failure(), Some(Duration::from_millis(5)));
        assert_eq!(tracker.on_failure(), None);
        assert_eq!(tracker.restarts(), 2);
    }

    #[test]
    fn exponential_delay_grows_to_its_maximum() {
        let mut tracker = RestartTracker::new(RestartStrategy::ExponentialDelay {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(300),
            multiplier: 2.0,
            reset_threshold: Duration::from_secs(3600),
            attempts: Some(4),
        });
        let delays: Vec<_> = (0..5).map(|_| tracker.on_failure()).collect();
        let ms = |m| Some(Duration::from_millis(m));
        assert_eq!(delays, vec![ms(100), ms(200), ms(300), ms(300), None]);
    }

    #[test]
    fn failure_rate_gives_up_when_failures_come_too_fast() {
        let mut tracker = RestartTracker::new(RestartStrategy::FailureRate {
            max_failures: 2,
            interval: Duration::from_secs(60),
            delay: Duration::ZERO,
        });
        assert!(tracker.on_failure().is_some());
        assert!(tracker.on_failure().is_some());
        assert!(tracker.on_failure().is_none());
    }

    #[test]
    fn none_never_restarts_and_keys_configure_strategies() {
        assert_eq!(
            RestartTracker::new(RestartStrategy::None).on_failure(),
            None
        );
        let mut strategy = RestartStrategy::None;
        strategy
            .set("restart-strategy.type", "fixed-delay")
            .unwrap();
        strategy
            .set("restart-strategy.fixed-delay.attempts", "3")
            .unwrap();
        strategy
            .set("restart-strategy.fixed-delay.delay", "10 ms")
            .unwrap();
        assert_eq!(
            strategy,
            RestartStrategy::FixedDelay {
                attempts: 3,
                delay: Duration::from_millis(10)
            }
        );
        let error = strategy
            .set("restart-strategy.failure-rate.delay", "1 s")
            .unwrap_err();
        assert!(error.contains("restart-strategy.type"), "{error}");
        assert!(strategy.set("restart-strategy.type", "sometimes").is_err());
    }
}
