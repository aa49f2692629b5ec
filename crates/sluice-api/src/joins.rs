//! Window joins and co-groups (Flink's `JoinedStreams` / `CoGroupedStreams`): the elements of
//! two streams with equal keys that fall into the same window are joined pairwise (join: keys
//! on both sides only) or handed over as two groups (co-group: every key of the window, with an
//! empty group for a side that has none of its elements — outer joins are built on it).
//!
//! As in Flink, both inputs are tagged, unioned, keyed and windowed; the window function then
//! splits each window's elements back into the two sides.

use std::marker::PhantomData;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sluice_core::{KeyData, StreamData, UserResult};
use sluice_runtime::task::output::Collector;
use sluice_runtime::windowing::{Elements, Window, WindowAssigner, WindowContext};

use crate::datastream::DataStream;
use crate::settings::OperatorSettings;

/// A shared key selector.
type KeyFn<T, K> = Arc<dyn Fn(&T) -> K + Send + Sync>;

/// An element of either input of a join.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaggedUnion<A, B> {
    /// From the first stream.
    One(A),
    /// From the second stream.
    Two(B),
}

/// What two streams are brought together for: pairs of elements.
#[derive(Debug, Clone, Copy)]
pub struct Join;

/// What two streams are brought together for: both sides' groups of elements at once.
#[derive(Debug, Clone, Copy)]
pub struct CoGroup;

/// Two streams to join (Flink's `JoinedStreams`) or, with `M` = [`CoGroup`], to co-group.
pub struct JoinedStreams<A, B, M = Join> {
    first: DataStream<A>,
    second: DataStream<B>,
    _mode: PhantomData<M>,
}

/// Two streams to co-group; Flink's `CoGroupedStreams`.
pub type CoGroupedStreams<A, B> = JoinedStreams<A, B, CoGroup>;

/// Two streams with the first's key chosen.
pub struct JoinWhere<A, B, K, M = Join> {
    streams: JoinedStreams<A, B, M>,
    first_key: KeyFn<A, K>,
}

/// Two streams with both keys chosen.
pub struct JoinEqualTo<A, B, K, M = Join> {
    streams: JoinedStreams<A, B, M>,
    first_key: KeyFn<A, K>,
    second_key: KeyFn<B, K>,
}

/// Two keyed streams cut into windows, ready for a join or co-group function.
pub struct WindowedJoin<A, B, K, W, M = Join> {
    tagged: DataStream<TaggedUnion<A, B>>,
    key: KeyFn<TaggedUnion<A, B>, K>,
    assigner: Arc<dyn WindowAssigner<TaggedUnion<A, B>, W>>,
    _mode: PhantomData<M>,
}

impl<A: StreamData> DataStream<A> {
    /// Joins with `other` on equal keys within windows: the function sees every pair of
    /// elements of a key and window, one from each side (an inner join).
    pub fn join<B: StreamData>(self, other: DataStream<B>) -> JoinedStreams<A, B> {
        JoinedStreams {
            first: self,
            second: other,
            _mode: PhantomData,
        }
    }

    /// Co-groups with `other`: per key and window, the function sees both sides' elements at
    /// once, also when one side has none (Flink's `coGroup`).
    pub fn co_group<B: StreamData>(self, other: DataStream<B>) -> CoGroupedStreams<A, B> {
        JoinedStreams {
            first: self,
            second: other,
            _mode: PhantomData,
        }
    }
}

impl<A: StreamData, B: StreamData, M> JoinedStreams<A, B, M> {
    /// The key of the first stream's elements (`where` in Flink).
    pub fn where_<K: KeyData>(
        self,
        key: impl Fn(&A) -> K + Send + Sync + 'static,
    ) -> JoinWhere<A, B, K, M> {
        JoinWhere {
            streams: self,
            first_key: Arc::new(key),
        }
    }
}

impl<A: StreamData, B: StreamData, K: KeyData, M> JoinWhere<A, B, K, M> {
    /// The key of the second stream's elements.
    pub fn equal_to(
        self,
        key: impl Fn(&B) -> K + Send + Sync + 'static,
    ) -> JoinEqualTo<A, B, K, M> {
        JoinEqualTo {
            streams: self.streams,
            first_key: self.first_key,
            second_key: Arc::new(key),
        }
    }
}

/// A window assigner for the tagged union that delegates to one for either side's elements.
struct TaggedAssigner<W, X> {
    inner: X,
    _window: PhantomData<fn() -> W>,
}

impl<A, B, W, X> WindowAssigner<TaggedUnion<A, B>, W> for TaggedAssigner<W, X>
where
    A: 'static,
    B: 'static,
    W: Window,
    X: WindowAssigner<(), W>,
{
    fn assign_windows(
        &self,
        _: &TaggedUnion<A, B>,
        timestamp: i64,
        now: i64,
    ) -> Result<Vec<W>, String> {
        self.inner.assign_windows(&(), timestamp, now)
    }

    fn is_event_time(&self) -> bool {
        self.inner.is_event_time()
    }

    fn default_trigger(&self) -> Arc<dyn sluice_runtime::windowing::Trigger<TaggedUnion<A, B>, W>> {
        if self.inner.is_event_time() {
            Arc::new(sluice_runtime::windowing::EventTimeTrigger)
        } else {
            Arc::new(sluice_runtime::windowing::ProcessingTimeTrigger)
        }
    }

    fn is_merging(&self) -> bool {
        self.inner.is_merging()
    }

    fn merge_windows(&self, windows: &[W]) -> Vec<(W, Vec<W>)> {
        self.inner.merge_windows(windows)
    }

    fn validate(&self) -> Result<(), String> {
        self.inner.validate()
    }
}

impl<A: StreamData, B: StreamData, K: KeyData, M> JoinEqualTo<A, B, K, M> {
    /// Cuts both streams into the windows of `assigner` (a time-based assigner: tumbling,
    /// sliding or session).
    pub fn window<W: Window, X: WindowAssigner<(), W>>(
        self,
        assigner: X,
    ) -> WindowedJoin<A, B, K, W, M> {
        let (first_key, second_key) = (self.first_key, self.second_key);
        let first = self.streams.first.map(TaggedUnion::One);
        let second = self.streams.second.map(TaggedUnion::Two);
        WindowedJoin {
            tagged: first.union([second]),
            key: Arc::new(move |element: &TaggedUnion<A, B>| match element {
                TaggedUnion::One(a) => first_key(a),
                TaggedUnion::Two(b) => second_key(b),
            }),
            assigner: Arc::new(TaggedAssigner {
                inner: assigner,
                _window: PhantomData,
            }),
            _mode: PhantomData,
        }
    }
}

/// Splits a window's tagged elements into the two sides, in arrival order.
fn split<A, B>(elements: Elements<'_, TaggedUnion<A, B>>) -> (Vec<&A>, Vec<&B>) {
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for element in elements {
        match element {
            TaggedUnion::One(a) => first.push(a),
            TaggedUnion::Two(b) => second.push(b),
        }
    }
    (first, second)
}

impl<A: StreamData, B: StreamData, K: KeyData, W: Window, M> WindowedJoin<A, B, K, W, M> {
    /// Per key and window, hands both sides' elements to `function`.
    fn groups<O, F>(self, name: &str, function: F) -> DataStream<O>
    where
        O: StreamData,
        F: FnMut(&[&A], &[&B], &mut Collector<'_, O>) -> UserResult + Clone + Send + Sync + 'static,
    {
        let key = Arc::clone(&self.key);
        let assigner = Arc::clone(&self.assigner);
        let windowed = self
            .tagged
            .key_by(move |element: &TaggedUnion<A, B>| key(element))
            .window(ArcAssigner(assigner));
        let mut function = function;
        windowed
            .process(
                move |_: &K,
                      _: &mut WindowContext<'_, W>,
                      elements: Elements<'_, TaggedUnion<A, B>>,
                      out: &mut Collector<'_, O>| {
                    let (first, second) = split(elements);
                    function(&first, &second, out)
                },
            )
            .name(name)
    }
}

impl<A: StreamData, B: StreamData, K: KeyData, W: Window> WindowedJoin<A, B, K, W, Join> {
    /// Per key and window, calls `function` for every pair of elements of the two sides (Flink's
    /// `JoinFunction`); a key with elements on one side only yields nothing.
    pub fn apply<O, F>(self, function: F) -> DataStream<O>
    where
        O: StreamData,
        F: Fn(&A, &B) -> O + Clone + Send + Sync + 'static,
    {
        self.groups(
            "Window Join",
            move |first: &[&A], second: &[&B], out: &mut Collector<'_, O>| {
                for a in first {
                    for b in second {
                        out.collect(function(a, b));
                    }
                }
                Ok(())
            },
        )
    }
}

impl<A: StreamData, B: StreamData, K: KeyData, W: Window> WindowedJoin<A, B, K, W, CoGroup> {
    /// Per key and window, hands all elements of both sides to `function` (Flink's
    /// `CoGroupFunction`): every key with an element in the window on either side, the other
    /// side's group empty when it has none.
    pub fn apply<O, F>(self, function: F) -> DataStream<O>
    where
        O: StreamData,
        F: FnMut(&[&A], &[&B], &mut Collector<'_, O>) -> UserResult + Clone + Send + Sync + 'static,
    {
        self.groups("Window CoGroup", function)
    }
}

/// A shared assigner used as an assigner.
struct ArcAssigner<T, W>(Arc<dyn WindowAssigner<T, W>>);

impl<T: 'static, W: Window> WindowAssigner<T, W> for ArcAssigner<T, W> {
    fn assign_windows(&self, element: &T, timestamp: i64, now: i64) -> Result<Vec<W>, String> {
        self.0.assign_windows(element, timestamp, now)
    }
    fn is_event_time(&self) -> bool {
        self.0.is_event_time()
    }
    fn default_trigger(&self) -> Arc<dyn sluice_runtime::windowing::Trigger<T, W>> {
        self.0.default_trigger()
    }
    fn is_merging(&self) -> bool {
        self.0.is_merging()
    }
    fn merge_windows(&self, windows: &[W]) -> Vec<(W, Vec<W>)> {
        self.0.merge_windows(windows)
    }
    fn validate(&self) -> Result<(), String> {
        self.0.validate()
    }
}
