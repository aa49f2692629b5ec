//! The test suite every state backend must pass, driven through the backend trait and the
//! typed handles. Built with the `testing` feature, for the backends' tests.

use std::time::Duration;

use crate::backend::StateBackend;
use crate::handles::{AggregatingState, ListState, MapState, ReducingState, ValueState};
use crate::scope::KeyedStateScope;
use crate::snapshot::KeyedSnapshot;
use crate::ttl::StateTtlConfig;
use sluice_core::key_group::KeyGroupRange;

/// Sums values as an aggregate, for the suite.
struct Average;

impl sluice_core::AggregateFunction<i64, (i64, i64), f64> for Average {
    fn create_accumulator(&self) -> (i64, i64) {
        (0, 0)
    }
    fn add(&self, accumulator: &mut (i64, i64), value: i64) {
        accumulator.0 += value;
        accumulator.1 += 1;
    }
    fn get_result(&self, accumulator: &(i64, i64)) -> f64 {
        accumulator.0 as f64 / accumulator.1 as f64
    }
    fn merge(&self, a: (i64, i64), b: (i64, i64)) -> (i64, i64) {
        (a.0 + b.0, a.1 + b.1)
    }
}

fn scope<'a>(
    backend: &'a mut dyn StateBackend,
    key: &str,
    namespace: u32,
    now: i64,
) -> KeyedStateScope<'a> {
    let key_group = sluice_core::key_group::assign_to_key_group(key, 128);
    KeyedStateScope::new(backend, key_group, key, &namespace, now).expect("encodable key")
}

/// Runs the suite against backends made by `make`; panics on the first failure.
pub fn backend_suite<B: StateBackend>(make: impl Fn() -> B) {
    raw_operations(&mut make());
    typed_handles_are_scoped_to_key_and_namespace(&mut make());
    time_to_live(&mut make());
    snapshots_restore_at_any_parallelism(&make);
}

fn raw_operations(backend: &mut dyn StateBackend) {
    let a = backend.register("a").unwrap();
    let b = backend.register("b").unwrap();
    assert_eq!(
        backend.register("a").unwrap(),
        a,
        "registering twice gives the same id"
    );
    assert_ne!(a, b);
    backend
        .put(a.in_group(3), b"k1".to_vec(), b"v1".to_vec())
        .unwrap();
    backend
        .put(a.in_group(3), b"k2".to_vec(), b"v2".to_vec())
        .unwrap();
    backend
        .put(a.in_group(4), b"k1".to_vec(), b"other group".to_vec())
        .unwrap();
    backend
        .put(b.in_group(3), b"k1".to_vec(), b"other state".to_vec())
        .unwrap();
    assert_eq!(
        backend.get(a.in_group(3), b"k1").unwrap().as_deref(),
        Some(&b"v1"[..])
    );
    assert_eq!(backend.len(a).unwrap(), 3);
    let scanned = backend.scan_prefix(a.in_group(3), b"k").unwrap();
    assert_eq!(scanned.len(), 2);
    assert_eq!(scanned[0].0, b"k1");
    backend.delete_prefix(a.in_group(3), b"k").unwrap();
    assert_eq!(backend.get(a.in_group(3), b"k2").unwrap(), None);
    assert_eq!(
        backend.get(a.in_group(4), b"k1").unwrap().as_deref(),
        Some(&b"other group"[..])
    );
    backend.delete(b.in_group(3), b"k1").unwrap();
    assert_eq!(backend.len(b).unwrap(), 0);
}

fn typed_handles_are_scoped_to_key_and_namespace(backend: &mut dyn StateBackend) {
    let value = ValueState::<String>::new("value");
    let list = ListState::<u32>::new("list");
    let map = MapState::<String, i64>::new("map");
    let reducing = ReducingState::new("reducing", |a: i64, b: i64| a + b);
    let aggregating = AggregatingState::new("aggregating", Average);
    {
        let mut s = scope(backend, "alice", 0, 0);
        value.update(&mut s, &"hello".to_string()).unwrap();
        list.add(&mut s, 1).unwrap();
        list.add_all(&mut s, [2, 3]).unwrap();
        map.put(&mut s, &"x".to_string(), &10).unwrap();
        map.put(&mut s, &"y".to_string(), &20).unwrap();
        reducing.add(&mut s, 5).unwrap();
        reducing.add(&mut s, 7).unwrap();
        aggregating.add(&mut s, 2).unwrap();
        aggregating.add(&mut s, 4).unwrap();
    }
    {
        let mut s = scope(backend, "alice", 1, 0);
        assert_eq!(
            value.value(&mut s).unwrap(),
            None,
            "another namespace is separate"
        );
        map.put(&mut s, &"x".to_string(), &-1).unwrap();
    }
    {
        let mut s = scope(backend, "bob", 0, 0);
        assert_eq!(
            value.value(&mut s).unwrap(),
            None,
            "another key is separate"
        );
        assert!(list.get(&mut s).unwrap().is_empty());
        assert!(map.is_empty(&mut s).unwrap());
    }
    let mut s = scope(backend, "alice", 0, 0);
    assert_eq!(value.value(&mut s).unwrap().as_deref(), Some("hello"));
    assert_eq!(list.get(&mut s).unwrap(), vec![1, 2, 3]);
    assert_eq!(map.get(&mut s, &"y".to_string()).unwrap(), Some(20));
    assert_eq!(
        map.entries(&mut s).unwrap(),
        vec![("x".to_string(), 10), ("y".to_string(), 20)]
    );
    map.remove(&mut s, &"x".to_string()).unwrap();
    assert!(!map.contains(&mut s, &"x".to_string()).unwrap());
    assert_eq!(reducing.get(&mut s).unwrap(), Some(12));
    assert_eq!(aggregating.get(&mut s).unwrap(), Some(3.0));
    value.clear(&mut s).unwrap();
    list.clear(&mut s).unwrap();
    map.clear(&mut s).unwrap();
    assert_eq!(value.value(&mut s).unwrap(), None);
    assert!(list.get(&mut s).unwrap().is_empty());
    assert!(map.is_empty(&mut s).unwrap());
    let mut other = scope(backend, "alice", 1, 0);
    assert_eq!(
        map.get(&mut other, &"x".to_string()).unwrap(),
        Some(-1),
        "clear kept other namespaces"
    );
    let wrong = ValueState::<(u64, u64, u64)>::new("value");
    let mut s = scope(backend, "carol", 0, 0);
    ValueState::<u8>::new("value").update(&mut s, &1).unwrap();
    assert!(
        wrong.value(&mut s).is_err(),
        "a type change is an error, not garbage"
    );
}

fn time_to_live(backend: &mut dyn StateBackend) {
    let ttl = StateTtlConfig::new(Duration::from_millis(100));
    let value = ValueState::<u32>::new("ttl value").with_ttl(ttl);
    let touched = ValueState::<u32>::new("ttl on read").with_ttl(ttl.update_on_read_and_write());
    let map = MapState::<u32, u32>::new("ttl map").with_ttl(ttl);
    {
        let mut s = scope(backend, "k", 0, 1_000);
        value.update(&mut s, &1).unwrap();
        touched.update(&mut s, &2).unwrap();
        map.put(&mut s, &1, &1).unwrap();
    }
    {
        let mut s = scope(backend, "k", 0, 1_050);
        map.put(&mut s, &2, &2).unwrap();
        assert_eq!(touched.value(&mut s).unwrap(), Some(2), "read refreshes");
    }
    let mut s = scope(backend, "k", 0, 1_120);
    assert_eq!(value.value(&mut s).unwrap(), None, "expired after 100 ms");
    assert_eq!(touched.value(&mut s).unwrap(), Some(2), "refreshed at 1050");
    assert_eq!(
        map.entries(&mut s).unwrap(),
        vec![(2, 2)],
        "entries expire one by one"
    );
}

/// State written under 40 keys, snapshotted, and restored into two and into three backends
/// (each owning its key groups) reads back the same per key, and nothing twice.
fn snapshots_restore_at_any_parallelism<B: StateBackend>(make: &impl Fn() -> B) {
    let value = ValueState::<u32>::new("value");
    let list = ListState::<u32>::new("list");
    let keys: Vec<String> = (0..40).map(|i| format!("key-{i}")).collect();
    let mut original = make();
    for (i, key) in keys.iter().enumerate() {
        let mut s = scope(&mut original, key, 0, 0);
        value.update(&mut s, &(i as u32)).unwrap();
        list.add_all(&mut s, [i as u32, 100 + i as u32]).unwrap();
    }
    let mut snapshot = KeyedSnapshot::default();
    original.snapshot(&mut snapshot).unwrap();
    for parallelism in [1, 2, 3] {
        let mut restored: Vec<B> = (0..parallelism).map(|_| make()).collect();
        for (index, backend) in restored.iter_mut().enumerate() {
            let range = KeyGroupRange::for_subtask(128, parallelism, index);
            backend
                .restore(&KeyedSnapshot::select([&snapshot], range))
                .unwrap();
        }
        for (i, key) in keys.iter().enumerate() {
            let key_group = sluice_core::key_group::assign_to_key_group(key.as_str(), 128);
            let owner =
                sluice_core::key_group::operator_index_for_key_group(128, parallelism, key_group);
            for (index, backend) in restored.iter_mut().enumerate() {
                let mut s = scope(backend, key, 0, 0);
                let expected = (index == owner).then_some(i as u32);
                assert_eq!(
                    value.value(&mut s).unwrap(),
                    expected,
                    "{key} at p={parallelism}"
                );
                let expected_list = if index == owner {
                    vec![i as u32, 100 + i as u32]
                } else {
                    Vec::new()
                };
                assert_eq!(list.get(&mut s).unwrap(), expected_list);
            }
        }
    }
}
