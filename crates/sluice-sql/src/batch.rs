//! The record of SQL jobs: an Arrow record batch of rows. It crosses the network and enters
//! checkpoints (unaligned in-flight data) as Arrow IPC stream bytes, a stable format.

use std::fmt;

use arrow_array::RecordBatch;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;
use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A batch of rows flowing between the operators of a SQL job.
#[derive(Clone)]
pub struct RowBatch(pub RecordBatch);

impl fmt::Debug for RowBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RowBatch({} rows)", self.0.num_rows())
    }
}

impl Serialize for RowBatch {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut bytes = Vec::new();
        let mut writer =
            StreamWriter::try_new(&mut bytes, &self.0.schema()).map_err(S::Error::custom)?;
        writer.write(&self.0).map_err(S::Error::custom)?;
        writer.finish().map_err(S::Error::custom)?;
        drop(writer);
        serde_bytes::Bytes::new(&bytes).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RowBatch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let bytes = serde_bytes::ByteBuf::deserialize(deserializer)?;
        let mut reader = StreamReader::try_new(bytes.as_slice(), None).map_err(D::Error::custom)?;
        match reader.next() {
            Some(batch) => Ok(RowBatch(batch.map_err(D::Error::custom)?)),
            None => Err(D::Error::custom("an Arrow IPC stream without a batch")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, Int64Array, StringArray};
    use std::sync::Arc;

    #[test]
    fn round_trips_through_postcard() {
        let batch = RecordBatch::try_from_iter([
            (
                "k",
                Arc::new(StringArray::from(vec![Some("a"), None])) as ArrayRef,
            ),
            ("v", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
        ])
        .unwrap();
        let bytes = postcard::to_allocvec(&RowBatch(batch.clone())).unwrap();
        let back: RowBatch = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.0, batch);
        assert!(postcard::from_bytes::<RowBatch>(&bytes[..bytes.len() / 2]).is_err());
    }
}
