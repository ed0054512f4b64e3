//! Storage: SQLite (the default) or PostgreSQL behind one engine-neutral executor
//! ([`sql`]), versioned migrations per engine. One file per table group.
//!
//! Only this module knows the SQL engines. Every method takes the connection lock for one short
//! statement or transaction; callers run on blocking threads.

mod audit;
mod bases;
pub mod copy;
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

mod postgres;
pub mod sql;
mod sqlite;

use std::path::Path;

pub use sql::{Conn, Tx};

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

/// Storage failures. Constraint violations surface as [`DbError::Conflict`] and a full disk as
/// [`DbError::DiskFull`] whatever the engine, so the HTTP mapping stays in one place.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database: {0}")]
    Sqlite(rusqlite::Error),
    #[error("database: {}", postgres::describe(.0))]
    Postgres(::postgres::Error),
    #[error("database migration: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error("conflicting record: {0}")]
    Conflict(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database file: {0}")]
    Io(#[from] std::io::Error),
    /// The engine could not write because the disk is full (`SQLITE_FULL`, SQLSTATE 53100);
    /// the transaction was rolled back.
    #[error("database: the disk is full: {0}")]
    DiskFull(String),
    /// A single-row query found no row (see [`sql::OptionalExtension`]).
    #[error("database: no such row")]
    NoRows,
    /// What this engine does not do (a SQLite file backup of a PostgreSQL database).
    #[error("{0}")]
    Unsupported(String),
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

/// One SQL engine, chosen once at start-up: hands out its locked connection.
trait Engine: Send + Sync {
    /// The connection, locked until the returned executor is dropped.
    fn lock(&self) -> Box<dyn sql::Executor + '_>;
    /// "sqlite" or "postgres", for logs and messages.
    fn name(&self) -> &'static str;
    /// Copies the whole database into a new SQLite file `dest`, one consistent state.
    fn backup_to(&self, dest: &Path) -> DbResult<()>;
    /// Why [`Engine::backup_to`] is not available, if it is not.
    fn backup_refusal(&self) -> Option<String> {
        None
    }
    /// Whether this process leads (runs the SLA timer and deliveries): takes or checks the
    /// leader lock. One process per database file on SQLite, so it always leads there.
    fn try_lead(&self) -> bool {
        true
    }
    /// Holds the cross-process lock `key` until the returned guard is dropped. One process
    /// per SQLite file, whose in-process locks suffice: nothing to hold there.
    fn hold(&self, _key: i64) -> DbResult<Box<dyn Send>> {
        Ok(Box::new(()))
    }
    /// Tells the other processes on the database that a publication was made.
    fn announce_publication(&self) {}
    /// Calls `on_announcement` (from a thread of its own) whenever another process announces
    /// a publication; false when there are no other processes to hear from (SQLite).
    fn listen(&self, _on_announcement: Box<dyn Fn() + Send>) -> bool {
        false
    }
}

/// The database handle shared by the service layer.
pub struct Db {
    engine: Box<dyn Engine>,
    /// The package sets of the revisions read last (a revision's set never changes once
    /// committed): every submission's checks read the newest sets of beta and production.
    recent_sets: std::sync::Mutex<Vec<revisions::CachedSet>>,
}

/// Rolls back an open transaction unless it was committed (also when `f` panicked).
struct Rollback<'c, 'a> {
    conn: &'c Conn<'a>,
    open: bool,
}

impl Drop for Rollback<'_, '_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

impl Db {
    fn with_engine(engine: Box<dyn Engine>) -> Db {
        Db {
            engine,
            recent_sets: std::sync::Mutex::default(),
        }
    }

    /// Opens (creating) the SQLite database file, enables WAL and runs pending migrations. The
    /// file and its WAL and shared-memory files are made 0600 whatever the umask: they hold
    /// token hashes and the (sealed) webhook secrets.
    pub fn open(path: &Path) -> DbResult<Db> {
        Ok(Self::with_engine(Box::new(sqlite::Sqlite::open(path)?)))
    }

    /// Connects to PostgreSQL at `url` (`postgres://user@host:port/dbname`) and runs pending
    /// migrations.
    pub fn open_postgres(url: &str) -> DbResult<Db> {
        Ok(Self::with_engine(Box::new(postgres::Postgres::connect(url)?)))
    }

    /// An in-memory SQLite database, for unit tests.
    pub fn open_in_memory() -> DbResult<Db> {
        Ok(Self::with_engine(Box::new(sqlite::Sqlite::in_memory()?)))
    }

    /// The engine's name: "sqlite" or "postgres".
    pub fn engine(&self) -> &'static str {
        self.engine.name()
    }

    fn lock(&self) -> Conn<'_> {
        Conn::new(self.engine.lock())
    }

    /// Whether this replica is the leader, which alone runs the SLA timer and the webhook and
    /// e-mail delivery: on PostgreSQL an advisory lock held on a dedicated connection, taken
    /// when free and given up when that connection fails; on SQLite always.
    pub fn try_lead(&self) -> bool {
        self.engine.try_lead()
    }

    /// Tells the other replicas that this one published, so that they catch up at once rather
    /// than at their next look (PostgreSQL `NOTIFY`; nothing on SQLite).
    pub fn announce_publication(&self) {
        self.engine.announce_publication();
    }

    /// Calls `on_announcement` whenever another replica announces a publication; false when
    /// there are no other replicas to hear from (SQLite).
    pub fn listen(&self, on_announcement: Box<dyn Fn() + Send>) -> bool {
        self.engine.listen(on_announcement)
    }

    /// Holds the lock that serialises publications of `dist/repo` across replicas (a
    /// PostgreSQL advisory lock on its own connection) until the guard is dropped; a no-op on
    /// SQLite. Taken inside the in-process per-repository lock, so a replica waits for it once.
    pub fn lock_repository(&self, dist: &str, repo: &str) -> DbResult<Box<dyn Send>> {
        // A stable key (not the randomly seeded std hasher): FNV-1a of "dist/repo".
        let mut key: u64 = 0xcbf2_9ce4_8422_2325;
        for b in format!("stagerepo-publish:{dist}/{repo}").bytes() {
            key = (key ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        self.engine.hold(key as i64)
    }

    /// Whether other processes (replicas) may use this database too, so that leadership can
    /// move and must be looked at again: PostgreSQL.
    pub fn may_be_shared(&self) -> bool {
        self.engine.name() == "postgres"
    }

    /// Runs `f` in one transaction, committed only when it returns Ok.
    pub fn write<T>(&self, f: impl FnOnce(&Tx<'_>) -> DbResult<T>) -> DbResult<T> {
        let conn = self.lock();
        conn.execute_batch("BEGIN")?;
        let mut guard = Rollback {
            conn: &conn,
            open: true,
        };
        let value = f(&conn)?;
        conn.execute_batch("COMMIT")?;
        guard.open = false;
        Ok(value)
    }

    /// Copies the whole database into a new SQLite file `dest` (SQLite's online backup, under
    /// the connection lock, so one consistent state); refused with PostgreSQL.
    pub fn backup_to(&self, dest: &Path) -> DbResult<()> {
        self.check_backup()?;
        self.engine.backup_to(dest)
    }

    /// Whether [`Db::backup_to`] can work: [`DbError::Unsupported`] with PostgreSQL, checked
    /// before a backup touches anything.
    pub fn check_backup(&self) -> DbResult<()> {
        match self.engine.backup_refusal() {
            Some(why) => Err(DbError::Unsupported(why)),
            None => Ok(()),
        }
    }

    /// Reads a setting.
    pub fn setting(&self, key: &str) -> DbResult<Option<String>> {
        use sql::OptionalExtension;
        self.lock()
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| r.get(0))
            .optional()
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
    use super::sql::{params, OptionalExtension};
    use super::*;

    #[test]
    fn migrations_are_valid() {
        super::sqlite::migrations().validate().unwrap();
    }

    /// A transaction is all or nothing: an error or a panic in the closure rolls it back, and
    /// the connection serves the next call.
    #[test]
    fn transactions_roll_back_on_error_and_on_panic() {
        let db = Db::open_in_memory().unwrap();
        let count = |db: &Db| -> i64 {
            db.lock()
                .query_row("SELECT COUNT(*) FROM settings", (), |r| r.get(0))
                .unwrap()
        };
        let failed: DbResult<()> = db.write(|tx| {
            tx.execute("INSERT INTO settings (key, value) VALUES (?1, ?2)", ["a", "1"])?;
            Err(DbError::Corrupt("stop".into()))
        });
        assert!(failed.is_err());
        assert_eq!(count(&db), 0);
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = db.write(|tx| -> DbResult<()> {
                tx.execute("INSERT INTO settings (key, value) VALUES (?1, ?2)", ["b", "2"])?;
                panic!("in the middle of a transaction");
            });
        }));
        assert!(panicked.is_err());
        assert_eq!(count(&db), 0);
        db.write(|tx| tx.execute("INSERT INTO settings (key, value) VALUES (?1, ?2)", ["c", "3"]))
            .unwrap();
        assert_eq!(db.setting("c").unwrap().as_deref(), Some("3"));
    }

    /// Mixed parameters bind, typed getters read them back, a missing row is `None`, and a
    /// constraint violation is a conflict.
    #[test]
    fn the_executor_binds_reads_and_maps_errors() {
        let db = Db::open_in_memory().unwrap();
        let conn = db.lock();
        let (a, b, c, d): (i64, bool, Option<String>, String) = conn
            .query_row("SELECT ?1, ?2, ?3, ?4", params![7i64, true, None::<&str>, "x"], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .unwrap();
        assert_eq!((a, b, c, d.as_str()), (7, true, None, "x"));
        let missing = conn
            .query_row("SELECT value FROM settings WHERE key = ?1", ["nope"], |r| {
                r.get::<_, String>(0)
            })
            .optional()
            .unwrap();
        assert_eq!(missing, None);
        assert!(matches!(
            conn.query_row("SELECT 'text'", (), |r| r.get::<_, i64>(0)),
            Err(DbError::Corrupt(_))
        ));
        conn.execute("INSERT INTO settings (key, value) VALUES (?1, ?2)", ["k", "v"])
            .unwrap();
        assert!(matches!(
            conn.execute("INSERT INTO settings (key, value) VALUES (?1, ?2)", ["k", "w"]),
            Err(DbError::Conflict(_))
        ));
        assert!(matches!(
            conn.execute(
                "INSERT INTO audit (at, actor, action, object) VALUES (1, 'a', 'b', 'c')",
                ()
            ),
            Ok(1)
        ));
        assert!(matches!(
            conn.execute("DELETE FROM audit", ()),
            Err(DbError::Conflict(_))
        ));
    }
}
