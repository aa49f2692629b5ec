//! Durable writes to local files: data fsynced before it is renamed into place, and the
//! directory fsynced after, so that what Sluice reports as written (a checkpoint, a committed
//! part file, a stored job) is still there after a power loss. A rename alone is atomic but not
//! durable: the directory entry lives in the directory, which must be synced too.

use std::cell::Cell;
use std::io;
use std::path::Path;

thread_local! {
    static SYNCS: Cell<u64> = const { Cell::new(0) };
}

/// How many fsyncs this thread made through this module (lets tests check that durability
/// is requested where it is promised).
pub fn syncs_on_this_thread() -> u64 {
    SYNCS.with(Cell::get)
}

/// Fsyncs the file or directory at `path`.
pub fn sync_path(path: &Path) -> io::Result<()> {
    std::fs::File::open(path)?.sync_all()?;
    SYNCS.with(|count| count.set(count.get() + 1));
    Ok(())
}

/// Fsyncs the directory holding `path` (the current directory for a bare name).
pub fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => sync_path(parent),
        _ => sync_path(Path::new(".")),
    }
}

/// Renames `from` to `to` and makes the rename durable: both directories are synced.
pub fn rename(from: &Path, to: &Path) -> io::Result<()> {
    std::fs::rename(from, to)?;
    sync_parent(to)?;
    if from.parent() != to.parent() {
        sync_parent(from)?;
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically and durably: into `partial` (a name in the same
/// directory), fsynced, renamed to `path`, the directory fsynced. A crash leaves the old
/// file or the new one, never a part.
pub fn write(path: &Path, partial: &Path, bytes: &[u8]) -> io::Result<()> {
    {
        let mut file = std::fs::File::create(partial)?;
        io::Write::write_all(&mut file, bytes)?;
        file.sync_all()?;
        SYNCS.with(|count| count.set(count.get() + 1));
    }
    rename(partial, path)
}

/// Removes the file at `path` and makes the removal durable. A missing file is not an error.
pub fn remove(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error),
        Ok(()) => sync_parent(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("sluice-durable-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_durable_write_syncs_the_file_and_its_directory() {
        let dir = temp_dir("write");
        let path = dir.join("job.json");
        let before = syncs_on_this_thread();
        write(&path, &dir.join("job.json.partial"), b"{}").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{}");
        assert!(!dir.join("job.json.partial").exists());
        assert_eq!(
            syncs_on_this_thread() - before,
            2,
            "the file, then the directory"
        );
        write(&path, &dir.join("job.json.partial"), b"[]").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"[]", "replaced");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn renames_across_directories_sync_both_and_removals_sync_theirs() {
        let dir = temp_dir("rename");
        std::fs::create_dir_all(dir.join("a")).unwrap();
        std::fs::create_dir_all(dir.join("b")).unwrap();
        std::fs::write(dir.join("a/x"), b"x").unwrap();
        let before = syncs_on_this_thread();
        rename(&dir.join("a/x"), &dir.join("a/y")).unwrap();
        assert_eq!(syncs_on_this_thread() - before, 1);
        rename(&dir.join("a/y"), &dir.join("b/y")).unwrap();
        assert_eq!(syncs_on_this_thread() - before, 3);
        remove(&dir.join("b/y")).unwrap();
        remove(&dir.join("b/y")).unwrap();
        assert_eq!(
            syncs_on_this_thread() - before,
            4,
            "a missing file syncs nothing"
        );
        assert!(rename(&dir.join("nope"), &dir.join("b/z")).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
