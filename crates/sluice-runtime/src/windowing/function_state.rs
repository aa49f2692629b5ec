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

use super::functions::{InternalWindowFunction, WindowContext, WindowStateAccess};
use super::window::Window;
use crate::task::output::Output;
use crate::time::processing_time::ProcessingTime;

/// The watermark and processing time a window function sees.
pub(crate) type Times = (Timestamp, ProcessingTime);

/// A window operator's function state.
pub(crate) struct FunctionState {
    backend: Box<dyn StateBackend>,
    max_parallelism: usize,
}

/// Empty state in memory for the default number of key groups: what an operator holds until
/// `open` gives it the job's.
impl Default for FunctionState {
    fn default() -> Self {
        FunctionState::new(sluice_core::DEFAULT_MAX_PARALLELISM)
    }
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
    fn with_context<K: Hash + Serialize, W: Window, R>(
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

    /// Emits what `function` makes of `key`'s `window` holding `contents`; the results carry
    /// the window's max timestamp.
    pub(crate) fn emit<F: InternalWindowFunction>(
        &mut self,
        function: &mut F,
        key: &F::Key,
        window: &F::Window,
        contents: &mut F::Contents,
        times: Times,
        out: &mut Output<F::Out>,
    ) -> UserResult {
        self.with_context(key, window, times, |ctx| {
            let mut collector = out.collector(Some(window.max_timestamp()));
            function.emit(key, ctx, contents, &mut collector)
        })
    }

    /// Lets `function` clear its state of `key`'s `window`, which is being dropped.
    pub(crate) fn clear<F: InternalWindowFunction>(
        &mut self,
        function: &mut F,
        key: &F::Key,
        window: &F::Window,
        times: Times,
    ) -> UserResult {
        self.with_context(key, window, times, |ctx| function.clear(key, ctx))
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
