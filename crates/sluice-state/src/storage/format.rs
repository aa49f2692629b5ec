//! The envelope of every checkpoint file: `magic (4 bytes) | format version (u32 LE) |
//! postcard payload | CRC-32 of all before it (u32 LE)`, checked before anything in a file is
//! used.

use object_store::path::Path;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{FORMAT_VERSION, StorageError};

pub(super) fn encode_file<T: Serialize>(
    magic: &[u8; 4],
    value: &T,
    path: &Path,
) -> Result<Vec<u8>, StorageError> {
    let mut bytes = magic.to_vec();
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    let payload = postcard::to_stdvec(value).map_err(|e| StorageError::Io {
        file: path.to_string(),
        message: format!("cannot encode: {e}"),
    })?;
    bytes.extend_from_slice(&payload);
    let checksum = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&checksum.to_le_bytes());
    Ok(bytes)
}

pub(super) fn decode_file<T: DeserializeOwned>(
    magic: &[u8; 4],
    bytes: &[u8],
    path: &Path,
) -> Result<T, StorageError> {
    let payload = check_envelope(magic, bytes, path)?;
    postcard::from_bytes(payload).map_err(|e| StorageError::Corrupt {
        file: path.to_string(),
        message: format!("cannot decode: {e}"),
    })
}

/// Checks the length, checksum, magic and version of a file; returns its payload.
pub(super) fn check_envelope<'a>(
    magic: &[u8; 4],
    bytes: &'a [u8],
    path: &Path,
) -> Result<&'a [u8], StorageError> {
    let corrupt = |message: String| StorageError::Corrupt {
        file: path.to_string(),
        message,
    };
    if bytes.len() < 12 {
        return Err(corrupt(format!("{} bytes is too short", bytes.len())));
    }
    let (body, tail) = bytes.split_at(bytes.len() - 4);
    let stored = u32::from_le_bytes(tail.try_into().expect("4 bytes"));
    let actual = crc32fast::hash(body);
    if stored != actual {
        return Err(corrupt(format!(
            "checksum mismatch (stored {stored:08x}, computed {actual:08x}): truncated or damaged"
        )));
    }
    if &body[..4] != magic {
        return Err(corrupt("not a Sluice checkpoint file of this kind".into()));
    }
    let version = u32::from_le_bytes(body[4..8].try_into().expect("4 bytes"));
    if version != FORMAT_VERSION {
        return Err(corrupt(format!(
            "format version {version}; this build reads version {FORMAT_VERSION}"
        )));
    }
    Ok(&body[8..])
}
