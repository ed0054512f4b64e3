//! Serving what another replica published (several `stagerepo serve` on one PostgreSQL
//! database and one bucket).
//!
//! The bucket's `repomd.xml` of a repository is the one the database records for its newest
//! revision: only the replica holding the repository's lock (`Db::lock_repository`) writes it,
//! and only for a generation whose sha256 it recorded. Every other replica adopts that
//! generation: the files come from the bucket, checked against repomd.xml, and are served as
//! they are, so every replica serves the same bytes under the same names and a host may fetch
//! repomd.xml from one replica and the files it names from another. Only when the bucket lacks
//! the recorded generation (its publisher died before copying it) does a replica write the
//! repository itself, copy it to the bucket and record it as the generation of that revision.

use std::sync::Arc;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::mirror::Mirror;
use super::publish::Publisher;
use super::sets::sorted_diff;
use super::{App, ServiceResult};
use crate::domain::repo::RepoKind;
use crate::domain::repo::Revision;

impl App {
    /// Brings every working copy whose files are behind the database's newest revision
    /// (another replica published) up to date. Returns how many repositories changed.
    pub fn catch_up(&self) -> ServiceResult<usize> {
        let mut changed = 0;
        for ((dist, repo), lock) in &self.publishers {
            let mut publisher = lock.lock().unwrap_or_else(|p| p.into_inner());
            if self.follow(&mut publisher, dist, *repo)? {
                changed += 1;
            }
        }
        Ok(changed)
    }

    /// Brings the working copy of `dist/repo` to the newest revision now, when other replicas
    /// may publish (PostgreSQL): what serving does for a file it lacks, which a host may know
    /// from another replica's newer repomd.xml. True when the files changed.
    pub fn catch_up_repository(&self, dist: &str, repo: RepoKind) -> ServiceResult<bool> {
        let Some(lock) = self.publishers.get(&(dist.to_string(), repo)) else {
            return Ok(false);
        };
        if !self.db.may_be_shared() {
            return Ok(false);
        }
        let mut publisher = lock.lock().unwrap_or_else(|p| p.into_inner());
        self.follow(&mut publisher, dist, repo)
    }

    /// Brings one working copy to the newest revision; true when its files changed.
    pub(super) fn follow(&self, publisher: &mut Publisher, dist: &str, repo: RepoKind) -> ServiceResult<bool> {
        let Some(latest) = self.db.latest_revision(dist, repo)? else {
            return Ok(false);
        };
        if publisher.last_sha == latest.repomd_sha256 {
            return Ok(false);
        }
        // A publication in progress on another replica holds the lock until its generation
        // is in the bucket: waiting for it here is what lets this replica adopt it.
        let _across = self.db.lock_repository(dist, repo.as_str())?;
        self.follow_locked(publisher, dist, repo)
    }

    /// [`App::follow`] with the repository's lock held: also how a publication starts on a
    /// replica, so that its generation follows the newest one (a later `<revision>`).
    pub(super) fn follow_locked(&self, publisher: &mut Publisher, dist: &str, repo: RepoKind) -> ServiceResult<bool> {
        let (number, set) = publisher.current_set(&self.db)?;
        let Some(latest) = self.db.latest_revision(dist, repo)? else {
            return Ok(false);
        };
        if publisher.last_sha == latest.repomd_sha256 {
            return Ok(false);
        }
        if let Some(mirror) = &self.mirror {
            if self.adopt(publisher, mirror, dist, repo, &latest, &set)? {
                tracing::info!(dist, %repo, revision = number, packages = set.len(), "serving another replica's publication");
                return Ok(true);
            }
        }
        // Rebuilt from the database, so the newest advisories are in.
        publisher.advisories.clear();
        self.write_repository(publisher, &set, None, None)?;
        publisher.writer.flush(&publisher.dir)?;
        self.prune_packages(publisher, dist, repo)?;
        if let Some(mirror) = &self.mirror {
            // The bucket lacks the recorded generation: this one takes its place.
            let dir = publisher.dir.clone();
            mirror.repository(dist, repo, &dir, &|name| self.stored_sha(name))?;
            self.db
                .update_revision_repomd(dist, repo, number, publisher.last_revision as i64, &publisher.last_sha)?;
            tracing::warn!(dist, %repo, revision = number, "the bucket lacked the generation of the newest revision; wrote and recorded this replica's");
            self.db.announce_publication();
        } else {
            tracing::info!(dist, %repo, revision = number, packages = set.len(), "caught up with another replica's publication");
        }
        Ok(true)
    }

    /// Serves the bucket's generation of `latest` when the bucket holds it; false when not.
    fn adopt(
        &self,
        publisher: &mut Publisher,
        mirror: &Mirror,
        dist: &str,
        repo: RepoKind,
        latest: &Revision,
        set: &Arc<Vec<String>>,
    ) -> ServiceResult<bool> {
        let Some(repomd) = mirror.published_repomd(dist, repo)? else {
            return Ok(false);
        };
        if hex::encode(Sha256::digest(&repomd)) != latest.repomd_sha256 {
            return Ok(false);
        }
        let signature_rel = format!(
            "repodata/{}",
            crate::repodata::signature_name(&latest.repomd_revision.to_string())
        );
        let signature = mirror.repository_file(dist, repo, &signature_rel)?.map(Bytes::from);
        // The packages first: the metadata names them.
        let (added, _) = sorted_diff(&publisher.written, set);
        self.link_packages(publisher, &added)?;
        let mut fetch = |href: &str| -> Result<Bytes, String> {
            match mirror.repository_file(dist, repo, href) {
                Ok(Some(bytes)) => Ok(Bytes::from(bytes)),
                Ok(None) => Err(format!("the bucket has no {href} (the generation left its window?)")),
                Err(e) => Err(e.to_string()),
            }
        };
        let dir = publisher.dir.clone();
        let adopted = publisher.writer.adopt(
            &dir,
            Bytes::from(repomd),
            signature,
            &mut fetch,
            self.config.keep_generations,
            self.clock.now(),
        );
        self.files_changed();
        let published = adopted?;
        publisher.writer.start_writes();
        // What the memo of rendered advisories describes is no longer what the files hold.
        publisher.advisories.clear();
        publisher.written = set.clone();
        publisher.last_revision = published.revision;
        publisher.last_sha = published.repomd_sha256;
        publisher.last_bytes = published.bytes;
        self.prune_packages(publisher, dist, repo)?;
        Ok(true)
    }
}
