//! The metadata the `filesystem` connector offers a table's `METADATA` columns, as Flink's:
//! `file.path`, `file.name`, `file.size` and `file.modification-time` of the file each row was
//! read from.

use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, StringArray, TimestampMillisecondArray};
use sluice_api::sources::FileInfo;

use crate::error::{SqlError, SqlResult};
use crate::types::SqlType;

/// One metadata key of the `filesystem` connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileMetadata {
    /// `file.path`: the file's full path.
    Path,
    /// `file.name`: the file's name, the last part of its path.
    Name,
    /// `file.size`: the file's length in bytes.
    Size,
    /// `file.modification-time`: when the file was last modified.
    ModificationTime,
}

/// Every key, in the order Flink lists them.
const KEYS: [FileMetadata; 4] = [
    FileMetadata::Path,
    FileMetadata::Name,
    FileMetadata::Size,
    FileMetadata::ModificationTime,
];

impl FileMetadata {
    /// The key of `column` in table `table`, or an error listing the keys there are.
    pub fn from_key(key: &str, column: &str, table: &str) -> SqlResult<FileMetadata> {
        KEYS.into_iter().find(|k| k.key() == key).ok_or_else(|| {
            let known: Vec<String> = KEYS.iter().map(|k| format!("'{}'", k.key())).collect();
            SqlError::new(format!(
                "table '{table}': invalid metadata key '{key}' in column '{column}'; the filesystem connector offers {}",
                known.join(", ")
            ))
        })
    }

    /// The key as written in `METADATA FROM '...'`.
    pub fn key(self) -> &'static str {
        match self {
            FileMetadata::Path => "file.path",
            FileMetadata::Name => "file.name",
            FileMetadata::Size => "file.size",
            FileMetadata::ModificationTime => "file.modification-time",
        }
    }

    /// The type of the values (never null).
    pub fn ty(self) -> SqlType {
        match self {
            FileMetadata::Path | FileMetadata::Name => SqlType::Varchar(None),
            FileMetadata::Size => SqlType::BigInt,
            FileMetadata::ModificationTime => SqlType::TimestampLtz(3),
        }
    }

    /// A column of `rows` copies of this value of `file`.
    pub fn column(self, file: &FileInfo, rows: usize) -> ArrayRef {
        match self {
            FileMetadata::Path => repeated_text(&file.path.to_string_lossy(), rows),
            FileMetadata::Name => {
                let name = file.path.file_name().map(|n| n.to_string_lossy());
                repeated_text(&name.unwrap_or_default(), rows)
            }
            FileMetadata::Size => Arc::new(Int64Array::from_value(file.size as i64, rows)),
            FileMetadata::ModificationTime => Arc::new(
                TimestampMillisecondArray::from_value(file.modified_millis, rows)
                    .with_timezone("UTC"),
            ),
        }
    }
}

/// A string column of `rows` copies of `text`.
fn repeated_text(text: &str, rows: usize) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
        text, rows,
    )))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use arrow_array::Array;

    use super::*;

    #[test]
    fn each_key_gives_its_value_of_the_file() {
        let file = FileInfo {
            path: PathBuf::from("/data/in/part-a.csv"),
            size: 8,
            modified_millis: 1_709_287_200_123,
        };
        let column = |key: &str| {
            let key = FileMetadata::from_key(key, "c", "t").unwrap();
            let column = key.column(&file, 2);
            assert_eq!(column.len(), 2);
            assert_eq!(column.data_type(), &key.ty().arrow_type());
            column
        };
        let text = |key: &str| {
            let column = column(key);
            arrow_cast::display::array_value_to_string(&column, 1).unwrap()
        };
        assert_eq!(text("file.path"), "/data/in/part-a.csv");
        assert_eq!(text("file.name"), "part-a.csv");
        assert_eq!(text("file.size"), "8");
        let modified = column("file.modification-time");
        let modified = modified
            .as_any()
            .downcast_ref::<TimestampMillisecondArray>()
            .unwrap();
        assert_eq!(modified.value(1), 1_709_287_200_123);
    }

    #[test]
    fn an_unknown_key_lists_the_keys() {
        let error = FileMetadata::from_key("file.owner", "who", "logs").unwrap_err();
        assert_eq!(
            error.to_string(),
            "table 'logs': invalid metadata key 'file.owner' in column 'who'; the filesystem connector offers 'file.path', 'file.name', 'file.size', 'file.modification-time'"
        );
    }
}
