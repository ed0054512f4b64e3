//! Publication: turning a package set into a repository on disk, recorded as a revision.
//!
//! A publication links the packages into `Packages/`, writes repodata (new files beside the
//! old, repomd.xml last), then records the revision in the same database transaction as the
//! change that caused it. If the database refuses, the previous set is written back, so the
//! files and the database never disagree for longer than one publication.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use rusqlite::Connection;

use super::{App, ServiceError, ServiceResult};
use crate::db::{Db, DbResult, NewRevision};
use crate::domain::advisory::Advisory;
use crate::domain::repo::RepoKind;
use crate::repodata::{PackageXml, RepoWriter};
use crate::store::link_into;

/// One package's file name and repodata fragments, cached between publications.
struct Entry {
    filename: String,
    xml: PackageXml,
}

/// The per-repository publication state; its mutex serialises publications.
pub struct Publisher {
    dir: PathBuf,
    dist: String,
    repo: RepoKind,
    writer: RepoWriter,
    entries: HashMap<String, Arc<Entry>>,
    last_revision: u64,
    last_sha: String,
    /// Bytes of the repodata files the last publication references.
    last_bytes: u64,
    /// Packages known to be linked into `Packages/`, so a publication only touches new ones.
    linked: HashSet<String>,
}

impl Publisher {
    /// A publisher for the repository rooted at `dir`.
    pub fn new(dir: PathBuf, dist: &str, repo: RepoKind) -> Self {
        Publisher {
            dir,
            dist: dist.to_string(),
            repo,
            writer: RepoWriter::default(),
            entries: HashMap::new(),
            last_revision: 0,
            last_sha: String::new(),
            linked: HashSet::new(),
            last_bytes: 0,
        }
    }

    fn entry(&mut self, db: &Db, sha: &str) -> ServiceResult<Arc<Entry>> {
        if let Some(e) = self.entries.get(sha) {
            return Ok(e.clone());
        }
        let filename = db
            .packages_by_sha(&[sha.to_string()])?
            .pop()
            .map(|p| p.filename)
            .ok_or_else(|| ServiceError::Internal(format!("package {sha} is not in the database")))?;
        let entry = Arc::new(Entry {
            filename,
            xml: db.package_xml(sha)?,
        });
        self.entries.insert(sha.to_string(), entry.clone());
        Ok(entry)
    }
}

/// Which repository a publication changes, who asked and why.
pub struct Publication<'a> {
    pub dist: &'a str,
    pub repo: RepoKind,
    pub actor: &'a str,
    pub reason: &'a str,
    /// The advisory a promotion adds to production's updateinfo.
    pub advisory: Option<&'a Advisory>,
}

/// What a publication did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PublishOutcome {
    /// The revision number recorded, or None when the set did not change.
    pub revision: Option<i64>,
    pub packages: usize,
    pub millis: u128,
}

impl App {
    /// Publishes `change(current set)` into `dist/repo` under the repository's lock, and runs
    /// `record` in the transaction that records the revision.
    pub fn publish_with<T>(
        &self,
        target: Publication<'_>,
        change: impl FnOnce(&[String]) -> ServiceResult<Vec<String>>,
        record: impl FnOnce(&Connection) -> DbResult<T>,
    ) -> ServiceResult<(T, PublishOutcome)> {
        let Publication {
            dist,
            repo,
            actor,
            reason,
            advisory,
        } = target;
        let started = Instant::now();
        let lock = self
            .publishers
            .get(&(dist.to_string(), repo))
            .ok_or_else(|| ServiceError::NotFound(format!("no repository {dist}/{repo}")))?;
        let mut publisher = lock.lock().unwrap_or_else(|p| p.into_inner());
        let current_number = self.db.latest_revision(dist, repo)?.map(|r| r.number).unwrap_or(0);
        let current = self.db.revision_packages(dist, repo, current_number)?;
        let mut new_set = change(&current)?;
        new_set.sort();
        new_set.dedup();
        let unchanged = current_number > 0 && {
            let mut c = current.clone();
            c.sort();
            c == new_set
        };
        if unchanged {
            let value = self.db.write(record)?;
            return Ok((
                value,
                PublishOutcome {
                    revision: None,
                    packages: new_set.len(),
                    millis: 0,
                },
            ));
        }
        let fresh = self.fresh_links(&mut publisher, &current, &new_set)?;
        let served_before = publisher.last_sha.clone();
        if let Err(e) = self.write_repository(&mut publisher, &new_set, advisory) {
            let restored = self.write_repository(&mut publisher, &current, None).is_ok();
            // The failed write never got to replace repomd.xml when it is still the one before.
            if restored || (!served_before.is_empty() && served_repomd_sha(&publisher) == served_before) {
                self.take_back_links(&mut publisher, &fresh);
            }
            return Err(e);
        }
        let repomd_sha = publisher.last_sha.clone();
        let now = self.clock.now();
        let result = self.db.write(|tx| {
            let number = Db::insert_revision(
                tx,
                &NewRevision {
                    dist,
                    repo,
                    repomd_revision: publisher.last_revision as i64,
                    repomd_sha256: &repomd_sha,
                    now,
                    actor,
                    reason,
                    packages: &new_set,
                },
            )?;
            Ok((number, record(tx)?))
        });
        let (number, value) = match result {
            Ok(v) => v,
            Err(e) => {
                // Only once the files show the previous set again may its new links go.
                if self.write_repository(&mut publisher, &current, None).is_ok() {
                    self.take_back_links(&mut publisher, &fresh);
                }
                return Err(e.into());
            }
        };
        self.prune_packages(&mut publisher, dist, repo, &new_set)?;
        let outcome = PublishOutcome {
            revision: Some(number),
            packages: new_set.len(),
            millis: started.elapsed().as_millis(),
        };
        self.metrics
            .record_publication(dist, repo, new_set.len(), publisher.last_bytes, started.elapsed());
        tracing::info!(dist, %repo, revision = number, packages = new_set.len(), ms = outcome.millis as u64, actor, reason, "published");
        self.after_publication(dist, repo);
        Ok((value, outcome))
    }

    /// The packages of `new_set` (sha256, file name) whose `Packages/` link does not exist yet:
    /// the links a publication of it adds, which no served metadata names.
    fn fresh_links(
        &self,
        publisher: &mut Publisher,
        current: &[String],
        new_set: &[String],
    ) -> ServiceResult<Vec<(String, String)>> {
        let current: HashSet<&str> = current.iter().map(String::as_str).collect();
        let packages_dir = publisher.dir.join("Packages");
        let mut fresh = Vec::new();
        for sha in new_set.iter().filter(|s| !current.contains(s.as_str())) {
            let entry = publisher.entry(&self.db, sha)?;
            if std::fs::symlink_metadata(packages_dir.join(&entry.filename)).is_err() {
                fresh.push((sha.clone(), entry.filename.clone()));
            }
        }
        Ok(fresh)
    }

    /// Removes the links a failed publication added, so that a refused change (a full disk,
    /// a database refusal) serves none of its packages.
    fn take_back_links(&self, publisher: &mut Publisher, fresh: &[(String, String)]) {
        let packages_dir = publisher.dir.join("Packages");
        for (sha, filename) in fresh {
            publisher.linked.remove(sha);
            match std::fs::remove_file(packages_dir.join(filename)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(filename, error = %e, "cannot remove the link of a failed publication"),
            }
        }
        self.files_changed();
    }

    /// Links packages and writes repodata for exactly `set`.
    fn write_repository(
        &self,
        publisher: &mut Publisher,
        set: &[String],
        advisory: Option<&Advisory>,
    ) -> ServiceResult<()> {
        let mut entries = Vec::with_capacity(set.len());
        for sha in set {
            entries.push(publisher.entry(&self.db, sha)?);
        }
        entries.sort_by(|a, b| a.filename.cmp(&b.filename));
        let packages_dir = publisher.dir.join("Packages");
        std::fs::create_dir_all(&packages_dir)?;
        for e in &entries {
            if !publisher.linked.contains(&e.xml.pkgid) {
                link_into(&self.store.path(&e.xml.pkgid), &packages_dir.join(&e.filename))?;
                publisher.linked.insert(e.xml.pkgid.clone());
            }
        }
        let xmls: Vec<&PackageXml> = entries.iter().map(|e| &e.xml).collect();
        // Beta carries updateinfo too, so sites testing early can `dnf upgrade --advisory`.
        let extras = vec![self.updateinfo_for(&publisher.dist, publisher.repo, set, advisory)?];
        let sign = |data: &[u8]| -> Result<String, String> {
            self.signer
                .as_ref()
                .expect("only called when configured")
                .sign(data)
                .map_err(|e| e.to_string())
        };
        let signer: Option<&crate::repodata::Signer<'_>> = self.signer.as_ref().map(|_| &sign as _);
        let published = publisher.writer.publish_with(
            &publisher.dir,
            &xmls,
            self.config.keep_generations,
            self.clock.now(),
            &extras,
            signer,
        );
        // Even a failed publication may have replaced or pruned files.
        self.files_changed();
        let published = published?;
        publisher.last_revision = published.revision;
        publisher.last_sha = published.repomd_sha256;
        let repodata = publisher.dir.join("repodata");
        publisher.last_bytes = published
            .files
            .iter()
            .filter_map(|f| std::fs::metadata(repodata.join(f)).ok())
            .map(|m| m.len())
            .sum();
        Ok(())
    }

    /// Removes package links that no kept generation of metadata names any more. Only the
    /// packages of the revision that just left the window can be affected, and a publication
    /// that only adds packages leaves none, so this usually reads one revision and stops.
    fn prune_packages(
        &self,
        publisher: &mut Publisher,
        dist: &str,
        repo: RepoKind,
        newest: &[String],
    ) -> ServiceResult<()> {
        let latest = self.db.latest_revision(dist, repo)?.map_or(0, |r| r.number);
        let dropped = latest - self.config.keep_generations as i64 - 1;
        if dropped < 1 {
            return Ok(());
        }
        let newest: HashSet<&str> = newest.iter().map(String::as_str).collect();
        let mut gone: Vec<String> = self
            .db
            .revision_packages(dist, repo, dropped)?
            .into_iter()
            .filter(|s| !newest.contains(s.as_str()))
            .collect();
        if gone.is_empty() {
            return Ok(());
        }
        for n in dropped + 1..latest {
            let kept: HashSet<String> = self.db.revision_packages(dist, repo, n)?.into_iter().collect();
            gone.retain(|s| !kept.contains(s));
        }
        let packages_dir = publisher.dir.join("Packages");
        for sha in gone {
            let e = publisher.entry(&self.db, &sha)?;
            publisher.linked.remove(&sha);
            let removed = std::fs::remove_file(packages_dir.join(&e.filename));
            self.files_changed();
            match removed {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(err.into()),
                _ => {}
            }
        }
        Ok(())
    }

    /// On start: publish an empty repository where none exists yet, and rewrite repodata
    /// whose repomd.xml is not the one the database recorded (a crash mid-publication).
    pub(super) fn reconcile_repositories(&self) -> ServiceResult<()> {
        for (dist, repo) in self.publishers.keys() {
            let latest = self.db.latest_revision(dist, *repo)?;
            let repomd = self
                .repos_dir
                .join(dist)
                .join(repo.as_str())
                .join("repodata/repomd.xml");
            match latest {
                None => {
                    self.publish_with(
                        Publication {
                            dist,
                            repo: *repo,
                            actor: "stagerepo",
                            reason: "initial empty repository",
                            advisory: None,
                        },
                        |_| Ok(Vec::new()),
                        |_| Ok(()),
                    )?;
                }
                Some(rev) => {
                    let on_disk = std::fs::read(&repomd)
                        .ok()
                        .map(|b| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&b)));
                    // Repodata found corrupt (marks of an earlier check) is rewritten too.
                    let corrupt = self.repodata_is_corrupt(dist, *repo);
                    if on_disk.as_deref() != Some(rev.repomd_sha256.as_str()) || corrupt {
                        tracing::warn!(dist, %repo, revision = rev.number, corrupt, "repository files differ from the database; rewriting them");
                        let lock = &self.publishers[&(dist.clone(), *repo)];
                        let mut publisher = lock.lock().unwrap_or_else(|p| p.into_inner());
                        let set = self.db.revision_packages(dist, *repo, rev.number)?;
                        if corrupt {
                            // Gone, they are written again (a same-size copy would pass as intact).
                            self.remove_corrupt_repodata(dist, *repo)?;
                        }
                        self.write_repository(&mut publisher, &set, None)?;
                        self.db.update_revision_repomd(
                            dist,
                            *repo,
                            rev.number,
                            publisher.last_revision as i64,
                            &publisher.last_sha,
                        )?;
                        drop(publisher);
                        self.after_publication(dist, *repo);
                    }
                }
            }
        }
        Ok(())
    }
}

/// sha256 of the repomd.xml a repository serves now ("" when it cannot be read).
fn served_repomd_sha(publisher: &Publisher) -> String {
    use sha2::{Digest, Sha256};
    std::fs::read(publisher.dir.join("repodata/repomd.xml"))
        .map(|b| hex::encode(Sha256::digest(&b)))
        .unwrap_or_default()
}

impl App {
    /// A publication may have rewritten repodata found corrupt: checks that repository's again.
    fn after_publication(&self, dist: &str, repo: RepoKind) {
        self.mirror_publication(dist, repo);
        if let Err(e) = self.recheck_repodata(dist, repo) {
            tracing::warn!(dist, %repo, error = %e, "checking the repodata again after a publication failed");
        }
    }
}
