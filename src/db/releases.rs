//! Releases and their packages.

use super::sql::{params, OptionalExtension, Tx};

use super::{Db, DbError, DbResult};
use crate::domain::release::{Release, ReleaseEvent, ReleaseState};

/// What a submission stores.
pub struct NewRelease<'a> {
    pub dist: &'a str,
    pub element: &'a str,
    pub version: &'a str,
    pub team_id: i64,
    pub notes: &'a str,
    pub state: ReleaseState,
    pub now: i64,
    pub packages: &'a [String],
    pub fixes: &'a [i64],
    pub advisory_type: &'a str,
    pub severity: Option<&'a str>,
    pub references: &'a [String],
}

impl Db {
    /// Inserts a release and its package list (inside the caller's transaction); returns its id.
    pub fn insert_release(tx: &Tx<'_>, r: &NewRelease<'_>) -> DbResult<i64> {
        let id: i64 = tx.query_row(
            "INSERT INTO releases (dist, element, version, team_id, notes, state, created_at, fixes, advisory_type, severity, refs)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) RETURNING id",
            params![
                r.dist,
                r.element,
                r.version,
                r.team_id,
                r.notes,
                r.state.as_str(),
                r.now,
                serde_json::to_string(r.fixes).expect("ids serialise"),
                r.advisory_type,
                r.severity,
                serde_json::to_string(r.references).expect("strings serialise")
            ],
            |r| r.get(0),
        )?;
        for sha in r.packages {
            tx.execute(
                "INSERT INTO release_packages (release_id, sha256) VALUES (?1, ?2)",
                params![id, sha],
            )?;
        }
        Ok(id)
    }

    /// Changes a release's state (inside the caller's transaction).
    pub fn set_release_state(tx: &Tx<'_>, id: i64, state: ReleaseState) -> DbResult<()> {
        tx.execute(
            "UPDATE releases SET state = ?2 WHERE id = ?1",
            params![id, state.as_str()],
        )?;
        Ok(())
    }

    /// Records a state change and its event (inside the caller's transaction).
    ///
    /// A change from a known state applies only while the release is still in it, so that two
    /// processes deciding the same change at once (two replicas' SLA timers for a moment) make
    /// it once: the second finds no row in that state and its whole transaction is refused.
    pub fn transition_release(tx: &Tx<'_>, id: i64, ev: &ReleaseEvent) -> DbResult<()> {
        let changed = match ev.from {
            Some(from) => tx.execute(
                "UPDATE releases SET state = ?2 WHERE id = ?1 AND state = ?3",
                params![id, ev.to.as_str(), from.as_str()],
            )?,
            None => tx.execute(
                "UPDATE releases SET state = ?2 WHERE id = ?1",
                params![id, ev.to.as_str()],
            )?,
        };
        if changed == 0 {
            return Err(DbError::Conflict(format!(
                "release {id} is no longer {}: it was changed meanwhile",
                ev.from.map_or("there", |f| f.as_str())
            )));
        }
        tx.execute(
            "INSERT INTO release_events (release_id, at, actor, from_state, to_state, reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                id,
                ev.at,
                ev.actor,
                ev.from.map(|f| f.as_str()),
                ev.to.as_str(),
                ev.reason
            ],
        )?;
        Ok(())
    }

    /// Marks a release as announced at `at` to these (site id, SLA seconds).
    pub fn set_announced(tx: &Tx<'_>, id: i64, at: i64, sites: &[(i64, i64)]) -> DbResult<()> {
        tx.execute("UPDATE releases SET announced_at = ?2 WHERE id = ?1", params![id, at])?;
        for (site, sla) in sites {
            tx.execute(
                "INSERT INTO release_sites (release_id, site_id, sla_seconds) VALUES (?1, ?2, ?3)",
                params![id, site, sla],
            )?;
        }
        Ok(())
    }

    /// Records the shortened SLA of a fast-tracked announcement.
    pub fn set_fast_track(tx: &Tx<'_>, id: i64, seconds: i64) -> DbResult<()> {
        tx.execute(
            "UPDATE releases SET fast_track_seconds = ?2 WHERE id = ?1",
            params![id, seconds],
        )?;
        Ok(())
    }

    /// Marks a release's promotion as forced past the gate.
    pub fn set_forced(tx: &Tx<'_>, id: i64) -> DbResult<()> {
        tx.execute("UPDATE releases SET forced = 1 WHERE id = ?1", [id])?;
        Ok(())
    }

    /// The transitions of a release, oldest first.
    pub fn release_events(&self, id: i64) -> DbResult<Vec<ReleaseEvent>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT at, actor, from_state, to_state, reason FROM release_events WHERE release_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (at, actor, from, to, reason) = row?;
            let parse = |s: &str| ReleaseState::parse(s).ok_or_else(|| DbError::Corrupt(format!("state {s}")));
            out.push(ReleaseEvent {
                at,
                actor,
                from: from.as_deref().map(parse).transpose()?,
                to: parse(&to)?,
                reason,
            });
        }
        Ok(out)
    }

    /// The rollout sites (name, SLA seconds) a release was announced to.
    pub fn release_sites(&self, id: i64) -> DbResult<Vec<(String, i64)>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT s.name, rs.sla_seconds FROM release_sites rs JOIN sites s ON s.id = rs.site_id
             WHERE rs.release_id = ?1 ORDER BY s.name",
        )?;
        let rows = stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()
    }

    /// Ids of the releases in `state`, oldest first.
    pub fn releases_in_state(&self, state: ReleaseState) -> DbResult<Vec<i64>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached("SELECT id FROM releases WHERE state = ?1 ORDER BY id")?;
        let ids = stmt
            .query_map([state.as_str()], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(ids)
    }

    /// The releases of an element in a distribution, oldest first.
    pub fn element_releases(&self, dist: &str, element: &str) -> DbResult<Vec<(i64, String, ReleaseState)>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("SELECT id, version, state FROM releases WHERE dist = ?1 AND element = ?2 ORDER BY id")?;
        let rows = stmt.query_map([dist, element], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, v, st) = row?;
            out.push((
                id,
                v,
                ReleaseState::parse(&st).ok_or_else(|| DbError::Corrupt(format!("state {st}")))?,
            ));
        }
        Ok(out)
    }

    /// One release with its package file names.
    pub fn release(&self, id: i64) -> DbResult<Option<Release>> {
        let conn = self.lock();
        let release = conn
            .query_row(
                "SELECT r.id, r.dist, r.element, r.version, t.name, r.notes, r.state, r.created_at,
                        r.announced_at, r.forced, r.fixes, r.advisory_type, r.severity, r.fast_track_seconds,
                        r.refs, (SELECT a.id FROM advisories a WHERE a.release_id = r.id)
                 FROM releases r JOIN teams t ON t.id = r.team_id WHERE r.id = ?1",
                [id],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, String>(6)?,
                        r.get::<_, i64>(7)?,
                        r.get::<_, Option<i64>>(8)?,
                        r.get::<_, bool>(9)?,
                        (
                            r.get::<_, String>(10)?,
                            r.get::<_, String>(11)?,
                            r.get::<_, Option<String>>(12)?,
                            r.get::<_, Option<i64>>(13)?,
                            r.get::<_, String>(14)?,
                            r.get::<_, Option<String>>(15)?,
                        ),
                    ))
                },
            )
            .optional()?;
        let Some((id, dist, element, version, team, notes, state, created_at, announced_at, forced, extra)) = release
        else {
            return Ok(None);
        };
        let state = ReleaseState::parse(&state).ok_or_else(|| DbError::Corrupt(format!("release state {state}")))?;
        let mut stmt = conn.prepare_cached(
            "SELECT p.filename FROM release_packages rp JOIN packages p ON p.sha256 = rp.sha256
             WHERE rp.release_id = ?1 ORDER BY p.filename",
        )?;
        let packages = stmt.query_map([id], |r| r.get(0))?.collect::<Result<_, _>>()?;
        Ok(Some(Release {
            id,
            dist,
            element,
            version,
            team,
            notes,
            state,
            created_at,
            announced_at,
            forced,
            fixes: serde_json::from_str(&extra.0).map_err(|e| DbError::Corrupt(format!("fixes: {e}")))?,
            advisory_type: extra.1,
            severity: extra.2,
            fast_track_seconds: extra.3,
            packages,
            references: serde_json::from_str(&extra.4).map_err(|e| DbError::Corrupt(format!("refs: {e}")))?,
            advisory: extra.5,
        }))
    }

    /// Ids of all releases, newest first, optionally of one distribution.
    pub fn release_ids(&self, dist: Option<&str>) -> DbResult<Vec<i64>> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare("SELECT id FROM releases WHERE CAST(?1 AS TEXT) IS NULL OR dist = ?1 ORDER BY id DESC")?;
        let ids = stmt.query_map([dist], |r| r.get(0))?.collect::<Result<_, _>>()?;
        Ok(ids)
    }

    /// sha256 sums of a release's packages.
    pub fn release_package_shas(&self, id: i64) -> DbResult<Vec<String>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached("SELECT sha256 FROM release_packages WHERE release_id = ?1")?;
        let shas = stmt.query_map([id], |r| r.get(0))?.collect::<Result<_, _>>()?;
        Ok(shas)
    }

    /// The latest release of `dist` that brought the package `sha`: (id, element, version).
    pub fn release_of_package(&self, dist: &str, sha: &str) -> DbResult<Option<(i64, String, String)>> {
        self.lock()
            .query_row(
                "SELECT r.id, r.element, r.version FROM release_packages rp JOIN releases r ON r.id = rp.release_id
                 WHERE r.dist = ?1 AND rp.sha256 = ?2 ORDER BY r.id DESC LIMIT 1",
                params![dist, sha],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
    }

    /// Whether (dist, element, version) is taken.
    pub fn release_exists(&self, dist: &str, element: &str, version: &str) -> DbResult<Option<i64>> {
        self.lock()
            .query_row(
                "SELECT id FROM releases WHERE dist = ?1 AND element = ?2 AND version = ?3",
                params![dist, element, version],
                |r| r.get(0),
            )
            .optional()
    }
}
