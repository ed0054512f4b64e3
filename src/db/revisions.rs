//! Repository revisions: each publication's exact package set, stored as the difference from
//! the previous revision, with a full snapshot whenever the differences since the last one
//! add up to more than the set itself (so reading any revision costs at most about twice its
//! size, and a publication writes rows for what changed, not for the whole repository).

use std::collections::HashSet;

use super::sql::{params, OptionalExtension, Tx};

use super::{Db, DbError, DbResult};
use crate::domain::repo::{RepoKind, Revision};

/// A snapshot is written once the change rows since the previous one exceed the set's size
/// by this many (small sets would otherwise be snapshotted at every publication).
const SNAPSHOT_SLACK: i64 = 256;

/// Sets kept by [`Db::revision_packages`]: the newest of beta and production of a few
/// distributions.
const RECENT_SETS: usize = 8;

/// A revision's package set, by (dist, repo, number).
pub(crate) type CachedSet = ((String, RepoKind, i64), std::sync::Arc<Vec<String>>);

/// What a publication records.
pub struct NewRevision<'a> {
    pub dist: &'a str,
    pub repo: RepoKind,
    pub repomd_revision: i64,
    pub repomd_sha256: &'a str,
    pub now: i64,
    pub actor: &'a str,
    pub reason: &'a str,
    /// The new package set.
    pub packages: &'a [String],
    /// Packages in `packages` but not in the previous revision.
    pub added: &'a [String],
    /// Packages of the previous revision not in `packages`.
    pub removed: &'a [String],
}

impl Db {
    /// Appends a revision with its changes (and its full set when a snapshot is due), inside
    /// the caller's transaction; returns its number.
    pub fn insert_revision(tx: &Tx<'_>, r: &NewRevision<'_>) -> DbResult<i64> {
        let (number, chain): (i64, i64) = tx.query_row(
            "SELECT COALESCE(MAX(number), 0) + 1,
                    COALESCE((SELECT chain FROM revisions WHERE dist = ?1 AND repo = ?2 ORDER BY number DESC LIMIT 1), 0)
             FROM revisions WHERE dist = ?1 AND repo = ?2",
            params![r.dist, r.repo.as_str()],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        let changes = (r.added.len() + r.removed.len()) as i64;
        let snapshot = number == 1 || chain + changes > r.packages.len() as i64 + SNAPSHOT_SLACK;
        let id: i64 = tx.query_row(
            "INSERT INTO revisions (dist, repo, number, repomd_revision, repomd_sha256, created_at, actor, reason,
                                    package_count, snapshot, has_changes, chain)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1, ?11) RETURNING id",
            params![
                r.dist,
                r.repo.as_str(),
                number,
                r.repomd_revision,
                r.repomd_sha256,
                r.now,
                r.actor,
                r.reason,
                r.packages.len() as i64,
                snapshot,
                if snapshot { 0 } else { chain + changes }
            ],
            |r| r.get(0),
        )?;
        {
            let mut stmt =
                tx.prepare_cached("INSERT INTO revision_changes (revision_id, sha256, added) VALUES (?1, ?2, ?3)")?;
            for sha in r.added {
                stmt.execute(params![id, sha, true])?;
            }
            for sha in r.removed {
                stmt.execute(params![id, sha, false])?;
            }
        }
        if snapshot {
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
            "SELECT v.number, v.repomd_revision, v.repomd_sha256, v.created_at, v.actor, v.reason, v.package_count
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
        rows.collect::<Result<_, _>>()
    }

    /// The package set (sha256 sums, sorted) of revision `number`; empty for number 0: the
    /// newest snapshot at or before it, with the changes since applied in order. The sets read
    /// last are kept in memory.
    pub fn revision_packages(&self, dist: &str, repo: RepoKind, number: i64) -> DbResult<Vec<String>> {
        let key = (dist.to_string(), repo, number);
        let recent = |sets: &mut Vec<CachedSet>| sets.iter().position(|(k, _)| *k == key);
        {
            let mut sets = self.recent_sets.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(i) = recent(&mut sets) {
                let hit = sets.remove(i);
                let out = hit.1.as_ref().clone();
                sets.push(hit);
                return Ok(out);
            }
        }
        let set = self.read_revision_packages(dist, repo, number)?;
        let mut sets = self.recent_sets.lock().unwrap_or_else(|p| p.into_inner());
        if recent(&mut sets).is_none() {
            if sets.len() >= RECENT_SETS {
                sets.remove(0);
            }
            sets.push((key, std::sync::Arc::new(set.clone())));
        }
        Ok(set)
    }

    /// [`Db::revision_packages`] shared rather than copied (the set of a big repository is
    /// tens of thousands of sums).
    pub fn revision_packages_shared(
        &self,
        dist: &str,
        repo: RepoKind,
        number: i64,
    ) -> DbResult<std::sync::Arc<Vec<String>>> {
        let key = (dist.to_string(), repo, number);
        {
            // Least recently used goes first: production's set, read by every check, must not
            // age out behind a run of beta publications.
            let mut sets = self.recent_sets.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(i) = sets.iter().position(|(k, _)| *k == key) {
                let hit = sets.remove(i);
                let set = hit.1.clone();
                sets.push(hit);
                return Ok(set);
            }
        }
        let set = std::sync::Arc::new(self.read_revision_packages(dist, repo, number)?);
        self.remember_revision_set(dist, repo, number, set.clone());
        Ok(set)
    }

    /// Tells [`Db::revision_packages`] the set of a revision just committed (by its publisher,
    /// which has it in memory), so the checks that follow do not read it back.
    pub fn remember_revision_set(&self, dist: &str, repo: RepoKind, number: i64, set: std::sync::Arc<Vec<String>>) {
        let key = (dist.to_string(), repo, number);
        let mut sets = self.recent_sets.lock().unwrap_or_else(|p| p.into_inner());
        sets.retain(|(k, _)| *k != key);
        if sets.len() >= RECENT_SETS {
            sets.remove(0);
        }
        sets.push((key, set));
    }

    /// Drops revision `number`'s set from the cache of recent sets (its publisher is about to
    /// edit it into the next revision's).
    pub fn forget_revision_set(&self, dist: &str, repo: RepoKind, number: i64) {
        let key = (dist.to_string(), repo, number);
        self.recent_sets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(k, _)| *k != key);
    }

    /// [`Db::revision_packages`] from the tables.
    fn read_revision_packages(&self, dist: &str, repo: RepoKind, number: i64) -> DbResult<Vec<String>> {
        let conn = self.lock();
        let snapshot: Option<(i64, i64)> = conn
            .query_row(
                "SELECT id, number FROM revisions WHERE dist = ?1 AND repo = ?2 AND snapshot = 1 AND number <= ?3
                 ORDER BY number DESC LIMIT 1",
                params![dist, repo.as_str(), number],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let exists = |n: i64| -> DbResult<bool> {
            Ok(conn
                .query_row(
                    "SELECT 1 FROM revisions WHERE dist = ?1 AND repo = ?2 AND number = ?3",
                    params![dist, repo.as_str(), n],
                    |_| Ok(()),
                )
                .optional()?
                .is_some())
        };
        if number != 0 && !exists(number)? {
            return Err(DbError::Corrupt(format!("no revision {number}")));
        }
        let Some((id, from)) = snapshot else {
            return if number == 0 {
                Ok(Vec::new())
            } else {
                Err(DbError::Corrupt(format!("no snapshot at or before revision {number}")))
            };
        };
        let mut stmt = conn.prepare_cached("SELECT sha256 FROM revision_packages WHERE revision_id = ?1")?;
        let mut set: HashSet<String> = stmt.query_map([id], |r| r.get(0))?.collect::<Result<_, _>>()?;
        let mut stmt = conn.prepare_cached(
            "SELECT c.sha256, c.added FROM revision_changes c JOIN revisions v ON v.id = c.revision_id
             WHERE v.dist = ?1 AND v.repo = ?2 AND v.number > ?3 AND v.number <= ?4 ORDER BY v.number",
        )?;
        let changes = stmt.query_map(params![dist, repo.as_str(), from, number], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?))
        })?;
        for change in changes {
            let (sha, added) = change?;
            if added {
                set.insert(sha);
            } else {
                set.remove(&sha);
            }
        }
        let mut out: Vec<String> = set.into_iter().collect();
        out.sort();
        Ok(out)
    }

    /// What revision `number` added and removed (sorted), or None when it predates recorded
    /// changes (a revision written before migration 007).
    pub fn revision_changes(
        &self,
        dist: &str,
        repo: RepoKind,
        number: i64,
    ) -> DbResult<Option<(Vec<String>, Vec<String>)>> {
        let conn = self.lock();
        let row: Option<(i64, bool)> = conn
            .query_row(
                "SELECT id, has_changes FROM revisions WHERE dist = ?1 AND repo = ?2 AND number = ?3",
                params![dist, repo.as_str(), number],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((id, true)) = row else {
            return Ok(None);
        };
        let mut stmt =
            conn.prepare_cached("SELECT sha256, added FROM revision_changes WHERE revision_id = ?1 ORDER BY sha256")?;
        let (mut added, mut removed) = (Vec::new(), Vec::new());
        for row in stmt.query_map([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)))? {
            let (sha, is_added) = row?;
            if is_added {
                added.push(sha);
            } else {
                removed.push(sha);
            }
        }
        Ok(Some((added, removed)))
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
    /// The packages of revision `number`, with their identities.
    pub fn revision_package_rows(
        &self,
        dist: &str,
        repo: RepoKind,
        number: i64,
    ) -> DbResult<Vec<crate::db::StoredPackage>> {
        let shas = self.revision_packages(dist, repo, number)?;
        self.packages_by_sha(&shas)
    }
}

impl Db {
    /// The state of every release of a distribution, by id: what publication needs to choose
    /// the advisories of a repository, in one query.
    pub fn release_states(&self, dist: &str) -> DbResult<std::collections::HashMap<i64, String>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached("SELECT id, state FROM releases WHERE dist = ?1")?;
        let rows = stmt.query_map([dist], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()
    }
}

/// An advisory row: (id, release, issued, updated).
pub type AdvisoryRow = (String, i64, i64, i64);

impl Db {
    /// Records the advisory of a promotion (inside the caller's transaction).
    pub fn insert_advisory(tx: &Tx<'_>, a: &crate::domain::advisory::Advisory, year: i32, seq: i64) -> DbResult<()> {
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
        self.lock().query_row(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM advisories WHERE year = ?1",
            [year],
            |r| r.get(0),
        )
    }

    /// Advisories of a distribution, oldest first.
    pub fn advisories(&self, dist: &str) -> DbResult<Vec<AdvisoryRow>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT id, release_id, issued, updated FROM advisories WHERE dist = ?1 ORDER BY issued, id",
        )?;
        let rows = stmt.query_map([dist], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        rows.collect::<Result<_, _>>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Hundreds of revisions of random changes: every revision reads back as its set, through
    /// snapshots and change chains, and its recorded changes are the difference.
    #[test]
    fn sets_read_back_through_snapshots_and_changes() {
        let db = Db::open_in_memory().unwrap();
        // The packages table is not what this test is about.
        db.lock().execute_batch("PRAGMA foreign_keys = OFF").unwrap();
        let mut state: u64 = 7;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state >> 33
        };
        let mut set: BTreeSet<String> = BTreeSet::new();
        let mut expected = vec![BTreeSet::new()];
        for number in 1..=400i64 {
            let before = set.clone();
            // Mostly small releases, sometimes a large change, sometimes removals.
            let adds = if number % 97 == 0 { 300 } else { next() % 4 };
            for _ in 0..adds {
                set.insert(format!("{:064x}", next()));
            }
            let removes = (next() % 3) as usize;
            let victims: Vec<String> = set.iter().step_by(7).take(removes).cloned().collect();
            for v in &victims {
                set.remove(v);
            }
            let packages: Vec<String> = set.iter().cloned().collect();
            let added: Vec<String> = set.difference(&before).cloned().collect();
            let removed: Vec<String> = before.difference(&set).cloned().collect();
            let n = db
                .write(|tx| {
                    Db::insert_revision(
                        tx,
                        &NewRevision {
                            dist: "el9",
                            repo: RepoKind::Production,
                            repomd_revision: number,
                            repomd_sha256: "x",
                            now: number,
                            actor: "t",
                            reason: "t",
                            packages: &packages,
                            added: &added,
                            removed: &removed,
                        },
                    )
                })
                .unwrap();
            assert_eq!(n, number);
            expected.push(set.clone());
        }
        let snapshots: i64 = db
            .lock()
            .query_row("SELECT COUNT(*) FROM revisions WHERE snapshot = 1", (), |r| r.get(0))
            .unwrap();
        // The first revision, and the chain outgrowing the set at least once.
        assert!((2..40).contains(&snapshots), "{snapshots} snapshots");
        for (number, want) in expected.iter().enumerate() {
            let got = db
                .revision_packages("el9", RepoKind::Production, number as i64)
                .unwrap();
            assert_eq!(got, want.iter().cloned().collect::<Vec<_>>(), "revision {number}");
            if number > 0 {
                let (added, removed) = db
                    .revision_changes("el9", RepoKind::Production, number as i64)
                    .unwrap()
                    .unwrap();
                let prev = &expected[number - 1];
                assert_eq!(added, want.difference(prev).cloned().collect::<Vec<_>>());
                assert_eq!(removed, prev.difference(want).cloned().collect::<Vec<_>>());
            }
        }
        let listed = db.revisions("el9", RepoKind::Production, 1000).unwrap();
        assert_eq!(listed.len(), 400);
        assert!(listed
            .iter()
            .all(|r| r.package_count == expected[r.number as usize].len() as i64));
        assert!(db.revision_packages("el9", RepoKind::Production, 401).is_err());
    }
}
