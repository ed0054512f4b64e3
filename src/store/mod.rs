//! The content-addressed package store: every uploaded RPM lives once, under its sha256.
//!
//! Files arrive in `tmp/` and are renamed into place only after validation, so a crash or a
//! refused upload never leaves a partial file where readers look.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

mod budget;
pub use budget::{OverBudget, TempBudget, TempReservation};

/// Whether an I/O error means the disk (or the user's quota) is full: ENOSPC or EDQUOT.
pub fn is_disk_full(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded)
        || matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
}

/// The on-disk store of package files under `<data-dir>/store`.
#[derive(Debug, Clone)]
pub struct PackageStore {
    root: PathBuf,
    tmp: PathBuf,
}

impl PackageStore {
    /// Opens (creating if needed) the store and clears uploads left over from a crash.
    pub fn open(data_dir: &Path) -> io::Result<Self> {
        let root = data_dir.join("store");
        let tmp = data_dir.join("tmp");
        fs::create_dir_all(&root)?;
        if tmp.exists() {
            fs::remove_dir_all(&tmp)?;
        }
        fs::create_dir_all(&tmp)?;
        Ok(PackageStore { root, tmp })
    }

    /// A new temporary file for an incoming upload; it disappears when dropped uncommitted.
    pub fn temp_file(&self) -> io::Result<NamedTempFile> {
        tempfile::Builder::new().prefix("upload-").tempfile_in(&self.tmp)
    }

    /// Where the package with this sha256 lives (whether or not it exists).
    pub fn path(&self, sha256: &str) -> PathBuf {
        self.root.join(&sha256[..2]).join(sha256)
    }

    /// Moves a validated upload into place over whatever is there (a copy found corrupt),
    /// durably; returns its path.
    pub fn replace(&self, temp: NamedTempFile, sha256: &str) -> io::Result<PathBuf> {
        let dest = self.path(sha256);
        let dir = dest.parent().expect("store paths have a parent");
        fs::create_dir_all(dir)?;
        temp.as_file().sync_all()?;
        temp.persist(&dest).map_err(|e| e.error)?;
        sync_dir(dir)?;
        Ok(dest)
    }

    /// Moves a validated upload into place, durably. Already present content is kept as is.
    pub fn commit(&self, temp: NamedTempFile, sha256: &str) -> io::Result<PathBuf> {
        let dest = self.path(sha256);
        if dest.exists() {
            return Ok(dest);
        }
        let dir = dest.parent().expect("store paths have a parent");
        fs::create_dir_all(dir)?;
        temp.as_file().sync_all()?;
        temp.persist(&dest).map_err(|e| e.error)?;
        sync_dir(dir)?;
        Ok(dest)
    }
}

/// Replaces a link (or creates it) with a hard link to `target`, atomically: readers see the
/// old file or the new one. Used to swap a repaired package in for a corrupt one.
pub fn relink(target: &Path, link: &Path) -> io::Result<()> {
    let dir = link.parent().expect("links have a parent");
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        link.file_name().and_then(|n| n.to_str()).unwrap_or("link")
    ));
    let _ = fs::remove_file(&tmp);
    fs::hard_link(target, &tmp)?;
    fs::rename(&tmp, link)
}

/// fsyncs a directory so that a rename inside it survives a crash.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Makes `link` a hard link to `target`, atomically replacing nothing that is already correct.
pub fn link_into(target: &Path, link: &Path) -> io::Result<()> {
    if link.exists() {
        return Ok(());
    }
    relink(target, link)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn commit_moves_and_drop_cleans() {
        let dir = tempfile::tempdir().unwrap();
        let store = PackageStore::open(dir.path()).unwrap();
        let mut t = store.temp_file().unwrap();
        t.write_all(b"abc").unwrap();
        let sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let p = store.commit(t, sha).unwrap();
        assert_eq!(fs::read(p).unwrap(), b"abc");
        let t2 = store.temp_file().unwrap();
        drop(t2);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn disk_full_is_enospc_or_edquot() {
        assert!(is_disk_full(&io::Error::from_raw_os_error(libc::ENOSPC)));
        assert!(is_disk_full(&io::Error::from_raw_os_error(libc::EDQUOT)));
        assert!(is_disk_full(&io::Error::from(io::ErrorKind::StorageFull)));
        assert!(!is_disk_full(&io::Error::from_raw_os_error(libc::EACCES)));
    }
}
