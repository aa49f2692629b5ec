//! Encoding of keys, namespaces and values with postcard.
//!
//! A composite key is `len(key) | key | len(namespace) | namespace | user key`: the length
//! prefixes keep one key's bytes from being a prefix of another's, so a prefix scan never
//! reaches a different key or namespace.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::StateError;

/// Encodes a value.
pub fn encode<T: Serialize + ?Sized>(state: &str, value: &T) -> Result<Vec<u8>, StateError> {
    postcard::to_stdvec(value).map_err(|e| StateError::Codec {
        state: state.to_string(),
        action: "encode",
        message: e.to_string(),
    })
}

/// Decodes a value.
pub fn decode<T: DeserializeOwned>(state: &str, bytes: &[u8]) -> Result<T, StateError> {
    postcard::from_bytes(bytes).map_err(|e| StateError::Codec {
        state: state.to_string(),
        action: "decode",
        message: e.to_string(),
    })
}

/// Appends `bytes` with a 4-byte big-endian length in front.
pub fn push_framed(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reports_type_changes() {
        let bytes = encode("s", &("word".to_string(), 7u64)).unwrap();
        assert_eq!(
            decode::<(String, u64)>("s", &bytes).unwrap(),
            ("word".to_string(), 7)
        );
        let err = decode::<(u64, u64, u64)>("s", &[1]).unwrap_err();
        assert!(
            err.to_string().contains("state 's': cannot decode"),
            "{err}"
        );
    }

    #[test]
    fn framing_keeps_prefixes_apart() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        push_framed(&mut a, b"ab");
        push_framed(&mut b, b"abc");
        assert!(!b.starts_with(&a));
    }
}
