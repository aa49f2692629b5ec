//! The keyed state of window functions — per window and per key, as process window functions
//! see it through `window_state()` and `global_state()` — held by each window operator and
//! snapshotted with it.

use std::hash::Hash;

use serde::Serialize;
use sluice_core::key_group::assign_to_key_group;
use sluice_core::{Timestamp, UserResult};
use sluice_state::scope::encode_key;
use sluice_state::{HeapStateBackend, KeyedSnapshot, StateBackend, StateError};

use crate::task::operator::OperatorContext;

use super::functions::{WindowContext, WindowStateAccess};
use super::window::Window;
use crate::task::output::{Collector, Output};
use crate::time::processing_time::ProcessingTime;

/// The watermark and processing time a window function sees.
pub(crate) type Times = (Timestamp, ProcessingTime);

/// A window operator's function state.
pub(crate) struct FunctionState {
    backend: Box<dyn StateBackend>,
    max_parallelism: usize,
}

impl FunctionState {
    /// Empty state in memory for `max_parallelism` key groups.
    pub(crate) fn new(max_parallelism: usize) -> Self {
        FunctionState {
            backend: Box::new(HeapStateBackend::new(max_parallelism)),
            max_parallelism,
        }
    }

    /// Empty state on the backend the operator instance is configured with.
    pub(crate) fn for_operator(ctx: &OperatorContext) -> Result<Self, StateError> {
        Ok(FunctionState {
            backend: ctx.state_backend.create(ctx.backend_scope())?,
            max_parallelism: ctx.max_parallelism,
        })
    }

    /// The number of key groups.
    pub(crate) fn max_parallelism(&self) -> usize {
        self.max_parallelism
    }

    /// Calls `f` with a context for `key` and `window`; the state prefixes are encoded only if
    /// the function asks for state.
    pub(crate) fn with_context<K: Hash + Serialize, W: Window, R>(
        &mut self,
        key: &K,
        window: &W,
        (watermark, now): Times,
        f: impl FnOnce(&mut WindowContext<'_, W>) -> R,
    ) -> R {
        let prefix = |per_window: bool| {
            if per_window {
                encode_key(key, window)
            } else {
                encode_key(key, &())
            }
        };
        let access = WindowStateAccess {
            backend: &mut *self.backend,
            key_group: assign_to_key_group(key, self.max_parallelism),
            prefix: &prefix,
        };
        f(&mut WindowContext::new(window, watermark, now).with_state(access))
    }

    /// Calls `emit` with a context for `key` and `window` and a collector whose results carry
    /// the window's max timestamp.
    pub(crate) fn emit<K: Hash + Serialize, W: Window, O>(
        &mut self,
        key: &K,
        window: &W,
        times: Times,
        out: &mut Output<O>,
        emit: impl FnOnce(&mut WindowContext<'_, W>, &mut Collector<'_, O>) -> UserResult,
    ) -> UserResult {
        self.with_context(key, window, times, |ctx| {
            emit(ctx, &mut out.collector(Some(window.max_timestamp())))
        })
    }

    /// Adds the state to `into`.
    pub(crate) fn snapshot(&self, into: &mut KeyedSnapshot) -> Result<(), StateError> {
        self.backend.snapshot(into)
    }

    /// Checkpoint `checkpoint_id` completed: the backend may refer to what it stored.
    pub(crate) fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) {
        self.backend.notify_checkpoint_complete(checkpoint_id);
    }

    /// Loads the state from `from`, leaving out the operator's own states (`own`).
    pub(crate) fn restore(&mut self, from: &KeyedSnapshot, own: &[&str]) -> Result<(), StateError> {
        self.backend
            .restore_where(from, &|name| !own.contains(&name))
    }
}
