//! A job's id: 16 random bytes written as 32 lowercase hex digits, as Flink's `JobID`.
//!
//! Every run of a job gets a new id unless the user fixes one (Flink's fixed job id,
//! `$internal.pipeline.job-id`): the id names the job's checkpoint directory
//! (`<checkpoint dir>/<job id>/chk-<n>`), so a job with a fixed id resumes from its own
//! checkpoints and never from another job's.

use std::fmt;
use std::str::FromStr;

/// Identifies one job.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobId([u8; 16]);

impl JobId {
    /// A new random id.
    pub fn random() -> Self {
        let mut bytes = [0u8; 16];
        // Without randomness from the system, the time and the process still keep ids apart.
        if getrandom::getrandom(&mut bytes).is_err() {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            bytes = (nanos ^ (u128::from(std::process::id()) << 96)).to_le_bytes();
        }
        JobId(bytes)
    }

    /// The id whose bytes are `bytes`.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        JobId(bytes)
    }

    /// A stable id derived from `text` (the same text gives the same id on every machine and
    /// build): for jobs that resume from their own checkpoints without the user naming an id.
    pub fn derived_from(text: &str) -> Self {
        // Two 64-bit FNV-1a hashes with different offsets.
        let fnv = |offset: u64| {
            text.bytes().fold(offset, |hash, byte| {
                (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
            })
        };
        let high = fnv(0xcbf2_9ce4_8422_2325);
        let low = fnv(0x6c62_272e_07bb_0142);
        JobId(((u128::from(high) << 64) | u128::from(low)).to_be_bytes())
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JobId({self})")
    }
}

impl FromStr for JobId {
    type Err = String;

    /// Parses 32 hex digits (either case).
    fn from_str(text: &str) -> Result<Self, String> {
        let invalid = || format!("job id '{text}' is not 32 hexadecimal digits");
        if text.len() != 32 || !text.is_ascii() {
            return Err(invalid());
        }
        let mut bytes = [0u8; 16];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| invalid())?;
        }
        Ok(JobId(bytes))
    }
}

impl serde::Serialize for JobId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for JobId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_as_32_hex_digits_and_parse_back() {
        let id = JobId::random();
        let text = id.to_string();
        assert_eq!(text.len(), 32);
        assert!(text.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(text.parse::<JobId>().unwrap(), id);
        assert_eq!(
            "00000000000000000000000000000A0F"
                .parse::<JobId>()
                .unwrap()
                .to_string(),
            "00000000000000000000000000000a0f"
        );
    }

    #[test]
    fn random_ids_differ_and_derived_ids_are_stable() {
        assert_ne!(JobId::random(), JobId::random());
        let a = JobId::derived_from("counts /data/out");
        assert_eq!(a, JobId::derived_from("counts /data/out"));
        assert_ne!(a, JobId::derived_from("counts /data/out2"));
        assert_eq!(
            a.to_string(),
            JobId::derived_from("counts /data/out").to_string()
        );
    }

    #[test]
    fn malformed_ids_say_what_is_wrong() {
        for bad in [
            "",
            "abc",
            "zz000000000000000000000000000000",
            "é0000000000000000000000000000000",
        ] {
            let error = bad.parse::<JobId>().unwrap_err();
            assert!(error.contains("32 hexadecimal digits"), "{error}");
        }
    }
}
