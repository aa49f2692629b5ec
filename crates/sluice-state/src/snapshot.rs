//! Snapshots of an operator subtask's state: keyed state as bytes grouped by key group, and
//! operator (non-keyed) list state. This is what a checkpoint stores per subtask, and how the
//! snapshots of all old subtasks are divided again when a job restarts at another parallelism:
//! key groups go to the subtask owning them, split lists are dealt out in contiguous parts,
//! union lists go to every subtask.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use sluice_core::key_group::KeyGroupRange;

use crate::error::StateError;
use crate::native::NativeKeyedState;

/// The entries of one state in one key group: `len | key | len | value` frames, lengths as
/// LEB128 varints, in one buffer (no allocation per entry; written as bytes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Entries(#[serde(with = "serde_bytes")] Vec<u8>);

fn push_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn read_varint(bytes: &[u8]) -> Option<(usize, &[u8])> {
    let mut n = 0usize;
    for (i, byte) in bytes.iter().enumerate().take(10) {
        n |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((n, &bytes[i + 1..]));
        }
    }
    None
}

/// Appends one framed byte string.
fn push_frame(out: &mut Vec<u8>, bytes: &[u8]) {
    push_varint(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// Splits one framed byte string off the front.
fn read_frame(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = read_varint(bytes)?;
    (rest.len() >= len).then(|| rest.split_at(len))
}

impl Entries {
    fn push(&mut self, key: &[u8], value: &[u8]) {
        push_frame(&mut self.0, key);
        push_frame(&mut self.0, value);
    }

    /// The entries, in the order they were pushed (a damaged buffer ends early).
    fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let mut rest = self.0.as_slice();
        std::iter::from_fn(move || {
            let (key, after_key) = read_frame(rest)?;
            let (value, after_value) = read_frame(after_key)?;
            rest = after_value;
            Some((key, value))
        })
    }
}

/// Writes the entries of one state, bucketed by key group, without an allocation per entry:
/// the fast way for an operator to snapshot a large table.
pub struct EntryWriter {
    state: String,
    /// Entries by key group (indexed: one lookup-free push per entry).
    groups: Vec<Entries>,
    key: Vec<u8>,
    value: Vec<u8>,
}

impl EntryWriter {
    /// A writer for the entries of `state`.
    pub fn new(state: &str) -> Self {
        EntryWriter {
            state: state.to_string(),
            groups: Vec::new(),
            key: Vec::new(),
            value: Vec::new(),
        }
    }

    /// Adds `key` → `value`, encoded with postcard, in `key_group`.
    pub fn entry<K: Serialize + ?Sized, V: Serialize + ?Sized>(
        &mut self,
        key_group: usize,
        key: &K,
        value: &V,
    ) -> Result<(), crate::error::StateError> {
        let failed = |e: postcard::Error| crate::error::StateError::Codec {
            state: self.state.clone(),
            action: "encode",
            message: e.to_string(),
        };
        self.key.clear();
        self.value.clear();
        let key_bytes = std::mem::take(&mut self.key);
        let value_bytes = std::mem::take(&mut self.value);
        let key_bytes = postcard::to_extend(key, key_bytes).map_err(failed)?;
        let value_bytes = postcard::to_extend(value, value_bytes).map_err(failed)?;
        if self.groups.len() <= key_group {
            self.groups.resize_with(key_group + 1, Entries::default);
        }
        self.groups[key_group].push(&key_bytes, &value_bytes);
        self.key = key_bytes;
        self.value = value_bytes;
        Ok(())
    }

    /// Moves the entries into `snapshot`.
    pub fn finish(self, snapshot: &mut KeyedSnapshot) {
        for (group, entries) in self.groups.into_iter().enumerate() {
            if entries.0.is_empty() {
                continue;
            }
            let states = snapshot.groups.entry(group).or_default();
            match states.get_mut(&self.state) {
                Some(existing) => existing.0.extend_from_slice(&entries.0),
                None => {
                    states.insert(self.state.clone(), entries);
                }
            }
        }
    }
}

/// What a snapshot is taken for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SnapshotRequest {
    /// The checkpoint's id (0 outside checkpoints, as in tests).
    pub checkpoint_id: u64,
    /// A savepoint: always in the canonical, backend-independent format, never referring to
    /// files of other checkpoints.
    pub savepoint: bool,
}

/// Work that adds a snapshot's entries after the barrier, off the task thread: the backend
/// captured a consistent view of its state at the barrier (see [`KeyedSnapshot::defer`]).
pub type DeferredEntries = Box<dyn FnOnce(&mut KeyedSnapshot) -> Result<(), StateError> + Send>;

/// The deferred work of a snapshot (shared by its clones: whichever materializes runs it).
#[derive(Clone, Default)]
struct Deferred(Arc<Mutex<Vec<DeferredEntries>>>);

impl Deferred {
    fn take(&self) -> Vec<DeferredEntries> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn is_empty(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }
}

impl std::fmt::Debug for Deferred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Deferred(pending: {})", !self.is_empty())
    }
}

/// Deferred work is not part of a snapshot's value.
impl PartialEq for Deferred {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Deferred {}

/// The keyed state of one subtask: for every key group with state, each named state's entries,
/// and the files of backends that snapshot natively (incremental checkpoints).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyedSnapshot {
    groups: BTreeMap<usize, BTreeMap<String, Entries>>,
    native: Vec<NativeKeyedState>,
    #[serde(skip)]
    request: SnapshotRequest,
    #[serde(skip)]
    deferred: Deferred,
}

impl KeyedSnapshot {
    /// An empty snapshot taken for `request`.
    pub fn for_request(request: SnapshotRequest) -> Self {
        KeyedSnapshot {
            request,
            ..KeyedSnapshot::default()
        }
    }

    /// What this snapshot is taken for.
    pub fn request(&self) -> SnapshotRequest {
        self.request
    }

    /// Leaves `work` to add entries later, off the task thread: the checkpoint coordinator runs
    /// it (through [`KeyedSnapshot::materialize`]) before the snapshot is written.
    pub fn defer(&mut self, work: DeferredEntries) {
        self.deferred
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(work);
    }

    /// Runs the deferred work, adding its entries; afterwards the snapshot is complete.
    pub fn materialize(&mut self) -> Result<(), StateError> {
        for work in self.deferred.take() {
            work(self)?;
        }
        Ok(())
    }

    /// Whether deferred work is still pending (the snapshot is not complete yet).
    pub fn is_deferred(&self) -> bool {
        !self.deferred.is_empty()
    }

    /// Adds a backend's files.
    pub fn push_native(&mut self, state: NativeKeyedState) {
        self.native.push(state);
    }

    /// The backends' files.
    pub fn native(&self) -> &[NativeKeyedState] {
        &self.native
    }

    /// The backends' files, to resolve where they are read from.
    pub fn native_mut(&mut self) -> &mut [NativeKeyedState] {
        &mut self.native
    }

    /// Fails when a state `keep` accepts is held in a backend's files, which only that backend
    /// can read.
    pub fn require_canonical(&self, keep: &dyn Fn(&str) -> bool) -> Result<(), StateError> {
        for native in &self.native {
            if let Some(state) = native.states.iter().find(|s| keep(s)) {
                return Err(StateError::Incompatible {
                    state: state.clone(),
                    message: format!(
                        "held in an incremental {} checkpoint, which only the {} state backend                          restores (a savepoint is in the canonical format any backend reads)",
                        native.backend, native.backend
                    ),
                });
            }
        }
        Ok(())
    }

    /// Adds one entry of `state` in `key_group`.
    pub fn push(
        &mut self,
        key_group: usize,
        state: &str,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) {
        let states = self.groups.entry(key_group).or_default();
        match states.get_mut(state) {
            Some(entries) => entries.push(key.as_ref(), value.as_ref()),
            None => {
                let mut entries = Entries::default();
                entries.push(key.as_ref(), value.as_ref());
                states.insert(state.to_string(), entries);
            }
        }
    }

    /// Every entry of `state`: (key group, key, value), by key group.
    pub fn entries<'a>(
        &'a self,
        state: &'a str,
    ) -> impl Iterator<Item = (usize, &'a [u8], &'a [u8])> + 'a {
        self.groups.iter().flat_map(move |(group, states)| {
            states
                .get(state)
                .into_iter()
                .flat_map(|entries| entries.iter())
                .map(move |(k, v)| (*group, k, v))
        })
    }

    /// The names of the states with entries.
    pub fn state_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .groups
            .values()
            .flat_map(|states| states.keys().map(String::as_str))
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// The key groups holding state.
    pub fn key_groups(&self) -> impl Iterator<Item = usize> + '_ {
        self.groups.keys().copied()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty() && self.native.is_empty()
    }

    /// The entries of `range`'s key groups out of the snapshots of all old subtasks: what a
    /// subtask owning `range` restores, at any new parallelism.
    pub fn select<'a>(
        snapshots: impl IntoIterator<Item = &'a KeyedSnapshot>,
        range: KeyGroupRange,
    ) -> KeyedSnapshot {
        let mut selected = KeyedSnapshot::default();
        for snapshot in snapshots {
            selected.native.extend(
                snapshot
                    .native
                    .iter()
                    .filter(|native| native.overlaps(range))
                    .cloned(),
            );
            for (group, states) in &snapshot.groups {
                if !range.contains(*group) {
                    continue;
                }
                let target = selected.groups.entry(*group).or_default();
                for (name, entries) in states {
                    target
                        .entry(name.clone())
                        .or_default()
                        .0
                        .extend_from_slice(&entries.0);
                }
            }
        }
        selected
    }
}

/// How an operator list state is divided when restoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Distribution {
    /// The elements of all subtasks are dealt out in contiguous parts, one per new subtask
    /// (Flink's `ListState` of an operator).
    Split,
    /// Every new subtask gets every element of every old subtask (Flink's union list state).
    Union,
}

/// One operator list state: its distribution and its encoded elements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorList {
    /// How it is divided on restore.
    pub distribution: Distribution,
    /// The elements, each encoded on its own.
    pub elements: Vec<Vec<u8>>,
}

/// The operator list states of one subtask, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorStateSnapshot {
    /// Each list state by name.
    pub lists: BTreeMap<String, OperatorList>,
}

impl OperatorStateSnapshot {
    /// What new subtask `index` of `parallelism` restores from the snapshots of all old
    /// subtasks (in subtask order). At unchanged parallelism each subtask keeps its own split
    /// lists; otherwise split lists are dealt out in contiguous parts, the first
    /// `total % parallelism` subtasks one element more.
    pub fn redistribute(
        snapshots: &[OperatorStateSnapshot],
        index: usize,
        parallelism: usize,
    ) -> OperatorStateSnapshot {
        let mut names: Vec<&String> = snapshots.iter().flat_map(|s| s.lists.keys()).collect();
        names.sort_unstable();
        names.dedup();
        let mut restored = OperatorStateSnapshot::default();
        for name in names {
            let parts: Vec<&OperatorList> =
                snapshots.iter().filter_map(|s| s.lists.get(name)).collect();
            let distribution = parts[0].distribution;
            let elements = match distribution {
                Distribution::Union => parts
                    .iter()
                    .flat_map(|p| p.elements.iter().cloned())
                    .collect(),
                Distribution::Split if snapshots.len() == parallelism => snapshots
                    .get(index)
                    .and_then(|s| s.lists.get(name))
                    .map(|l| l.elements.clone())
                    .unwrap_or_default(),
                Distribution::Split => {
                    let all: Vec<&Vec<u8>> = parts.iter().flat_map(|p| &p.elements).collect();
                    let parallelism = parallelism.max(1);
                    let base = all.len() / parallelism;
                    let extra = all.len() % parallelism;
                    let start = index * base + index.min(extra);
                    let len = base + usize::from(index < extra);
                    all.into_iter().skip(start).take(len).cloned().collect()
                }
            };
            restored.lists.insert(
                name.clone(),
                OperatorList {
                    distribution,
                    elements,
                },
            );
        }
        restored
    }
}

/// The in-flight elements an unaligned checkpoint stored for a task's inputs: elements that
/// were sent before the barrier but not yet processed when the task took its snapshot. They
/// are kept with the task's head operator and replayed, before anything else, on restore.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlightData {
    /// Per input of the task, per channel, its elements encoded back to back.
    pub inputs: Vec<Vec<Vec<u8>>>,
}

impl InFlightData {
    /// Whether no channel holds anything.
    pub fn is_empty(&self) -> bool {
        self.inputs.iter().flatten().all(Vec::is_empty)
    }

    /// The stored bytes.
    pub fn bytes(&self) -> usize {
        self.inputs.iter().flatten().map(Vec::len).sum()
    }
}

/// Everything one operator subtask stores at a checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorSnapshot {
    /// Keyed state (contents, timers) by key group.
    pub keyed: KeyedSnapshot,
    /// Operator list states.
    pub operator: OperatorStateSnapshot,
    /// In-flight input of the task this operator heads (unaligned checkpoints only).
    pub in_flight: InFlightData,
}

impl OperatorSnapshot {
    /// An empty snapshot taken for `request`.
    pub fn for_request(request: SnapshotRequest) -> Self {
        OperatorSnapshot {
            keyed: KeyedSnapshot::for_request(request),
            operator: OperatorStateSnapshot::default(),
            in_flight: InFlightData::default(),
        }
    }

    /// What new subtask `index` of `parallelism`, owning key groups `range`, restores from the
    /// snapshots of all old subtasks of the operator (in subtask order). In-flight data is
    /// kept only at unchanged parallelism (a restore that rescales refuses it beforehand).
    pub fn for_subtask(
        snapshots: &[OperatorSnapshot],
        range: KeyGroupRange,
        index: usize,
        parallelism: usize,
    ) -> OperatorSnapshot {
        let operator: Vec<OperatorStateSnapshot> =
            snapshots.iter().map(|s| s.operator.clone()).collect();
        OperatorSnapshot {
            keyed: KeyedSnapshot::select(snapshots.iter().map(|s| &s.keyed), range),
            operator: OperatorStateSnapshot::redistribute(&operator, index, parallelism),
            in_flight: match snapshots.get(index) {
                Some(own) if snapshots.len() == parallelism => own.in_flight.clone(),
                _ => InFlightData::default(),
            },
        }
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.keyed.is_empty() && self.operator.lists.is_empty() && self.in_flight.is_empty()
    }

    /// Completes the keyed snapshot's deferred work (see [`KeyedSnapshot::defer`]).
    pub fn materialize(&mut self) -> Result<(), StateError> {
        self.keyed.materialize()
    }
}

#[cfg(test)]
mod tests;
