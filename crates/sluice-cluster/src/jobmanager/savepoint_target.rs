//! Where a savepoint requested over REST may be written: only inside the JobManager's
//! configured savepoint directory (`state.savepoints.dir`), never where a caller points, since
//! any REST client could otherwise make the JobManager write into any directory it can reach.

/// The directory for a savepoint requested with `requested` (or none, for the configured
/// directory itself) under the configured `root`.
pub fn savepoint_target(requested: Option<&str>, root: Option<&str>) -> Result<String, String> {
    let Some(root) = root else {
        return Err(
            "this JobManager takes savepoints only into its state.savepoints.dir, which is not set: set it in the JobManager's configuration".into(),
        );
    };
    let Some(requested) = requested else {
        return Ok(root.to_string());
    };
    if inside(requested, root) {
        Ok(requested.to_string())
    } else {
        Err(format!(
            "savepoint directory '{requested}' is outside the JobManager's state.savepoints.dir '{root}'"
        ))
    }
}

/// Whether `path` is `root` or below it, compared by path segments after dropping a
/// `file://` prefix; a path with a `.` or `..` segment never is.
fn inside(path: &str, root: &str) -> bool {
    let local = |p: &str| p.strip_prefix("file://").unwrap_or(p).to_string();
    let (path, root) = (local(path), local(root));
    let segments = |p: &str| -> Vec<String> {
        p.split('/')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    };
    let (path_segments, root_segments) = (segments(&path), segments(&root));
    let scheme = |p: &str| p.split_once("://").map(|(scheme, _)| scheme.to_string());
    let plain = path_segments.iter().all(|s| s != "." && s != "..");
    let same_kind =
        scheme(&path) == scheme(&root) && path.starts_with('/') == root.starts_with('/');
    plain && same_kind && path_segments.starts_with(&root_segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_directories_under_the_configured_one_are_accepted() {
        let root = Some("file:///var/lib/sluice/savepoints");
        for ok in [
            "/var/lib/sluice/savepoints",
            "/var/lib/sluice/savepoints/job-a",
            "file:///var/lib/sluice/savepoints/job-a/",
        ] {
            assert_eq!(savepoint_target(Some(ok), root).as_deref(), Ok(ok));
        }
        assert_eq!(
            savepoint_target(None, root).as_deref(),
            Ok("file:///var/lib/sluice/savepoints")
        );
        for refused in [
            "/etc",
            "/var/lib/sluice/savepoints-other",
            "/var/lib/sluice/savepoints/../../../etc",
            "/var/lib/sluice/savepoints/./x",
            "var/lib/sluice/savepoints/x",
            "s3://bucket/var/lib/sluice/savepoints",
        ] {
            let error = savepoint_target(Some(refused), root).unwrap_err();
            assert!(error.contains("outside"), "{refused}: {error}");
        }
        let s3 = Some("s3://bucket/savepoints");
        assert!(savepoint_target(Some("s3://bucket/savepoints/a"), s3).is_ok());
        assert!(savepoint_target(Some("s3://other/savepoints/a"), s3).is_err());
    }

    #[test]
    fn without_a_configured_directory_nothing_is_accepted() {
        let error = savepoint_target(Some("/tmp/x"), None).unwrap_err();
        assert!(error.contains("state.savepoints.dir"), "{error}");
    }
}
