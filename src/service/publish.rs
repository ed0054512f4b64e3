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

use crate::db::Tx;

use super::{App, ServiceError, ServiceResult};
use crate::db::{Db, DbResult, NewRevision};
use crate::domain::advisory::Advisory;
use crate::domain::repo::RepoKind;
use crate::repodata::{PackageXml, RepoWriter};
use crate::store::link_into;

use super::sets::{edited, sorted_diff, SetChange};

/// The per-repository publication state; its mutex serialises publications. It holds no
/// package metadata (the writer's layout holds the compressed blocks), only names and sets,
/// so that a publication touches what changes.
pub struct Publisher {
    pub(super) dir: PathBuf,
    pub(super) dist: String,
    pub(super) repo: RepoKind,
    pub(super) writer: RepoWriter,
    /// File names of the packages published here, loaded when first needed.
    pub(super) filenames: HashMap<String, String>,
    /// The package set of the newest revision (sorted) and its number, read once.
    pub(super) current: Option<(i64, Arc<Vec<String>>)>,
    /// The set the repository's files hold (sorted): the last one written.
    pub(super) written: Arc<Vec<String>>,
    pub(super) last_revision: u64,
    pub(super) last_sha: String,
    /// Bytes of the repodata files the last publication references.
    pub(super) last_bytes: u64,
    /// Packages known to be linked into `Packages/`, so a publication only touches new ones.
    pub(super) linked: HashSet<String>,
    /// The advisories rendered into this repository's updateinfo, by id.
    pub(super) advisories: HashMap<String, super::advisories::RenderedAdvisory>,
}

impl Publisher {
    /// A publisher for the repository rooted at `dir`.
    pub fn new(dir: PathBuf, dist: &str, repo: RepoKind, writer: RepoWriter) -> Self {
        Publisher {
            dir,
            dist: dist.to_string(),
            repo,
            writer,
            filenames: HashMap::new(),
            current: None,
            written: Arc::default(),
            last_revision: 0,
            last_sha: String::new(),
            linked: HashSet::new(),
            last_bytes: 0,
            advisories: HashMap::new(),
        }
    }

    /// The file names of `shas`, asking the database for the ones not known yet.
    fn filenames_of(&mut self, db: &Db, shas: &[&str]) -> ServiceResult<Vec<String>> {
        let missing: Vec<String> = shas
            .iter()
            .filter(|s| !self.filenames.contains_key(**s))
            .map(|s| s.to_string())
            .collect();
        if !missing.is_empty() {
            for p in db.packages_by_sha(&missing)? {
                self.filenames.insert(p.sha256, p.filename);
            }
        }
        shas.iter()
            .map(|s| {
                self.filenames
                    .get(*s)
                    .cloned()
                    .ok_or_else(|| ServiceError::Internal(format!("package {s} is not in the database")))
            })
            .collect()
    }

    /// The newest revision's number and set, from memory when it is still the newest.
    pub(super) fn current_set(&mut self, db: &Db) -> ServiceResult<(i64, Arc<Vec<String>>)> {
        let number = db.latest_revision(&self.dist, self.repo)?.map_or(0, |r| r.number);
        match &self.current {
            Some((n, set)) if *n == number => Ok((number, set.clone())),
            _ => {
                let set = Arc::new(db.revision_packages(&self.dist, self.repo, number)?);
                self.current = Some((number, set.clone()));
                Ok((number, set))
            }
        }
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
        change: impl FnOnce(&[String]) -> ServiceResult<SetChange>,
        record: impl FnOnce(&Tx<'_>) -> DbResult<T>,
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
        // Other replicas on the same database publish too: one at a time per repository, and
        // each starts from the newest revision, whoever recorded it.
        let _across = self.db.lock_repository(dist, repo.as_str())?;
        if self.mirror.is_some() && self.db.may_be_shared() {
            // The files first show the newest generation, whichever replica published it.
            if let Err(e) = self.follow_locked(&mut publisher, dist, repo) {
                tracing::warn!(dist, %repo, error = %e, "cannot adopt another replica's newest generation before publishing");
            }
        }
        let (current_number, current) = publisher.current_set(&self.db)?;
        let (added, removed) = match change(&current)? {
            SetChange::Whole(mut whole) => {
                whole.sort();
                whole.dedup();
                sorted_diff(&current, &whole)
            }
            SetChange::Add(mut add) => {
                add.sort();
                add.dedup();
                add.retain(|s| current.binary_search(s).is_err());
                (add, Vec::new())
            }
            SetChange::Remove(mut remove) => {
                remove.sort();
                remove.dedup();
                remove.retain(|s| current.binary_search(s).is_ok());
                (Vec::new(), remove)
            }
        };
        if current_number > 0 && added.is_empty() && removed.is_empty() {
            let value = self.db.write(record)?;
            return Ok((
                value,
                PublishOutcome {
                    revision: None,
                    packages: current.len(),
                    millis: 0,
                },
            ));
        }
        // The files usually hold `current`: then this is also their change.
        let known_change = Arc::ptr_eq(&publisher.written, &current);
        let fresh = self.fresh_links(&mut publisher, &added)?;
        if let Some(mirror) = self.mirror.as_ref().filter(|m| m.is_shared()) {
            // Shared, the bucket holds the packages before any replica serves metadata naming them.
            let shas: Vec<&str> = added.iter().map(String::as_str).collect();
            let names = publisher.filenames_of(&self.db, &shas)?;
            let pairs: Vec<(String, String)> = added.iter().cloned().zip(names).collect();
            mirror.share_packages(dist, repo, &pairs, &|sha| self.store.path(sha))?;
        }
        let served_before = publisher.last_sha.clone();
        let known = known_change.then_some((added.as_slice(), removed.as_slice()));
        let new_set = Arc::new(self.take_edited(&mut publisher, current, current_number, &added, &removed));
        // What a failed publication writes back (rebuilt only then).
        let previous = |publisher: &mut Publisher| {
            let set = Arc::new(edited(new_set.to_vec(), &removed, &added));
            publisher.current = Some((current_number, set.clone()));
            set
        };
        if let Err(e) = self.write_repository(&mut publisher, &new_set, known, advisory) {
            publisher.writer.discard_writes(&publisher.dir);
            let current = previous(&mut publisher);
            let restored = self.write_repository(&mut publisher, &current, None, None).is_ok();
            publisher.writer.start_writes();
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
                    added: &added,
                    removed: &removed,
                },
            )?;
            Ok((number, record(tx)?))
        });
        let (number, value) = match result {
            Ok(v) => {
                // Recorded: the files written behind may go to disk now (not earlier, so that
                // the commit did not wait for the journal behind megabytes of fresh metadata).
                publisher.writer.start_writes();
                v
            }
            Err(e) => {
                // Refused: its generation is neither written nor served any longer.
                publisher.writer.discard_writes(&publisher.dir);
                // Only once the files show the previous set again may its new links go.
                let current = previous(&mut publisher);
                if self.write_repository(&mut publisher, &current, None, None).is_ok() {
                    self.take_back_links(&mut publisher, &fresh);
                }
                publisher.writer.start_writes();
                return Err(e.into());
            }
        };
        let count = new_set.len();
        self.db.remember_revision_set(dist, repo, number, new_set.clone());
        publisher.current = Some((number, new_set));
        self.prune_packages(&mut publisher, dist, repo)?;
        let outcome = PublishOutcome {
            revision: Some(number),
            packages: count,
            millis: started.elapsed().as_millis(),
        };
        self.metrics
            .record_publication(dist, repo, count, publisher.last_bytes, started.elapsed());
        tracing::info!(dist, %repo, revision = number, packages = count, ms = outcome.millis as u64, us = started.elapsed().as_micros() as u64, actor, reason, "published");
        if self.mirror.is_some() || self.integrity.any.load(std::sync::atomic::Ordering::Acquire) {
            // The bucket copy and the re-check read the files from disk.
            if let Err(e) = publisher.writer.flush(&publisher.dir) {
                tracing::error!(dist, %repo, error = %e, "the repodata of the publication did not reach the disk");
            }
        }
        self.after_publication(dist, repo);
        // Its generation is in the bucket now (when there is one): the others may adopt it.
        self.db.announce_publication();
        Ok((value, outcome))
    }

    /// The newest set `current` (revision `number`) with `added` and without `removed`, edited
    /// in place when nothing else holds it: the publisher and the cache of recent sets let go
    /// of it first, so that a publication does not copy the whole set. (A reader holding it
    /// meanwhile, such as a check, only costs that copy.)
    fn take_edited(
        &self,
        publisher: &mut Publisher,
        current: Arc<Vec<String>>,
        number: i64,
        added: &[String],
        removed: &[String],
    ) -> Vec<String> {
        if Arc::ptr_eq(&publisher.written, &current) {
            // Set again once the new set is written; a failed publication compares whole sets.
            publisher.written = Arc::default();
        }
        publisher.current = None;
        self.db.forget_revision_set(&publisher.dist, publisher.repo, number);
        let whole = Arc::try_unwrap(current).unwrap_or_else(|shared| shared.to_vec());
        edited(whole, added, removed)
    }

    /// The packages of `added` (sha256, file name) whose `Packages/` link does not exist yet:
    /// the links a publication of them adds, which no served metadata names.
    fn fresh_links(&self, publisher: &mut Publisher, added: &[String]) -> ServiceResult<Vec<(String, String)>> {
        let packages_dir = publisher.dir.join("Packages");
        let added: Vec<&str> = added.iter().map(String::as_str).collect();
        let names = publisher.filenames_of(&self.db, &added)?;
        Ok(added
            .into_iter()
            .zip(names)
            .filter(|(_, name)| std::fs::symlink_metadata(packages_dir.join(name)).is_err())
            .map(|(sha, name)| (sha.to_string(), name))
            .collect())
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

    /// Links packages and writes repodata for exactly `set` (sorted).
    pub(super) fn write_repository(
        &self,
        publisher: &mut Publisher,
        set: &Arc<Vec<String>>,
        known: Option<(&[String], &[String])>,
        advisory: Option<&Advisory>,
    ) -> ServiceResult<()> {
        // Only packages new to the files can need a link; a first publication links them all.
        let (added, removed) = match known {
            Some((added, removed)) => (added.to_vec(), removed.to_vec()),
            None => sorted_diff(&publisher.written, set),
        };
        self.link_packages(publisher, &added)?;
        // Beta carries updateinfo too, so sites testing early can `dnf upgrade --advisory`.
        let changed = (!publisher.advisories.is_empty()).then_some((added.as_slice(), removed.as_slice()));
        let extras = vec![self.updateinfo_for(
            &publisher.dist,
            publisher.repo,
            set,
            changed,
            advisory,
            &mut publisher.advisories,
        )?];
        let sign = |data: &[u8]| -> Result<String, String> {
            self.signer
                .as_ref()
                .expect("only called when configured")
                .sign(data)
                .map_err(|e| e.to_string())
        };
        let signer: Option<&crate::repodata::Signer<'_>> = self.signer.as_ref().map(|_| &sign as _);
        let mut load = |ids: &[&str]| -> Result<Vec<PackageXml>, String> {
            ids.iter()
                .map(|id| self.db.package_xml(id).map_err(|e| format!("{id}: {e}")))
                .collect()
        };
        let published = publisher.writer.publish_change(
            &publisher.dir,
            set,
            Some((&added, &removed)),
            &mut load,
            self.config.keep_generations,
            self.clock.now(),
            &extras,
            signer,
        );
        // Even a failed publication may have replaced or pruned files.
        self.files_changed();
        if published.is_err() {
            // The memo's listings follow the set just refused, not the one on disk.
            publisher.advisories.clear();
        }
        let published = published?;
        publisher.written = set.clone();
        publisher.last_revision = published.revision;
        publisher.last_sha = published.repomd_sha256;
        publisher.last_bytes = published.bytes;
        Ok(())
    }

    /// Links the packages of `added` not linked yet into `Packages/`, fetching from the bucket
    /// those another replica took.
    pub(super) fn link_packages(&self, publisher: &mut Publisher, added: &[String]) -> ServiceResult<()> {
        let unlinked: Vec<&str> = added
            .iter()
            .map(String::as_str)
            .filter(|s| !publisher.linked.contains(*s))
            .collect();
        let names = publisher.filenames_of(&self.db, &unlinked)?;
        let packages_dir = publisher.dir.join("Packages");
        std::fs::create_dir_all(&packages_dir)?;
        for (sha, filename) in unlinked.iter().zip(&names) {
            self.fetch_missing_package(sha)?;
            link_into(&self.store.path(sha), &packages_dir.join(filename))?;
            publisher.linked.insert(sha.to_string());
        }
        Ok(())
    }

    /// Removes package links that no kept generation of metadata names any more. Only the
    /// packages of the revision that just left the window can be affected: those the revision
    /// after it removed and no later one added back, so this reads the changes of the
    /// revisions in the window, not their sets.
    pub(super) fn prune_packages(&self, publisher: &mut Publisher, dist: &str, repo: RepoKind) -> ServiceResult<()> {
        let latest = self.db.latest_revision(dist, repo)?.map_or(0, |r| r.number);
        let dropped = latest - self.config.keep_generations as i64 - 1;
        if dropped < 1 {
            return Ok(());
        }
        let mut gone: Vec<String> = match self.db.revision_changes(dist, repo, dropped + 1)? {
            Some((_, removed)) => removed,
            // Revisions from before changes were recorded: compare the sets.
            None => {
                let next: HashSet<String> = self
                    .db
                    .revision_packages(dist, repo, dropped + 1)?
                    .into_iter()
                    .collect();
                self.db
                    .revision_packages(dist, repo, dropped)?
                    .into_iter()
                    .filter(|s| !next.contains(s))
                    .collect()
            }
        };
        if gone.is_empty() {
            return Ok(());
        }
        for n in dropped + 2..=latest {
            match self.db.revision_changes(dist, repo, n)? {
                Some((added, _)) => gone.retain(|s| added.binary_search(s).is_err()),
                None => {
                    let kept: HashSet<String> = self.db.revision_packages(dist, repo, n)?.into_iter().collect();
                    gone.retain(|s| !kept.contains(s));
                }
            }
        }
        let gone_refs: Vec<&str> = gone.iter().map(String::as_str).collect();
        let names = publisher.filenames_of(&self.db, &gone_refs)?;
        let packages_dir = publisher.dir.join("Packages");
        for (sha, filename) in gone.iter().zip(&names) {
            publisher.linked.remove(sha);
            let removed = std::fs::remove_file(packages_dir.join(filename));
            self.files_changed();
            match removed {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(err.into()),
                _ => {}
            }
        }
        if let Some(mirror) = &self.mirror {
            // Shared, the bucket's Packages/ follows the database's window, like the links.
            if let Err(e) = mirror.remove_packages(dist, repo, &names) {
                tracing::warn!(dist, %repo, error = %e, "cannot remove packages that left the window from the bucket");
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
                        |_| Ok(SetChange::Whole(Vec::new())),
                        |_| Ok(()),
                    )?;
                }
                Some(rev) => {
                    let on_disk = std::fs::read(&repomd)
                        .ok()
                        .map(|b| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&b)));
                    // Publication does not wait for the disk: after a crash repomd.xml may name
                    // files that did not reach it, so every file is checked too. Repodata found
                    // corrupt (marks of an earlier check) is rewritten as well.
                    let dir = self.repos_dir.join(dist).join(repo.as_str());
                    let corrupt = self.repodata_is_corrupt(dist, *repo);
                    if on_disk.as_deref() != Some(rev.repomd_sha256.as_str())
                        || corrupt
                        || !crate::repodata::verify(&dir)
                    {
                        tracing::warn!(dist, %repo, revision = rev.number, corrupt, "repository files differ from the database; rewriting them");
                        let lock = &self.publishers[&(dist.clone(), *repo)];
                        let mut publisher = lock.lock().unwrap_or_else(|p| p.into_inner());
                        if self.db.may_be_shared() && self.mirror.is_some() {
                            // Replicas serve the bucket's generation: adopted again, every file
                            // checked (nothing of this copy is trusted).
                            if corrupt {
                                self.remove_corrupt_repodata(dist, *repo)?;
                            }
                            match std::fs::remove_file(&repomd) {
                                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                                _ => {}
                            }
                            self.follow(&mut publisher, dist, *repo)?;
                            publisher.writer.flush(&publisher.dir)?;
                            continue;
                        }
                        let set = Arc::new(self.db.revision_packages(dist, *repo, rev.number)?);
                        if corrupt {
                            // Gone, they are written again (a same-size copy would pass as intact).
                            self.remove_corrupt_repodata(dist, *repo)?;
                        }
                        self.write_repository(&mut publisher, &set, None, None)?;
                        // On disk before anything reads it there (the bucket copy below).
                        publisher.writer.flush(&publisher.dir)?;
                        publisher.current = Some((rev.number, set));
                        // A replica's own copy (the database records the publisher's, and the
                        // bucket holds that): rewritten here only.
                        if self.db.may_be_shared() {
                            continue;
                        }
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
pub(super) fn served_repomd_sha(publisher: &Publisher) -> String {
    use sha2::{Digest, Sha256};
    let _ = publisher.writer.flush(&publisher.dir);
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
