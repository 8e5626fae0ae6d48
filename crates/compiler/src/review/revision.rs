//! A git revision of the config, read into a temporary directory exactly
//! as committed.
//!
//! The files come from git's object database (`git ls-tree`, then `git
//! cat-file --batch`), never through `git archive` or a checkout, which
//! apply `.gitattributes`: `export-subst` would let a merge request make a
//! file differ from what was committed, and `export-ignore` hide one from
//! the review. The working tree is never touched.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

use jardin_core::code;
use jardin_core::diag::Diagnostic;

/// A revision read into a temporary directory.
pub struct Checkout {
    _dir: tempfile::TempDir,
    /// The config root inside the checkout.
    pub root: PathBuf,
}

fn git(dir: &Path, args: &[&str]) -> Result<String, Diagnostic> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| {
            Diagnostic::error(code::GIT_FAILED, format!("cannot run git: {e}"))
                .with_help("jardin diff needs git on PATH")
        })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(Diagnostic::error(
            code::UNKNOWN_REVISION,
            format!("git {}: {err}", args.join(" ")),
        )
        .with_help(
            "name a revision git knows: a branch, a tag, a commit, or origin/main after a fetch",
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
}

/// One entry of a revision's tree.
struct Entry {
    mode: String,
    object: String,
    path: PathBuf,
}

/// Reads revision `rev` of the repository holding `root` into a temporary
/// directory (the whole tree, so that the root's position in the
/// repository is the same).
pub fn checkout(root: &Path, rev: &str) -> Result<Checkout, Diagnostic> {
    let top = PathBuf::from(git(root, &["rev-parse", "--show-toplevel"])?);
    let prefix = git(root, &["rev-parse", "--show-prefix"])?;
    let commit = git(
        &top,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
    )
    .map_err(|_| {
        Diagnostic::error(
            code::UNKNOWN_REVISION,
            format!("unknown revision \"{rev}\""),
        )
        .with_help("name a branch, a tag or a commit")
    })?;
    let dir = tempfile::Builder::new()
        .prefix("jardin-rev-")
        .tempdir()
        .map_err(|e| {
            Diagnostic::error(
                code::CANNOT_READ,
                format!("cannot create a temporary directory: {e}"),
            )
        })?;
    let entries = tree(&top, &commit)?;
    write_tree(&top, dir.path(), &entries).map_err(|e| {
        Diagnostic::error(
            code::GIT_FAILED,
            format!("cannot read revision \"{rev}\" from git: {e}"),
        )
    })?;
    let root = dir.path().join(prefix);
    Ok(Checkout { _dir: dir, root })
}

/// Every blob and symbolic link of a commit's tree, with safe paths.
fn tree(top: &Path, commit: &str) -> Result<Vec<Entry>, Diagnostic> {
    let out = Command::new("git")
        .arg("-C")
        .arg(top)
        .args(["ls-tree", "-r", "-z", "--full-tree", commit])
        .output()
        .map_err(|e| Diagnostic::error(code::GIT_FAILED, format!("cannot run git: {e}")))?;
    if !out.status.success() {
        return Err(Diagnostic::error(
            code::GIT_FAILED,
            format!(
                "git ls-tree {commit}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    let mut entries = Vec::new();
    for record in out.stdout.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        let text = String::from_utf8_lossy(record);
        let Some((meta, path)) = text.split_once('\t') else {
            continue;
        };
        let mut fields = meta.split(' ');
        let (Some(mode), Some(kind), Some(object)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        // Submodules (`commit`) are other repositories: not part of this one.
        if kind != "blob" {
            continue;
        }
        let path = PathBuf::from(path);
        if !safe(&path) {
            return Err(Diagnostic::error(
                code::GIT_FAILED,
                format!("the revision holds an unsafe path: {:?}", path),
            )
            .with_help("git refuses such paths; this tree was made by hand"));
        }
        entries.push(Entry {
            mode: mode.to_string(),
            object: object.to_string(),
            path,
        });
    }
    Ok(entries)
}

/// True for a relative path of plain names, none of them `.git`.
fn safe(path: &Path) -> bool {
    path.components().count() > 0
        && path.components().all(|c| match c {
            Component::Normal(name) => name != ".git",
            _ => false,
        })
}

/// Writes the entries' contents under `dir`: files first, symbolic links
/// last, so that no file is ever written through a link.
fn write_tree(top: &Path, dir: &Path, entries: &[Entry]) -> std::io::Result<()> {
    let mut cat = Command::new("git")
        .arg("-C")
        .arg(top)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut stdin = cat
        .stdin
        .take()
        .ok_or_else(|| std::io::Error::other("no stdin"))?;
    let objects: Vec<String> = entries.iter().map(|e| e.object.clone()).collect();
    // Written from another thread: git answers while it reads, and both
    // pipes would otherwise fill up.
    let feeder = std::thread::spawn(move || -> std::io::Result<()> {
        for object in objects {
            writeln!(stdin, "{object}")?;
        }
        Ok(())
    });
    let mut out = BufReader::new(
        cat.stdout
            .take()
            .ok_or_else(|| std::io::Error::other("no stdout"))?,
    );
    let mut links = Vec::new();
    for entry in entries {
        let mut header = String::new();
        out.read_line(&mut header)?;
        let size: usize = header
            .split(' ')
            .nth(2)
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("git cat-file: {}", header.trim())))?;
        let mut content = vec![0; size];
        out.read_exact(&mut content)?;
        let mut newline = [0u8; 1];
        out.read_exact(&mut newline)?;
        let target = dir.join(&entry.path);
        if entry.mode == "120000" {
            links.push((target, content));
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, content)?;
    }
    feeder
        .join()
        .map_err(|_| std::io::Error::other("git cat-file input"))??;
    cat.wait()?;
    for (path, target) in links {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let target = PathBuf::from(String::from_utf8_lossy(&target).into_owned());
        std::os::unix::fs::symlink(target, path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(dir: &Path, args: &[&str]) {
        let ok = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.org")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.org")
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    }

    /// `.gitattributes` changes nothing: `export-subst` is not expanded and
    /// `export-ignore` hides nothing, unlike `git archive`. Links stay links.
    #[test]
    fn a_revision_is_read_as_committed() {
        let repo = tempfile::tempdir().unwrap();
        let r = repo.path();
        run(r, &["init", "-q"]);
        std::fs::create_dir_all(r.join("config/tenants")).unwrap();
        std::fs::write(
            r.join(".gitattributes"),
            "*.ncl export-subst\nhidden.ncl export-ignore\n",
        )
        .unwrap();
        std::fs::write(r.join("config/tenants/a.ncl"), "{ v = \"$Format:%H$\" }").unwrap();
        std::fs::write(r.join("config/hidden.ncl"), "{}").unwrap();
        std::os::unix::fs::symlink("tenants/a.ncl", r.join("config/link.ncl")).unwrap();
        run(r, &["add", "-A"]);
        run(r, &["commit", "-q", "-m", "x"]);
        let out = checkout(&r.join("config"), "HEAD").unwrap();
        assert!(out.root.ends_with("config"));
        assert_eq!(
            std::fs::read_to_string(out.root.join("tenants/a.ncl")).unwrap(),
            "{ v = \"$Format:%H$\" }"
        );
        assert!(out.root.join("hidden.ncl").is_file());
        assert_eq!(
            std::fs::read_link(out.root.join("link.ncl")).unwrap(),
            Path::new("tenants/a.ncl")
        );
        assert!(checkout(&r.join("config"), "no-such-branch").is_err());
    }

    #[test]
    fn only_plain_relative_paths_are_safe() {
        for ok in ["a", "a/b.ncl", ".hidden/x"] {
            assert!(safe(Path::new(ok)), "{ok}");
        }
        for bad in [
            "",
            "/etc/x",
            "../x",
            "a/../../x",
            ".git/config",
            "a/.git/hooks/x",
        ] {
            assert!(!safe(Path::new(bad)), "{bad}");
        }
    }
}
