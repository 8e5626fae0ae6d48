//! Writes an output directory so that it is never seen half-written, and
//! never anything outside it: every file goes to a fresh staging directory
//! beside the target, through [`Staging::write`] (the one place a build
//! writes a file), and the staging directory then takes the target's place
//! in one step.

use jardin_core::code;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// J0008: `path` could not be written; what was there is left as it was.
pub fn cannot_write(path: &Path, e: &dyn std::fmt::Display) -> jardin_core::diag::Diagnostic {
    jardin_core::diag::Diagnostic::error(
        code::CANNOT_WRITE,
        format!("cannot write {}: {e}", path.display()),
    )
    .with_help("the previous output, if any, is left as it was")
}

/// Why `rel` cannot name a file below an output directory, or `None` when
/// it can: it must be relative, `/`-separated, and every component must be
/// a plain name (not empty, not `.` or `..`, without a NUL byte).
pub fn unsafe_output_path(rel: &str) -> Option<&'static str> {
    if rel.is_empty() {
        return Some("it is empty");
    }
    if rel.contains('\0') {
        return Some("it holds a NUL byte");
    }
    if rel.starts_with('/') {
        return Some("it is absolute");
    }
    for component in rel.split('/') {
        match component {
            "" => return Some("it has an empty component"),
            "." | ".." => return Some("it has a `.` or `..` component"),
            _ => {}
        }
    }
    None
}

/// Writes files below one staging directory and nowhere else: each path
/// is checked by [`unsafe_output_path`] before any byte is written, no
/// directory on the way may be a symbolic link, and the file itself is
/// opened without following one.
pub(crate) struct Staging<'a> {
    root: &'a Path,
    /// The directory the last file went to, already made and checked:
    /// a tenant's manifests come in path order, mostly into one directory.
    last_dir: Option<String>,
}

impl<'a> Staging<'a> {
    pub(crate) fn new(root: &'a Path) -> Self {
        Staging {
            root,
            last_dir: None,
        }
    }

    /// Writes `bytes` to `rel` below the staging directory.
    pub(crate) fn write(&mut self, rel: &str, bytes: &[u8]) -> io::Result<()> {
        self.create(rel)?.write_all(bytes)
    }

    /// Creates `rel` below the staging directory, empty, for a file too
    /// large to hold in memory before it is written.
    pub(crate) fn create(&mut self, rel: &str) -> io::Result<std::fs::File> {
        if let Some(why) = unsafe_output_path(rel) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("refusing to write {rel:?} below the output: {why}"),
            ));
        }
        self.dirs_of(rel)?;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(self.root.join(rel))
    }

    /// Links `rel` below the staging directory to `from`, a regular file
    /// (of the previous output): the same checks as [`Staging::write`],
    /// and never a link to a symbolic link.
    pub(crate) fn link(&mut self, from: &Path, rel: &str) -> io::Result<()> {
        if let Some(why) = unsafe_output_path(rel) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("refusing to write {rel:?} below the output: {why}"),
            ));
        }
        if !std::fs::symlink_metadata(from)?.is_file() {
            return Err(io::Error::other("not a regular file"));
        }
        self.dirs_of(rel)?;
        std::fs::hard_link(from, self.root.join(rel))
    }

    /// Makes the directories of `rel` (the last one made is remembered).
    fn dirs_of(&mut self, rel: &str) -> io::Result<()> {
        if let Some((dir, _)) = rel.rsplit_once('/') {
            if self.last_dir.as_deref() != Some(dir) {
                make_dirs(self.root, dir)?;
                self.last_dir = Some(dir.to_string());
            }
        }
        Ok(())
    }
}

/// Makes every directory of `dir` (a path checked by [`unsafe_output_path`])
/// below `root`; one that already exists must be a directory, not a link.
fn make_dirs(root: &Path, dir: &str) -> io::Result<()> {
    let mut path = root.to_path_buf();
    for component in dir.split('/') {
        path.push(component);
        match std::fs::create_dir(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if !std::fs::symlink_metadata(&path)?.is_dir() {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!("{} is not a directory", path.display()),
                    ));
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes one file below `staging` (see [`Staging::write`]).
pub(crate) fn write_file(staging: &Path, rel: &str, bytes: &[u8]) -> io::Result<()> {
    Staging::new(staging).write(rel, bytes)
}

/// Makes `dir` the directory that `fill` writes: `fill` gets a fresh
/// staging directory beside `dir`, which then takes `dir`'s place in one
/// step (an exchange of the two names where the system can, else two
/// renames). On error, `dir` is left as it was and the staging directory
/// is removed. Only a directory is ever replaced: a file or a symbolic
/// link at `dir` is refused before anything is written. What a killed run
/// left beside `dir` (`.<name>.new-*`, `.<name>.old-*`) is removed first.
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
    remove_leftovers(&parent, &name);
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}.new-"))
        .tempdir_in(&parent)?;
    // On error, dropping `staging` removes it.
    fill(staging.path())?;
    let staged = staging.keep();
    if std::fs::symlink_metadata(dir).is_ok() {
        match exchange(&staged, dir) {
            // `staged` now holds the previous output. Were the process to
            // die before it is removed, the next build removes it.
            Ok(true) => {
                let _ = std::fs::remove_dir_all(&staged);
                return Ok(());
            }
            Ok(false) => {}
            // `dir` went away since it was looked at: nothing to exchange.
            Err(e) if e.kind() == io::ErrorKind::NotFound && dir.symlink_metadata().is_err() => {
                return std::fs::rename(&staged, dir).inspect_err(|_| {
                    let _ = std::fs::remove_dir_all(&staged);
                });
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&staged);
                return Err(e);
            }
        }
        // Move the old output aside, put the new one in place, then remove
        // the old one: between the two renames there is no output.
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
        let _ = std::fs::remove_dir_all(&old_path);
    } else if let Err(e) = std::fs::rename(&staged, dir) {
        let _ = std::fs::remove_dir_all(&staged);
        return Err(e);
    }
    Ok(())
}

/// Swaps the names `a` and `b` (both must exist) in one step: at no moment
/// is either missing. `Ok(false)` when the system or the filesystem cannot
/// (`renameat2` with `RENAME_EXCHANGE` is Linux's, and not every filesystem
/// has it): nothing was done.
pub(crate) fn exchange(a: &Path, b: &Path) -> io::Result<bool> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use rustix::fs::{renameat_with, RenameFlags, CWD};
        use rustix::io::Errno;
        match renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE) {
            Ok(()) => Ok(true),
            Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = (a, b);
        Ok(false)
    }
}

/// Removes the staging and old directories of `name` that a killed run
/// left in `parent`: `.<name>.new-XXXXXX` and `.<name>.old-XXXXXX`, with
/// the six letters or digits the staging directory's name ends with (so
/// that another output's leftovers, `.<name>.new-x.new-XXXXXX`, are not
/// taken for this one's). Best effort: what cannot be removed stays.
fn remove_leftovers(parent: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    let prefixes = [format!(".{name}.new-"), format!(".{name}.old-")];
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        let ours = prefixes.iter().any(|p| {
            file_name.strip_prefix(p.as_str()).is_some_and(|rest| {
                rest.len() == 6 && rest.bytes().all(|b| b.is_ascii_alphanumeric())
            })
        });
        if !ours {
            continue;
        }
        let path = entry.path();
        let _ = match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(&path),
            _ => std::fs::remove_file(&path),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_all(dir: &Path, files: &[(String, Vec<u8>)]) -> io::Result<()> {
        replace_dir(dir, |staging| {
            let mut s = Staging::new(staging);
            files
                .iter()
                .try_for_each(|(rel, bytes)| s.write(rel, bytes))
        })
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
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
        // Nothing but the output is left beside it: the previous output,
        // exchanged into the staging name, is gone too.
        assert_eq!(names(tmp.path()), ["out"]);
    }

    #[test]
    fn refuses_paths_outside_the_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("keep"), b"x").unwrap();
        for rel in [
            "../evil",
            "k8s/../../evil",
            "/tmp/evil",
            "",
            "a//b",
            "a/./b",
            "a/",
            "a\0b",
        ] {
            assert!(
                write_all(&out, &[(rel.into(), vec![])]).is_err(),
                "{rel:?} was written"
            );
            assert!(unsafe_output_path(rel).is_some(), "{rel:?}");
        }
        assert_eq!(std::fs::read(out.join("keep")).unwrap(), b"x");
        assert_eq!(names(tmp.path()), ["out"]);
    }

    /// A link inside the staging directory, where a directory or a file
    /// would go, is never followed.
    #[test]
    fn never_writes_through_a_link() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        let staging = tmp.path().join("staging");
        std::fs::create_dir(&staging).unwrap();
        std::os::unix::fs::symlink(&outside, staging.join("k8s")).unwrap();
        std::os::unix::fs::symlink(outside.join("f"), staging.join("f.yaml")).unwrap();
        let mut s = Staging::new(&staging);
        assert!(s.write("k8s/a.yaml", b"x").is_err());
        assert!(s.write("f.yaml", b"x").is_err());
        assert!(names(&outside).is_empty());
        s.write("ok/a.yaml", b"x").unwrap();
        assert_eq!(std::fs::read(staging.join("ok/a.yaml")).unwrap(), b"x");
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
        assert_eq!(names(tmp.path()), ["elsewhere", "link", "out"]);
    }

    /// A run killed while it wrote, or between its renames, leaves
    /// `.out.new-*` and `.out.old-*`: the next build removes them, and
    /// only them.
    #[test]
    fn leftovers_of_a_killed_run_are_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        write_all(&out, &[("a.yaml".into(), b"1".to_vec())]).unwrap();
        for leftover in [".out.new-Ab12Cd", ".out.old-x9Y8z7"] {
            std::fs::create_dir_all(tmp.path().join(leftover).join("k8s")).unwrap();
            std::fs::write(tmp.path().join(leftover).join("k8s/half.yaml"), b"").unwrap();
        }
        // Another output's leftovers and look-alikes are not ours.
        for other in [
            ".out.new-x.new-Ab12Cd",
            ".other.new-Ab12Cd",
            ".out.new-keep",
        ] {
            std::fs::create_dir(tmp.path().join(other)).unwrap();
        }
        write_all(&out, &[("b.yaml".into(), b"2".to_vec())]).unwrap();
        assert_eq!(
            names(tmp.path()),
            [
                ".other.new-Ab12Cd",
                ".out.new-keep",
                ".out.new-x.new-Ab12Cd",
                "out"
            ]
        );
        assert_eq!(names(&out), ["b.yaml"]);
    }

    /// The exchange is what the build uses here (Linux, on a filesystem
    /// that has it): the two names swap, and neither is ever missing.
    #[test]
    fn the_output_is_swapped_in_one_step() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        std::fs::create_dir(&a).unwrap();
        std::fs::write(a.join("from-a"), b"").unwrap();
        std::fs::create_dir(&b).unwrap();
        std::fs::write(b.join("from-b"), b"").unwrap();
        assert!(
            exchange(&a, &b).unwrap(),
            "renameat2(RENAME_EXCHANGE) is not used"
        );
        assert_eq!(names(&a), ["from-b"]);
        assert_eq!(names(&b), ["from-a"]);

        // A reader that looks at the output throughout many builds always
        // finds a complete one.
        let out = tmp.path().join("out");
        write_all(&out, &[("k8s/marker".into(), b"0".to_vec())]).unwrap();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = {
            let (out, done) = (out.clone(), done.clone());
            std::thread::spawn(move || {
                let mut missing = 0;
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    if std::fs::symlink_metadata(out.join("k8s/marker")).is_err() {
                        missing += 1;
                    }
                }
                missing
            })
        };
        for i in 0..300 {
            write_all(&out, &[("k8s/marker".into(), i.to_string().into_bytes())]).unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(reader.join().unwrap(), 0, "the output was missing");
        assert_eq!(std::fs::read(out.join("k8s/marker")).unwrap(), b"299");
        assert_eq!(names(tmp.path()), ["a", "b", "out"]);
    }
}
