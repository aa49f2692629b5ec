//! `ARRAY` and `MAP` values: read from Arrow list and map columns into [`KeyValue`]s, and
//! columns built back from them (the way every operator materialises values).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, ListArray, MapArray, StructArray};
use arrow_buffer::{NullBuffer, OffsetBuffer};

use crate::key::{KeyValue, key_column, key_value};
use crate::types::{SqlType, array_element_field, map_entries_field, map_entry_fields};

/// The `ARRAY` at `row` (not NULL) of a list column.
pub fn array_value(array: &dyn Array, row: usize, element: &SqlType) -> KeyValue {
    let list = array.as_list::<i32>().value(row);
    KeyValue::Array(
        (0..list.len())
            .map(|i| key_value(list.as_ref(), i, element))
            .collect(),
    )
}

/// The `MAP` at `row` (not NULL) of a map column.
pub fn map_value(array: &dyn Array, row: usize, key: &SqlType, value: &SqlType) -> KeyValue {
    let entries = array.as_map().value(row);
    let (keys, values) = (entries.column(0), entries.column(1));
    KeyValue::Map(
        (0..entries.len())
            .map(|i| {
                (
                    key_value(keys.as_ref(), i, key),
                    key_value(values.as_ref(), i, value),
                )
            })
            .collect(),
    )
}

/// The offsets and validity of a column whose rows hold `lengths` items (`None`: NULL).
fn offsets_and_nulls(lengths: &[Option<usize>]) -> (OffsetBuffer<i32>, Option<NullBuffer>) {
    let offsets = OffsetBuffer::from_lengths(lengths.iter().map(|l| l.unwrap_or(0)));
    let nulls = lengths
        .iter()
        .any(Option::is_none)
        .then(|| NullBuffer::from_iter(lengths.iter().map(Option::is_some)));
    (offsets, nulls)
}

/// The list column of `ARRAY` values (`KeyValue::Array`; anything else is NULL).
pub fn array_column<'a>(values: impl Iterator<Item = &'a KeyValue>, element: &SqlType) -> ArrayRef {
    list_column(
        values.map(|value| match value {
            KeyValue::Array(elements) => Some(&**elements),
            _ => None,
        }),
        element,
    )
}

/// The array column of lists of `element` values (`None`: NULL).
pub fn list_column<'a>(
    lists: impl Iterator<Item = Option<&'a [KeyValue]>>,
    element: &SqlType,
) -> ArrayRef {
    let mut lengths = Vec::new();
    let mut items: Vec<&KeyValue> = Vec::new();
    for list in lists {
        lengths.push(list.map(<[KeyValue]>::len));
        items.extend(list.into_iter().flatten());
    }
    let (offsets, nulls) = offsets_and_nulls(&lengths);
    let items = key_column(items.into_iter(), element);
    Arc::new(ListArray::new(
        Arc::new(array_element_field(element)),
        offsets,
        items,
        nulls,
    ))
}

/// The map column of `MAP` values (`KeyValue::Map`; anything else is NULL).
pub fn map_column<'a>(
    values: impl Iterator<Item = &'a KeyValue>,
    key: &SqlType,
    value: &SqlType,
) -> ArrayRef {
    let mut lengths = Vec::new();
    let (mut keys, mut items): (Vec<&KeyValue>, Vec<&KeyValue>) = (Vec::new(), Vec::new());
    for map in values {
        match map {
            KeyValue::Map(entries) => {
                lengths.push(Some(entries.len()));
                for (k, v) in entries {
                    keys.push(k);
                    items.push(v);
                }
            }
            _ => lengths.push(None),
        }
    }
    let (offsets, nulls) = offsets_and_nulls(&lengths);
    let entries = StructArray::new(
        map_entry_fields(key, value),
        vec![
            key_column(keys.into_iter(), key),
            key_column(items.into_iter(), value),
        ],
        None,
    );
    Arc::new(MapArray::new(
        Arc::new(map_entries_field(key, value)),
        offsets,
        entries,
        nulls,
        false,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_and_maps_round_trip_through_columns() {
        let array_type = SqlType::Array(Box::new(SqlType::BigInt));
        let arrays = [
            KeyValue::Array([KeyValue::Int(1), KeyValue::Null, KeyValue::Int(3)].into()),
            KeyValue::Null,
            KeyValue::Array([].into()),
        ];
        let column = key_column(arrays.iter(), &array_type);
        assert_eq!(column.null_count(), 1);
        let back: Vec<KeyValue> = (0..3)
            .map(|row| key_value(column.as_ref(), row, &array_type))
            .collect();
        assert_eq!(back, arrays);

        let map_type = SqlType::Map(Box::new(SqlType::Varchar(None)), Box::new(SqlType::Int));
        let maps = [
            KeyValue::Map(
                [
                    (KeyValue::Str("a".into()), KeyValue::Int(1)),
                    (KeyValue::Str("b".into()), KeyValue::Null),
                ]
                .into(),
            ),
            KeyValue::Null,
        ];
        let column = key_column(maps.iter(), &map_type);
        let back: Vec<KeyValue> = (0..2)
            .map(|row| key_value(column.as_ref(), row, &map_type))
            .collect();
        assert_eq!(back, maps);
    }
}
