//! Tests of snapshots: entries, key groups, redistribution at other parallelisms.

use super::*;

fn list(distribution: Distribution, elements: &[u8]) -> OperatorStateSnapshot {
    let mut snapshot = OperatorStateSnapshot::default();
    snapshot.lists.insert(
        "l".into(),
        OperatorList {
            distribution,
            elements: elements.iter().map(|e| vec![*e]).collect(),
        },
    );
    snapshot
}

fn elements(snapshot: &OperatorStateSnapshot) -> Vec<u8> {
    snapshot.lists["l"].elements.iter().map(|e| e[0]).collect()
}

#[test]
fn split_lists_are_dealt_out_in_contiguous_parts() {
    let old = [
        list(Distribution::Split, &[1, 2, 3]),
        list(Distribution::Split, &[4, 5]),
    ];
    let parts: Vec<Vec<u8>> = (0..3)
        .map(|i| elements(&OperatorStateSnapshot::redistribute(&old, i, 3)))
        .collect();
    assert_eq!(parts, vec![vec![1, 2], vec![3, 4], vec![5]]);
    let one = OperatorStateSnapshot::redistribute(&old, 0, 1);
    assert_eq!(elements(&one), vec![1, 2, 3, 4, 5]);
}

#[test]
fn split_lists_stay_with_their_subtask_at_the_same_parallelism() {
    let old = [
        list(Distribution::Split, &[1, 2, 3]),
        list(Distribution::Split, &[4]),
    ];
    assert_eq!(
        elements(&OperatorStateSnapshot::redistribute(&old, 0, 2)),
        vec![1, 2, 3]
    );
    assert_eq!(
        elements(&OperatorStateSnapshot::redistribute(&old, 1, 2)),
        vec![4]
    );
}

#[test]
fn union_lists_go_to_every_subtask() {
    let old = [
        list(Distribution::Union, &[1]),
        list(Distribution::Union, &[2, 3]),
    ];
    for i in 0..4 {
        assert_eq!(
            elements(&OperatorStateSnapshot::redistribute(&old, i, 4)),
            vec![1, 2, 3]
        );
    }
}

#[test]
fn key_groups_go_to_the_subtask_owning_them() {
    let mut a = KeyedSnapshot::default();
    a.push(0, "s", b"k0", b"v0");
    a.push(5, "s", b"k5", b"v5");
    let mut b = KeyedSnapshot::default();
    b.push(9, "s", b"k9", b"v9");
    b.push(9, "t", b"x", b"y");
    let range = KeyGroupRange { start: 4, end: 9 };
    let selected = KeyedSnapshot::select([&a, &b], range);
    assert_eq!(selected.key_groups().collect::<Vec<_>>(), vec![5, 9]);
    let s: Vec<_> = selected.entries("s").map(|(g, k, _)| (g, k)).collect();
    assert_eq!(s, vec![(5, &b"k5"[..]), (9, &b"k9"[..])]);
    assert_eq!(selected.state_names(), vec!["s", "t"]);
}

#[test]
fn entries_keep_long_and_empty_byte_strings() {
    let mut snapshot = KeyedSnapshot::default();
    let long = vec![7u8; 300];
    snapshot.push(1, "s", &long, b"");
    snapshot.push(1, "s", b"", &long);
    let entries: Vec<_> = snapshot.entries("s").collect();
    assert_eq!(
        entries,
        vec![(1, &long[..], &b""[..]), (1, &b""[..], &long[..])]
    );
    let bytes = postcard::to_stdvec(&snapshot).unwrap();
    let back: KeyedSnapshot = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(back, snapshot);
}

#[test]
fn an_entry_writer_buckets_encoded_entries_by_key_group() {
    let mut snapshot = KeyedSnapshot::default();
    snapshot.push(2, "t", b"k", b"v");
    let mut writer = EntryWriter::new("t");
    writer.entry(2, "alpha", &1u32).unwrap();
    writer.entry(0, "beta", &2u32).unwrap();
    writer.finish(&mut snapshot);
    let decoded: Vec<(usize, String, u32)> = snapshot
        .entries("t")
        .filter(|(_, k, _)| *k != b"k")
        .map(|(g, k, v)| {
            (
                g,
                postcard::from_bytes(k).unwrap(),
                postcard::from_bytes(v).unwrap(),
            )
        })
        .collect();
    assert_eq!(decoded, vec![(0, "beta".into(), 2), (2, "alpha".into(), 1)]);
    assert_eq!(snapshot.entries("t").count(), 3);
}
