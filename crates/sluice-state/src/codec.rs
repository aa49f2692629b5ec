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

/// Appends the encoding of `value` to `out` (values appended back to back are read with
/// [`decode_prefix`]).
pub fn encode_append<T: Serialize + ?Sized>(
    state: &str,
    out: Vec<u8>,
    value: &T,
) -> Result<Vec<u8>, StateError> {
    postcard::to_extend(value, out).map_err(|e| StateError::Codec {
        state: state.to_string(),
        action: "encode",
        message: e.to_string(),
    })
}

/// Decodes the value at the front of `bytes`; returns it and the bytes after it.
pub fn decode_prefix<'a, T: DeserializeOwned>(
    state: &str,
    bytes: &'a [u8],
) -> Result<(T, &'a [u8]), StateError> {
    postcard::take_from_bytes(bytes).map_err(|e| StateError::Codec {
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
    fn appended_values_decode_one_after_another() {
        let bytes = encode_append("s", Vec::new(), &7u32).unwrap();
        let bytes = encode_append("s", bytes, "seven").unwrap();
        let (first, rest) = decode_prefix::<u32>("s", &bytes).unwrap();
        let (second, rest) = decode_prefix::<String>("s", rest).unwrap();
        assert_eq!((first, second.as_str(), rest.len()), (7, "seven", 0));
        assert!(decode_prefix::<String>("s", &bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn framing_keeps_prefixes_apart() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        push_framed(&mut a, b"ab");
        push_framed(&mut b, b"abc");
        assert!(!b.starts_with(&a));
    }
}
