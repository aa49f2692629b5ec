//! The operators SQL jobs run, all over [`RowBatch`](crate::batch::RowBatch) records: CSV
//! decoding, Calc (filter and projection), the watermark generator of a table's `WATERMARK`,
//! the split of batches by key for the exchange, window table functions and aggregation, group aggregation (a
//! changelog), the regular and the window join, and where they keep their state by key.

pub mod calc;
pub mod decode;
mod expiry_scan;
pub mod group_agg;
pub mod join;
mod kept_rows;
mod key_ids;
pub mod key_split;
pub mod keyed_state;
pub mod open_windows;
pub mod session_rows;
pub mod session_states;
pub mod sessions;
pub mod shared_exprs;
mod slice_groups;
pub mod sliced_windows;
pub mod watermarks;
pub mod window_agg;
pub mod window_join;
pub mod window_kind;
pub mod window_table;
