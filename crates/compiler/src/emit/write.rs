//! Writes an output directory so that it is never seen half-written: every
//! file goes to a fresh temporary directory beside the target, which then
//! replaces the target by rename.

use jardin_core::code;
use std::io;
use std::path::{Path, PathBuf};

/// J0008: `path` could not be written; what was there is left as it was.
pub fn cannot_write(path: &Path, e: &dyn std::fmt::Display) -> jardin_core::diag::Diagnostic {
    jardin_core::diag::Diagnostic::error(
        code::CANNOT_WRITE,
        format!("cannot write {}: {e}", path.display()),
    )
    .with_help("the previous output, if any, is left as it was")
}

/// Writes one file below `staging`, refusing paths that would leave it.
pub(crate) fn write_file(staging: &Path, rel: &str, bytes: &[u8]) -> io::Result<()> {
    let rel = Path::new(rel);
    if rel.is_absolute()
        || rel
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("unsafe output path {}", rel.display()),
        ));
    }
    let target = staging.join(rel);
    if let Some(p) = target.parent() {
        std::fs::create_dir_all(p)?;
    }
    std::fs::write(&target, bytes)
}

/// Makes `dir` the directory that `fill` writes: `fill` gets a fresh
/// staging directory beside `dir`, which then replaces `dir` by rename.
/// On error, `dir` is left as it was and the staging directory is removed.
/// Only a directory is ever replaced: a file or a symbolic link at `dir`
/// is refused before anything is written.
pub fn replace_dir(dir: &Path, fill: impl FnOnce(&Path) -> io::Result<()>) -> io::Result<()> {
    if let Ok(meta) = std::fs::symlink_metadata(dir) {
        if !meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "it exists and is not a directory (jardin replaces only a directory it wrote)",
            ));
        }
    }
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}.new-"))
        .tempdir_in(&parent)?;
    // On error, dropping `staging` removes it.
    fill(staging.path())?;
    let staged = staging.keep();
    if dir.exists() {
        // Move the old output aside, put the new one in place, then remove
        // the old one: at every moment one complete output exists.
        let old = tempfile::Builder::new()
            .prefix(&format!(".{name}.old-"))
            .tempdir_in(&parent)?;
        let old_path = old.keep();
        std::fs::remove_dir(&old_path)?;
        std::fs::rename(dir, &old_path)?;
        if let Err(e) = std::fs::rename(&staged, dir) {
            let _ = std::fs::rename(&old_path, dir);
            let _ = std::fs::remove_dir_all(&staged);
            return Err(e);
        }
        std::fs::remove_dir_all(&old_path)?;
    } else if let Err(e) = std::fs::rename(&staged, dir) {
        let _ = std::fs::remove_dir_all(&staged);
        return Err(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_all(dir: &Path, files: &[(String, Vec<u8>)]) -> io::Result<()> {
        replace_dir(dir, |staging| {
            files
                .iter()
                .try_for_each(|(rel, bytes)| write_file(staging, rel, bytes))
        })
    }

    #[test]
    fn replaces_the_whole_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        write_all(
            &out,
            &[
                ("a/b.yaml".into(), b"1".to_vec()),
                ("c.txt".into(), b"2".to_vec()),
            ],
        )
        .unwrap();
        write_all(&out, &[("a/d.yaml".into(), b"3".to_vec())]).unwrap();
        assert!(!out.join("c.txt").exists());
        assert_eq!(std::fs::read(out.join("a/d.yaml")).unwrap(), b"3");
        // Nothing but the output is left beside it.
        let names: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn refuses_paths_outside_the_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("keep"), b"x").unwrap();
        assert!(write_all(&out, &[("../evil".into(), vec![])]).is_err());
        assert_eq!(std::fs::read(out.join("keep")).unwrap(), b"x");
    }

    #[test]
    fn a_file_or_a_link_in_the_way_is_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("out");
        std::fs::write(&file, b"precious").unwrap();
        assert!(write_all(&file, &[("k8s/a.yaml".into(), b"x".to_vec())]).is_err());
        assert_eq!(std::fs::read(&file).unwrap(), b"precious");
        let elsewhere = tmp.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
        assert!(write_all(&link, &[("a".into(), b"x".to_vec())]).is_err());
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        // Nothing was left beside them.
        let names: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
    }
}
