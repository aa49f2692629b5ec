//! The names in checkpoint storage: checkpoint directories (`chk-<id>`), job directories, and
//! the check that a file name read from a checkpoint is a plain name.

use super::metadata::TaskSnapshot;
use crate::native::NativeKeyedState;

/// The directory of checkpoint `id`.
pub fn checkpoint_dir_name(id: u64) -> String {
    format!("chk-{id}")
}

/// The checkpoint id a directory named `name` holds, if it is a `chk-<id>` directory.
pub fn checkpoint_id_of(name: &str) -> Option<u64> {
    name.strip_prefix("chk-")?.parse().ok()
}

/// The directory of job `job_id`'s checkpoints under the checkpoint directory `base` (a path
/// or URL).
pub fn job_location(base: &str, job_id: &str) -> String {
    format!("{}/{job_id}", base.trim_end_matches('/'))
}

/// Checks that `name`, read from a checkpoint, is a plain file name: not empty, no path
/// separator, not `.` or `..`, no NUL. Joined to a directory, it stays inside it.
pub fn check_file_name(name: &str) -> Result<(), String> {
    let plain =
        !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0']);
    if plain {
        Ok(())
    } else {
        Err(format!(
            "'{}' is not a plain file name",
            name.escape_debug()
        ))
    }
}

/// Checks the names of the files the natively snapshotted states of `task` refer to.
pub(super) fn check_native_names(task: &TaskSnapshot) -> Result<(), String> {
    task.values()
        .flat_map(|operator| operator.keyed.native())
        .try_for_each(NativeKeyedState::check_file_names)
}
