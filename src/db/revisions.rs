//! Repository revisions: each publication's exact package set.

use rusqlite::{params, Connection, OptionalExtension};

use super::{Db, DbError, DbResult};
use crate::domain::repo::{RepoKind, Revision};

/// What a publication records.
pub struct NewRevision<'a> {
    pub dist: &'a str,
    pub repo: RepoKind,
    pub repomd_revision: i64,
    pub repomd_sha256: &'a str,
    pub now: i64,
    pub actor: &'a str,
    pub reason: &'a str,
    pub packages: &'a [String],
}

impl Db {
    /// Appends a revision with its package set (inside the caller's transaction); returns its number.
    pub fn insert_revision(tx: &Connection, r: &NewRevision<'_>) -> DbResult<i64> {
        let number: i64 = tx.query_row(
            "SELECT COALESCE(MAX(number), 0) + 1 FROM revisions WHERE dist = ?1 AND repo = ?2",
            params![r.dist, r.repo.as_str()],
            |row| row.get(0),
        )?;
        tx.execute(
            "INSERT INTO revisions (dist, repo, number, repomd_revision, repomd_sha256, created_at, actor, reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                r.dist,
                r.repo.as_str(),
                number,
                r.repomd_revision,
                r.repomd_sha256,
                r.now,
                r.actor,
                r.reason
            ],
        )?;
        let id = tx.last_insert_rowid();
        {
            let mut stmt = tx.prepare_cached("INSERT INTO revision_packages (revision_id, sha256) VALUES (?1, ?2)")?;
            for sha in r.packages {
                stmt.execute(params![id, sha])?;
            }
        }
        Ok(number)
    }

    /// The newest revision of a repository.
    pub fn latest_revision(&self, dist: &str, repo: RepoKind) -> DbResult<Option<Revision>> {
        Ok(self.revisions(dist, repo, 1)?.into_iter().next())
    }

    /// The newest `limit` revisions of a repository, newest first.
    pub fn revisions(&self, dist: &str, repo: RepoKind, limit: i64) -> DbResult<Vec<Revision>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT v.number, v.repomd_revision, v.repomd_sha256, v.created_at, v.actor, v.reason,
                    (SELECT COUNT(*) FROM revision_packages p WHERE p.revision_id = v.id)
             FROM revisions v WHERE v.dist = ?1 AND v.repo = ?2 ORDER BY v.number DESC LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![dist, repo.as_str(), limit], |r| {
            Ok(Revision {
                dist: dist.to_string(),
                repo,
                number: r.get(0)?,
                repomd_revision: r.get(1)?,
                repomd_sha256: r.get(2)?,
                created_at: r.get(3)?,
                actor: r.get(4)?,
                reason: r.get(5)?,
                package_count: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The package set (sha256 sums) of revision `number`; empty for number 0.
    pub fn revision_packages(&self, dist: &str, repo: RepoKind, number: i64) -> DbResult<Vec<String>> {
        let conn = self.lock();
        let id: Option<i64> = conn
            .query_row(
                "SELECT id FROM revisions WHERE dist = ?1 AND repo = ?2 AND number = ?3",
                params![dist, repo.as_str(), number],
                |r| r.get(0),
            )
            .optional()?;
        let Some(id) = id else {
            return if number == 0 {
                Ok(Vec::new())
            } else {
                Err(DbError::Corrupt(format!("no revision {number}")))
            };
        };
        let mut stmt = conn.prepare_cached("SELECT sha256 FROM revision_packages WHERE revision_id = ?1")?;
        let shas = stmt.query_map([id], |r| r.get(0))?.collect::<Result<_, _>>()?;
        Ok(shas)
    }
}

impl Db {
    /// Records that revision `number` was rewritten with another repomd.xml.
    pub fn update_revision_repomd(
        &self,
        dist: &str,
        repo: RepoKind,
        number: i64,
        repomd_revision: i64,
        sha: &str,
    ) -> DbResult<()> {
        self.lock().execute(
            "UPDATE revisions SET repomd_revision = ?4, repomd_sha256 = ?5 WHERE dist = ?1 AND repo = ?2 AND number = ?3",
            params![dist, repo.as_str(), number, repomd_revision, sha],
        )?;
        Ok(())
    }
}

impl Db {
    /// The packages of revision `number`, with their identities, in one query.
    pub fn revision_package_rows(
        &self,
        dist: &str,
        repo: RepoKind,
        number: i64,
    ) -> DbResult<Vec<crate::db::StoredPackage>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT p.sha256, p.filename, p.name, p.epoch, p.version, p.release, p.arch, p.size, p.uploaded_at
             FROM revisions v JOIN revision_packages rp ON rp.revision_id = v.id JOIN packages p ON p.sha256 = rp.sha256
             WHERE v.dist = ?1 AND v.repo = ?2 AND v.number = ?3",
        )?;
        let rows = stmt.query_map(
            params![dist, repo.as_str(), number],
            crate::db::packages::row_to_package,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// An advisory row: (id, release, issued, updated).
pub type AdvisoryRow = (String, i64, i64, i64);

impl Db {
    /// Records the advisory of a promotion (inside the caller's transaction).
    pub fn insert_advisory(
        tx: &Connection,
        a: &crate::domain::advisory::Advisory,
        year: i32,
        seq: i64,
    ) -> DbResult<()> {
        tx.execute(
            // A release's advisory is allocated at submission; its promotion re-issues it.
            "INSERT INTO advisories (id, release_id, dist, year, seq, issued, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(id) DO UPDATE SET issued = excluded.issued, updated = excluded.updated",
            params![a.id, a.release, a.dist, year, seq, a.issued, a.updated],
        )?;
        Ok(())
    }

    /// The next advisory number of a year (advisory ids are unique across distributions).
    pub fn next_advisory_seq(&self, year: i32) -> DbResult<i64> {
        Ok(self.lock().query_row(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM advisories WHERE year = ?1",
            [year],
            |r| r.get(0),
        )?)
    }

    /// Advisories of a distribution, oldest first.
    pub fn advisories(&self, dist: &str) -> DbResult<Vec<AdvisoryRow>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT id, release_id, issued, updated FROM advisories WHERE dist = ?1 ORDER BY issued, id",
        )?;
        let rows = stmt.query_map([dist], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
