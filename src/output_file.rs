//! Writing an output file safely (`plan --out`, `users export --out`, `export --out`, backups): the
//! text goes to a uniquely named temporary file in the target's directory, which is synced
//! and renamed over the target, so a reader never sees half a file and a neighbour (a
//! `FILE.tmp` of the user's) is never touched. A symbolic link is written through (its
//! target is replaced, the link stays); a target that is not a regular file (a directory, a
//! FIFO, a device) is refused.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Who may read the written file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The owner only (0600 on Unix): plans and exports name users and tenants.
    Private,
    /// As the file it replaces, or the process's default for a new file.
    AsBefore,
}

/// Why a file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("`{}` is {what}, not a regular file; nothing was written", path.display())]
    NotAFile { path: PathBuf, what: &'static str },
    #[error("cannot write `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What a file that is not a regular file is, in words.
pub fn kind_of(file_type: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_socket() {
            return "a socket";
        }
        if file_type.is_block_device() || file_type.is_char_device() {
            return "a device";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_symlink() {
        "a symbolic link"
    } else {
        "a special file"
    }
}

/// The file a path names once its symbolic links are followed (the link's target, even
/// when it does not exist yet).
fn resolve_links(path: &Path) -> Result<PathBuf, OutputError> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&current) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(&current).map_err(|source| OutputError::Io {
                    path: current.clone(),
                    source,
                })?;
                current = match current.parent() {
                    Some(dir) => dir.join(target),
                    None => target,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(OutputError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other("too many levels of symbolic links"),
    })
}

/// Writes `contents` to `path` through a temporary file renamed over it.
pub fn write(path: &Path, contents: &[u8], access: Access) -> Result<(), OutputError> {
    write_with(path, access, |file| file.write_all(contents))
}

/// Writes `path` through a temporary file renamed over it, `fill` writing the contents (a
/// stream: a backup is never held in memory). Nothing replaces `path` if `fill` fails.
pub fn write_with<T>(
    path: &Path,
    access: Access,
    fill: impl FnOnce(&mut File) -> std::io::Result<T>,
) -> Result<T, OutputError> {
    let target = resolve_links(path)?;
    let io = |source| OutputError::Io {
        path: target.clone(),
        source,
    };
    let before = match std::fs::metadata(&target) {
        Ok(m) if !m.is_file() => {
            return Err(OutputError::NotAFile {
                path: path.to_path_buf(),
                what: kind_of(m.file_type()),
            })
        }
        Ok(m) => Some(m.permissions()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(e)),
    };
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let (tmp_path, mut file) = create_unique(&dir, &name, access).map_err(io)?;
    let result = (|| {
        let filled = fill(&mut file)?;
        if let (Access::AsBefore, Some(permissions)) = (access, before) {
            file.set_permissions(permissions)?;
        }
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp_path, &target)?;
        Ok(filled)
    })();
    let filled = match result {
        Ok(filled) => filled,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp_path);
            return Err(io(e));
        }
    };
    // The rename is durable once the directory is (best effort: not every system syncs one).
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(filled)
}

/// Creates `.NAME.RANDOM.tmp` in `dir`, new (never an existing file).
fn create_unique(dir: &Path, name: &str, access: Access) -> std::io::Result<(PathBuf, File)> {
    let mut last = None;
    for _ in 0..16 {
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..12];
        let path = dir.join(format!(".{name}.{suffix}.tmp"));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        if access == Access::Private {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(&path) {
            Ok(f) => return Ok((path, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no unique temporary name")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_target_and_leaves_its_neighbours() {
        let dir = tempfile::tempdir().expect("tmp");
        let target = dir.path().join("plan.json");
        let neighbour = dir.path().join("plan.tmp");
        std::fs::write(&neighbour, "mine").expect("write");
        std::fs::write(&target, "old").expect("write");
        write(&target, b"new", Access::Private).expect("written");
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "new");
        assert_eq!(std::fs::read_to_string(&neighbour).expect("read"), "mine");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names.len(), 2, "no temporary file is left: {names:?}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&target)
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[cfg(unix)]
    #[test]
    fn writes_through_a_symbolic_link_and_refuses_a_directory() {
        let dir = tempfile::tempdir().expect("tmp");
        let real = dir.path().join("real.csv");
        let link = dir.path().join("link.csv");
        std::fs::write(&real, "old").expect("write");
        std::os::unix::fs::symlink("real.csv", &link).expect("symlink");
        write(&link, b"new", Access::AsBefore).expect("written");
        assert!(std::fs::symlink_metadata(&link)
            .expect("meta")
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&real).expect("read"), "new");
        let e = write(dir.path(), b"x", Access::AsBefore).expect_err("a directory");
        assert!(e.to_string().contains("is a directory"), "{e}");
    }
}
