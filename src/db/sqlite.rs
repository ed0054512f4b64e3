//! The SQLite engine (the default): one connection in WAL mode, migrations by
//! rusqlite_migration from `migrations/sqlite`.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::types::ValueRef;
use rusqlite::Connection;
use rusqlite_migration::{Migrations, M};

use super::sql::{Executor, Row, Value};
use super::{DbError, DbResult, Engine};

/// The migrations, in order; never edit a released one, append a new one.
pub(super) fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(include_str!("migrations/sqlite/001_foundation.sql")),
        M::up(include_str!("migrations/sqlite/002_rollout.sql")),
        M::up(include_str!("migrations/sqlite/003_consistency.sql")),
        M::up(include_str!("migrations/sqlite/004_inventory.sql")),
        M::up(include_str!("migrations/sqlite/005_evidence10.sql")),
        M::up(include_str!("migrations/sqlite/006_sites10.sql")),
        M::up(include_str!("migrations/sqlite/007_revision_changes.sql")),
    ])
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

/// A SQLite database behind a lock.
pub(super) struct Sqlite {
    conn: Mutex<Connection>,
}

impl Sqlite {
    /// Opens the database file (see [`super::Db::open`]).
    pub(super) fn open(path: &Path) -> DbResult<Sqlite> {
        super::create_private(path)?;
        let mut conn = Connection::open(path)?;
        Self::init(&mut conn)?;
        super::restrict_files(path)?;
        Ok(Sqlite { conn: Mutex::new(conn) })
    }

    /// An in-memory database.
    pub(super) fn in_memory() -> DbResult<Sqlite> {
        let mut conn = Connection::open_in_memory()?;
        Self::init(&mut conn)?;
        Ok(Sqlite { conn: Mutex::new(conn) })
    }

    fn init(conn: &mut Connection) -> DbResult<()> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // Every statement goes through the cache; there are about 150 distinct ones.
        conn.set_prepared_statement_cache_capacity(256);
        migrations().to_latest(conn)?;
        Ok(())
    }

    fn guard(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a transaction half-applied (the
        // transaction guard of Db::write rolls back on unwind), so the connection is usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Engine for Sqlite {
    fn lock(&self) -> Box<dyn Executor + '_> {
        Box::new(SqliteConn(self.guard()))
    }

    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn backup_to(&self, dest: &Path) -> DbResult<()> {
        super::create_private(dest)?;
        let conn = self.guard();
        conn.backup(rusqlite::MAIN_DB, dest, None)?;
        super::restrict_files(dest)?;
        Ok(())
    }
}

struct SqliteConn<'a>(MutexGuard<'a, Connection>);

fn bind(v: &Value) -> rusqlite::types::ToSqlOutput<'_> {
    use rusqlite::types::ToSqlOutput::Borrowed;
    match v {
        Value::Null => Borrowed(ValueRef::Null),
        Value::Int(i) => Borrowed(ValueRef::Integer(*i)),
        Value::Real(f) => Borrowed(ValueRef::Real(*f)),
        Value::Text(s) => Borrowed(ValueRef::Text(s.as_bytes())),
        Value::Blob(b) => Borrowed(ValueRef::Blob(b)),
    }
}

impl Executor for SqliteConn<'_> {
    fn execute(&self, sql: &str, params: &[Value]) -> DbResult<usize> {
        let mut stmt = self.0.prepare_cached(sql)?;
        let bound: Vec<_> = params.iter().map(bind).collect();
        Ok(stmt.execute(rusqlite::params_from_iter(bound))?)
    }

    fn query(&self, sql: &str, params: &[Value], each: &mut dyn FnMut(&Row<'_>) -> DbResult<()>) -> DbResult<()> {
        let mut stmt = self.0.prepare_cached(sql)?;
        let columns = stmt.column_count();
        let bound: Vec<_> = params.iter().map(bind).collect();
        let mut rows = stmt.query(rusqlite::params_from_iter(bound))?;
        let mut values = Vec::with_capacity(columns);
        while let Some(row) = rows.next()? {
            values.clear();
            for i in 0..columns {
                values.push(match row.get_ref(i)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(i) => Value::Int(i),
                    ValueRef::Real(f) => Value::Real(f),
                    // Invalid UTF-8 stays bytes, so reading it as a String fails as it did.
                    ValueRef::Text(t) => match std::str::from_utf8(t) {
                        Ok(s) => Value::Text(s.to_string()),
                        Err(_) => Value::Blob(t.to_vec()),
                    },
                    ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                });
            }
            each(&Row::new(&values))?;
        }
        Ok(())
    }

    fn batch(&self, sql: &str) -> DbResult<()> {
        Ok(self.0.execute_batch(sql)?)
    }
}
