//! Moving an installation from SQLite to PostgreSQL: every table of a (stopped) server's
//! SQLite database copied into an empty PostgreSQL database of the same schema, in one
//! transaction, ids included; the identity sequences then continue after the copied ids.

use std::path::Path;

use serde::Serialize;

use super::sql::Value;
use super::{Db, DbError, DbResult};

/// The tables in an order that satisfies every foreign key (referenced tables first).
const TABLES: &[&str] = &[
    "settings",
    "teams",
    "packages",
    "releases",
    "release_packages",
    "revisions",
    "revision_packages",
    "revision_changes",
    "elements",
    "element_packages",
    "sites",
    "rollouts",
    "release_sites",
    "release_events",
    "reports",
    "problems",
    "feed_entries",
    "webhook_deliveries",
    "webhook_attempts",
    "audit",
    "team_keys",
    "advisories",
    "base_repos",
    "deployment_reports",
    "deployment_packages",
    "email_outbox",
];

/// What a copy moved: rows per table, in copy order.
#[derive(Debug, Clone, Serialize)]
pub struct CopyOutcome {
    pub tables: Vec<(String, u64)>,
    pub rows: u64,
}

/// Copies the SQLite database at `sqlite` (brought to the newest schema first) into the
/// PostgreSQL database at `url`, which must hold no rows yet. Run it with the server stopped:
/// what the server writes during the copy would not be in it.
pub fn copy_sqlite_to_postgres(sqlite: &Path, url: &str) -> DbResult<CopyOutcome> {
    if !sqlite.is_file() {
        return Err(DbError::Unsupported(format!(
            "no SQLite database at {}",
            sqlite.display()
        )));
    }
    let from = Db::open(sqlite)?;
    let to = Db::open_postgres(url)?;
    let src = from.lock();
    let present: Vec<String> = src.query_all(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        (),
        |r| r.get(0),
    )?;
    let mut known: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
    known.sort();
    if present != known {
        // A table added by a newer migration must be added to TABLES (in foreign-key order).
        return Err(DbError::Corrupt(format!(
            "the SQLite database has the tables {present:?}, the copy knows {known:?}"
        )));
    }
    let tables = to.write(|tx| {
        for table in TABLES {
            let n: i64 = tx.query_row(&format!("SELECT COUNT(*) FROM {table}"), (), |r| r.get(0))?;
            if n > 0 {
                return Err(DbError::Unsupported(format!(
                    "the PostgreSQL database already holds data ({n} rows in {table}): copy into a new, empty database"
                )));
            }
        }
        let mut out = Vec::new();
        for table in TABLES {
            let columns: Vec<String> =
                src.query_all("SELECT name FROM pragma_table_info(?1) ORDER BY cid", [*table], |r| r.get(0))?;
            let list = columns.join(", ");
            let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
            let insert = format!("INSERT INTO {table} ({list}) VALUES ({})", placeholders.join(", "));
            let mut rows = 0u64;
            src.for_each(&format!("SELECT {list} FROM {table}"), (), |row| {
                tx.execute(&insert, row.values())?;
                rows += 1;
                Ok(())
            })?;
            let copied: i64 = tx.query_row(&format!("SELECT COUNT(*) FROM {table}"), (), |r| r.get(0))?;
            if copied as u64 != rows {
                return Err(DbError::Corrupt(format!("{table}: read {rows} rows, {copied} arrived")));
            }
            // Generated ids continue after the copied ones (advisories' ids are not generated).
            let sequence: Option<String> = if columns.iter().any(|c| c == "id") {
                tx.query_row(
                    "SELECT pg_get_serial_sequence(?1, 'id')",
                    [Value::Text(table.to_string())],
                    |r| r.get(0),
                )?
            } else {
                None
            };
            if let Some(sequence) = sequence {
                tx.query_all(
                    &format!(
                        "SELECT setval(CAST(CAST(?1 AS TEXT) AS regclass), (SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
                    ),
                    [Value::Text(sequence)],
                    |_| Ok(()),
                )?;
            }
            out.push((table.to_string(), rows));
        }
        Ok(out)
    })?;
    let rows = tables.iter().map(|(_, n)| n).sum();
    Ok(CopyOutcome { tables, rows })
}
