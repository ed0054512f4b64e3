//! SQLite storage: opening, pragmas, versioned migrations. One file per table group.
//!
//! Only this module knows rusqlite. Every method takes the connection lock for one short
//! statement or transaction; callers run on blocking threads.

mod audit;
mod backup;
mod bases;
mod deployments;
mod elements;
mod evidence;
mod insight;
mod keys;
mod mail;
pub(crate) mod packages;
mod releases;
mod removal;
mod reports;
mod revisions;
mod sites;
mod teams;
mod webhooks;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;
use rusqlite_migration::{Migrations, M};

pub use audit::{AuditEntry, FeedEntry};
pub use bases::BaseInfo;
pub use deployments::{DeploymentReport, HostPackageRow, ReleaseRow};
pub use elements::{Element, RolloutAssignment};
pub use evidence::{ReleaseSiteRow, SiteAssignmentRow};
pub use insight::SlaRow;
pub use keys::TeamKey;
pub use mail::PendingMail;
pub use packages::{NewPackage, StoredPackage};
pub use releases::NewRelease;
pub use reports::Report;
pub use revisions::NewRevision;
pub use sites::Site;
pub use teams::Team;
pub use webhooks::{DeliveryAttempt, PendingDelivery};

/// Storage failures. Constraint violations surface as [`DbError::Conflict`].
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database: {0}")]
    Sqlite(rusqlite::Error),
    #[error("database migration: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error("conflicting record: {0}")]
    Conflict(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database file: {0}")]
    Io(#[from] std::io::Error),
    /// SQLite could not write because the disk is full (`SQLITE_FULL`); the transaction was
    /// rolled back.
    #[error("database: the disk is full: {0}")]
    DiskFull(String),
}

impl DbError {
    /// Whether this failure means the disk is full.
    pub fn is_disk_full(&self) -> bool {
        match self {
            DbError::DiskFull(_) => true,
            DbError::Io(e) => crate::store::is_disk_full(e),
            _ => false,
        }
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        match &e {
            rusqlite::Error::SqliteFailure(f, msg) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                DbError::Conflict(msg.clone().unwrap_or_else(|| e.to_string()))
            }
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DiskFull => {
                DbError::DiskFull(e.to_string())
            }
            _ => DbError::Sqlite(e),
        }
    }
}

/// Result of a storage call.
pub type DbResult<T> = Result<T, DbError>;

/// Creates `path` empty with mode 0600 unless it exists (SQLite takes an empty file as an
/// empty database and gives its WAL and shared-memory files the database file's mode).
pub(crate) fn create_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Sets a database file and its `-wal`, `-shm` and `-journal` companions (where present) to 0600.
pub fn restrict_files(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        match std::fs::set_permissions(&name, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// The migrations, in order; never edit a released one, append a new one.
fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(include_str!("migrations/001_foundation.sql")),
        M::up(include_str!("migrations/002_rollout.sql")),
        M::up(include_str!("migrations/003_consistency.sql")),
        M::up(include_str!("migrations/004_inventory.sql")),
        M::up(include_str!("migrations/005_evidence10.sql")),
        M::up(include_str!("migrations/006_sites10.sql")),
        M::up(include_str!("migrations/007_revision_changes.sql")),
    ])
}

/// The database handle shared by the service layer.
pub struct Db {
    conn: Mutex<Connection>,
    /// The package sets of the revisions read last (a revision's set never changes once
    /// committed): every submission's checks read the newest sets of beta and production.
    recent_sets: Mutex<Vec<revisions::CachedSet>>,
}

impl Db {
    /// Opens (creating) the database file, enables WAL and runs pending migrations. The file
    /// and its WAL and shared-memory files are made 0600 whatever the umask: they hold token
    /// hashes and the (sealed) webhook secrets.
    pub fn open(path: &Path) -> DbResult<Db> {
        create_private(path)?;
        let mut conn = Connection::open(path)?;
        Self::init(&mut conn)?;
        restrict_files(path)?;
        Ok(Db {
            conn: Mutex::new(conn),
            recent_sets: Mutex::default(),
        })
    }

    /// An in-memory database, for unit tests.
    pub fn open_in_memory() -> DbResult<Db> {
        let mut conn = Connection::open_in_memory()?;
        Self::init(&mut conn)?;
        Ok(Db {
            conn: Mutex::new(conn),
            recent_sets: Mutex::default(),
        })
    }

    fn init(conn: &mut Connection) -> DbResult<()> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrations().to_latest(conn)?;
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a transaction half-applied (rusqlite
        // rolls back on drop), so the connection is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` in one transaction, committed only when it returns Ok.
    pub fn write<T>(&self, f: impl FnOnce(&Connection) -> DbResult<T>) -> DbResult<T> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// Reads a setting.
    pub fn setting(&self, key: &str) -> DbResult<Option<String>> {
        use rusqlite::OptionalExtension;
        Ok(self
            .lock()
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// Writes a setting.
    pub fn set_setting(&self, key: &str, value: &str) -> DbResult<()> {
        self.lock().execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        super::migrations().validate().unwrap();
    }
}
