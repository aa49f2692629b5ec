//! Tests of checkpoint storage: layout, round trips, corruption, crafted names, durability.

use super::*;
use crate::snapshot::{KeyedSnapshot, OperatorSnapshot};

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sluice-storage-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn checkpoint(id: u64, value: u8) -> (CheckpointMetadata, Vec<(String, TaskSnapshot)>) {
    let mut keyed = KeyedSnapshot::default();
    keyed.push(3, "count", vec![1], vec![value]);
    let snapshot = OperatorSnapshot {
        keyed,
        ..Default::default()
    };
    let files = vec![
        (
            "task-0-0.state".to_string(),
            TaskSnapshot::from([("op".to_string(), snapshot)]),
        ),
        ("task-0-1.state".to_string(), TaskSnapshot::new()),
    ];
    let metadata = CheckpointMetadata {
        checkpoint_id: id,
        timestamp: 1,
        job_id: "0123456789abcdef0123456789abcdef".into(),
        job_name: "job".into(),
        operators: BTreeMap::from([(
            "op".to_string(),
            OperatorMetadata {
                parallelism: 2,
                max_parallelism: 128,
                subtask_files: vec!["task-0-0.state".into(), "task-0-1.state".into()],
            },
        )]),
        shared: BTreeSet::new(),
    };
    (metadata, files)
}

#[test]
fn checkpoints_round_trip_and_a_corrupt_latest_one_is_an_error() {
    let dir = temp_dir("round-trip");
    let storage = CheckpointStorage::open(&format!("file://{}", dir.display())).unwrap();
    for (id, value) in [(1, 10), (2, 20)] {
        let (metadata, files) = checkpoint(id, value);
        storage.write(&metadata, &files).unwrap();
    }
    assert_eq!(storage.completed().unwrap(), vec![1, 2]);
    let latest = storage.latest().unwrap().unwrap();
    assert_eq!(latest.metadata.checkpoint_id, 2);
    let ops = &latest.operators["op"];
    assert_eq!(ops.len(), 2);
    assert_eq!(ops[0].keyed.entries("count").next().unwrap().2, &[20]);
    assert!(ops[1].is_empty());

    // Truncate a state file of checkpoint 2: it is detected.
    let file = dir.join("chk-2/task-0-0.state");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() - 3]).unwrap();
    let error = storage.read(2).unwrap_err().to_string();
    assert!(
        error.contains("chk-2/task-0-0.state") && error.contains("corrupt"),
        "{error}"
    );
    // No silent fallback: the error names the intact older checkpoint.
    let error = storage.latest().unwrap_err().to_string();
    assert!(
        error.contains("chk-2, cannot be restored")
            && error.contains("task-0-0.state")
            && error.contains(&format!("{}/chk-1 is intact", dir.display())),
        "{error}"
    );

    storage.discard(1).unwrap();
    assert_eq!(storage.completed().unwrap(), vec![2]);
    assert!(!dir.join("chk-1").exists(), "the emptied directory is gone");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn new_shared_files_are_linked_into_a_local_directory_and_survive_their_source() {
    use std::os::unix::fs::MetadataExt;
    let dir = temp_dir("linked");
    let scratch = Arc::new(crate::native::ScratchDir::new(dir.join("scratch")));
    std::fs::create_dir_all(scratch.path()).unwrap();
    std::fs::write(scratch.path().join("000007.sst"), b"sst bytes").unwrap();
    let (metadata, mut files) = checkpoint(1, 9);
    let mut keyed = KeyedSnapshot::default();
    keyed.push_native(crate::native::NativeKeyedState {
        backend: "test".into(),
        key_groups: sluice_core::key_group::KeyGroupRange::for_subtask(128, 1, 0),
        states: vec![],
        shared: vec![crate::native::SharedFile {
            local_name: "000007.sst".into(),
            stored_name: "a-000007.sst".into(),
            size: 9,
            upload: Some(crate::native::LocalFile::new(&scratch, "000007.sst")),
        }],
        private: vec![],
        shared_root: None,
    });
    files[1].1.insert(
        "native".into(),
        OperatorSnapshot {
            keyed,
            ..Default::default()
        },
    );
    let storage = CheckpointStorage::open(dir.join("ckpt").to_str().unwrap()).unwrap();
    let written = storage.write(&metadata, &files).unwrap();
    assert_eq!(written.shared, BTreeSet::from(["a-000007.sst".to_string()]));
    // Each task file's bytes, the shared file its snapshot uploaded counted with it.
    assert_eq!(written.task_bytes.len(), files.len());
    let sst = std::fs::metadata(scratch.path().join("000007.sst"))
        .unwrap()
        .len();
    assert!(written.task_bytes[1] > sst, "{:?}", written.task_bytes);
    assert!(
        written.task_bytes.iter().sum::<u64>() < written.bytes,
        "and the metadata"
    );
    let stored = storage.local_shared_path("a-000007.sst").unwrap();
    let source = scratch.path().join("000007.sst");
    assert_eq!(
        std::fs::metadata(&stored).unwrap().ino(),
        std::fs::metadata(&source).unwrap().ino(),
        "a hard link, not a copy"
    );
    drop(files);
    drop(scratch);
    assert!(!source.exists(), "the scratch directory is gone");
    assert_eq!(storage.read_shared("a-000007.sst").unwrap(), b"sst bytes");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_checkpoint_without_metadata_is_not_complete() {
    let dir = temp_dir("incomplete");
    let storage = CheckpointStorage::open(dir.to_str().unwrap()).unwrap();
    let (metadata, files) = checkpoint(7, 1);
    storage.write(&metadata, &files).unwrap();
    std::fs::remove_file(dir.join("chk-7/_metadata")).unwrap();
    assert!(storage.completed().unwrap().is_empty());
    assert!(storage.latest().unwrap().is_none());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn jobs_get_their_own_directory_laid_out_as_flinks() {
    let dir = temp_dir("job-layout");
    let base = dir.to_str().unwrap();
    let job = "0123456789abcdef0123456789abcdef";
    let storage = CheckpointStorage::open_job(base, job).unwrap();
    assert_eq!(storage.location(), format!("{base}/{job}"));
    let (metadata, files) = checkpoint(3, 1);
    let syncs = sluice_core::durable::syncs_on_this_thread();
    storage.write(&metadata, &files).unwrap();
    // Two task files, their directory and the job's, then `_metadata` and its directory.
    assert_eq!(sluice_core::durable::syncs_on_this_thread() - syncs, 6);
    for path in [
        "shared",
        "taskowned",
        "chk-3/_metadata",
        "chk-3/task-0-0.state",
    ] {
        assert!(dir.join(job).join(path).exists(), "{path}");
    }
    let other = CheckpointStorage::open_job(base, "fedcba9876543210fedcba9876543210").unwrap();
    assert!(
        other.completed().unwrap().is_empty(),
        "another job sees none of them"
    );
    assert!(CheckpointStorage::open_job(base, "../escape").is_err());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn savepoints_are_written_into_their_own_named_directory() {
    let dir = temp_dir("savepoint");
    let storage = CheckpointStorage::open(dir.to_str().unwrap()).unwrap();
    let (metadata, files) = checkpoint(4, 7);
    for name in [
        "savepoint-012345-aaaaaaaaaaaa",
        "savepoint-012345-bbbbbbbbbbbb",
    ] {
        storage.write_savepoint(name, &metadata, &files).unwrap();
    }
    let first = dir.join("savepoint-012345-aaaaaaaaaaaa");
    let read = CheckpointStorage::open(first.to_str().unwrap())
        .unwrap()
        .read_here()
        .unwrap();
    assert_eq!(read.metadata, metadata);
    assert!(dir.join("savepoint-012345-bbbbbbbbbbbb/_metadata").exists());
    assert!(
        storage.completed().unwrap().is_empty(),
        "savepoints are not checkpoints"
    );
    assert!(storage.write_savepoint("../up", &metadata, &files).is_err());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn verification_checks_every_file_without_decoding_and_never_falls_back() {
    let dir = temp_dir("verify");
    let storage = CheckpointStorage::open(dir.to_str().unwrap()).unwrap();
    for (id, value) in [(1, 10), (2, 20)] {
        let (metadata, files) = checkpoint(id, value);
        storage.write(&metadata, &files).unwrap();
    }
    assert_eq!(storage.verify(2).unwrap().checkpoint_id, 2);
    let file = dir.join("chk-2/task-0-1.state");
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[5] ^= 1;
    std::fs::write(&file, bytes).unwrap();
    let error = storage.verify(2).unwrap_err().to_string();
    assert!(error.contains("chk-2/task-0-1.state"), "{error}");
    let error = storage.latest_verified().unwrap_err().to_string();
    assert!(error.contains("chk-1 is intact"), "{error}");
    storage.discard(1).unwrap();
    let error = storage.latest_verified().unwrap_err().to_string();
    assert!(error.contains("No older intact checkpoint"), "{error}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_crafted_metadata_cannot_name_files_outside_its_checkpoint() {
    let dir = temp_dir("crafted");
    let storage = CheckpointStorage::open(dir.join("ckpt").to_str().unwrap()).unwrap();
    std::fs::write(dir.join("secret"), b"not checkpoint data").unwrap();
    let (mut metadata, files) = checkpoint(5, 1);
    storage.write(&metadata, &files).unwrap();
    for bad in ["../../secret", "/etc/passwd", ".."] {
        metadata.operators.get_mut("op").unwrap().subtask_files[0] = bad.to_string();
        let path = Path::from("chk-5/_metadata");
        let crafted = encode_file(METADATA_MAGIC, &metadata, &path).unwrap();
        std::fs::write(dir.join("ckpt/chk-5/_metadata"), crafted).unwrap();
        for error in [
            storage.read(5).unwrap_err().to_string(),
            storage.verify(5).unwrap_err().to_string(),
        ] {
            assert!(error.contains("not a plain file name"), "{bad}: {error}");
        }
    }
    metadata.operators.get_mut("op").unwrap().subtask_files[0] = "task-0-0.state".into();
    metadata.shared.insert("../secret".into());
    let crafted = encode_file(METADATA_MAGIC, &metadata, &Path::from("m")).unwrap();
    std::fs::write(dir.join("ckpt/chk-5/_metadata"), crafted).unwrap();
    let error = storage.read(5).unwrap_err().to_string();
    assert!(error.contains("not a plain file name"), "{error}");
    assert!(storage.read_shared("../secret").is_err());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn only_plain_names_are_file_names() {
    for good in [
        "task-0-1.state",
        "a-000007.sst",
        "MANIFEST-000005",
        ".hidden",
    ] {
        assert!(check_file_name(good).is_ok(), "{good}");
    }
    for bad in ["", ".", "..", "a/b", "../x", "/abs", "a\\b", "nul\0"] {
        assert!(check_file_name(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn unsupported_schemes_are_a_clear_error() {
    let error = CheckpointStorage::open("ftp://host/path")
        .unwrap_err()
        .to_string();
    assert!(error.contains("'ftp://' scheme"), "{error}");
}

#[test]
fn s3_locations_open_without_contacting_the_bucket_and_need_one() {
    let storage = CheckpointStorage::open("s3://checkpoints/jobs/counts").unwrap();
    assert_eq!(storage.location(), "s3://checkpoints/jobs/counts");
    let error = CheckpointStorage::open("s3:///prefix")
        .unwrap_err()
        .to_string();
    assert!(error.contains("needs a bucket"), "{error}");
}
