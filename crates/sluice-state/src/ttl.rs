//! State time-to-live, as Flink's `StateTtlConfig`: values expire a fixed time after they were
//! written (or also read), measured in processing time, and expired values are never returned.
//! Expired entries are removed when they are next read.

use std::time::Duration;

/// When a value's time-to-live restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TtlUpdate {
    /// On create and every write (Flink's default).
    #[default]
    OnCreateAndWrite,
    /// Also on every read.
    OnReadAndWrite,
}

/// How long state values live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateTtlConfig {
    /// The time-to-live.
    pub ttl: Duration,
    /// When it restarts.
    pub update: TtlUpdate,
}

impl StateTtlConfig {
    /// Values expire `ttl` after they were last written.
    pub fn new(ttl: Duration) -> Self {
        StateTtlConfig {
            ttl,
            update: TtlUpdate::OnCreateAndWrite,
        }
    }

    /// Also restart the time-to-live on every read.
    pub fn update_on_read_and_write(mut self) -> Self {
        self.update = TtlUpdate::OnReadAndWrite;
        self
    }

    /// The expiry time of a value touched at `now` (ms).
    pub fn expiry(&self, now: i64) -> i64 {
        now.saturating_add(i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX))
    }
}

/// Splits stored bytes into (expiry, payload) when `ttl` is set.
pub(crate) fn unwrap_expiry(bytes: &[u8]) -> Option<(i64, &[u8])> {
    let (head, payload) = bytes.split_first_chunk::<8>()?;
    Some((i64::from_be_bytes(*head), payload))
}

/// Prefixes `payload` with its expiry.
pub(crate) fn wrap_expiry(expiry: i64, payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(8 + payload.len());
    bytes.extend_from_slice(&expiry.to_be_bytes());
    bytes.extend_from_slice(payload);
    bytes
}
