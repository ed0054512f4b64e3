//! The closure checks' memory between calls. Every submission checks the newest set of beta
//! plus production, and promotions, roll-backs and `admin check` check production with or
//! without a release: sets that differ from one call to the next by a release or two. So
//! the last few sets checked per distribution are kept as [`Snapshot`]s, and a check starts
//! from the one its set differs least from, redoing only what the difference touches. After
//! a check that needed more than a few packages of difference, the snapshot is brought up to
//! date on a background thread, so the next check starts close again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{App, ServiceResult};
use crate::domain::closure::{DepPackage, ProviderIndex, Snapshot, Unmet};
use crate::domain::repo::RepoKind;

/// How many sets are kept per distribution (beta plus production, production, and one more,
/// e.g. production plus the release being promoted).
const KEPT: usize = 3;

/// A difference of more than this many packages is rebased in the background.
const REBASE_AFTER: usize = 16;

/// What a check found: the unmet requirements, and the conflict candidates when asked.
type Checked = (Vec<Unmet>, Option<Vec<Arc<DepPackage>>>);

/// The most revisions a difference is followed through by their recorded changes.
const FOLLOW_REVISIONS: i64 = 32;

/// A snapshot to bring up to date: from, the packages to add, the positions to remove, and
/// where the set it becomes comes from.
type Rebase = (Arc<Kept>, Vec<(String, Arc<DepPackage>)>, Vec<usize>, Option<SetSource>);

/// Where a checked set comes from: the union of revisions of repositories (of the check's
/// distribution) and some more packages (a release being promoted). A snapshot remembers its
/// source, so that a check of later revisions finds its difference from their recorded
/// changes instead of comparing the whole sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SetSource {
    pub revisions: Vec<(RepoKind, i64)>,
    pub extra: Vec<String>,
}

/// A snapshot, the base indexes it was checked against, and where its set came from.
struct Kept {
    bases: Vec<Arc<ProviderIndex>>,
    snap: Snapshot,
    source: Option<SetSource>,
}

impl Kept {
    fn same_bases(&self, bases: &[Arc<ProviderIndex>]) -> bool {
        self.bases.len() == bases.len() && self.bases.iter().zip(bases).all(|(a, b)| Arc::ptr_eq(a, b))
    }
}

/// The snapshots of each distribution, most recently used first.
#[derive(Default, Clone)]
pub struct Snapshots {
    kept: Arc<Mutex<HashMap<String, Vec<Arc<Kept>>>>>,
    /// Distributions with a rebase under way (one at a time each), with the next one asked for.
    rebasing: Arc<Mutex<HashMap<String, Option<Rebase>>>>,
}

impl Snapshots {
    fn list(&self, dist: &str) -> Vec<Arc<Kept>> {
        self.kept
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(dist)
            .cloned()
            .unwrap_or_default()
    }

    /// Puts `new` first, in place of `old` when given, and forgets the least recently used.
    fn keep(&self, dist: &str, new: Arc<Kept>, old: Option<&Arc<Kept>>) {
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        let list = kept.entry(dist.to_string()).or_default();
        // Snapshots of other base indexes (a base re-imported or removed) are of no more use.
        list.retain(|k| old.is_none_or(|o| !Arc::ptr_eq(k, o)) && !Arc::ptr_eq(k, &new) && k.same_bases(&new.bases));
        list.insert(0, new);
        list.truncate(KEPT);
    }

    /// Moves `used` to the front.
    fn touch(&self, dist: &str, used: &Arc<Kept>) {
        self.keep(dist, used.clone(), None);
    }

    /// Builds, on its own thread, the snapshot of `from` with `added` and without `removed`,
    /// and keeps it in place of `from`. While one is being built, a newer request waits as
    /// the next one (replacing any older waiting one), so the thread always ends on the set
    /// checked last.
    fn rebase(
        &self,
        dist: &str,
        from: Arc<Kept>,
        added: Vec<(String, Arc<DepPackage>)>,
        removed: Vec<usize>,
        source: Option<SetSource>,
    ) {
        let mut rebasing = self.rebasing.lock().unwrap_or_else(|p| p.into_inner());
        let running = rebasing.contains_key(dist);
        rebasing.insert(dist.to_string(), Some((from, added, removed, source)));
        if running {
            return;
        }
        drop(rebasing);
        let this = self.clone();
        let dist = dist.to_string();
        let spawned = std::thread::Builder::new().name("closure-rebase".into()).spawn({
            let dist = dist.clone();
            move || loop {
                crate::background::lower_priority();
                let next = {
                    let mut rebasing = this.rebasing.lock().unwrap_or_else(|p| p.into_inner());
                    match rebasing.get_mut(&dist).and_then(Option::take) {
                        Some(next) => next,
                        None => {
                            rebasing.remove(&dist);
                            return;
                        }
                    }
                };
                let (from, added, removed, source) = next;
                let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let (shas, packages) = from.snap.rebased(&added, &removed);
                    let refs: Vec<&ProviderIndex> = from.bases.iter().map(|b| b.as_ref()).collect();
                    Snapshot::new(shas, packages, &refs)
                }));
                match built {
                    Ok(snap) => {
                        let new = Arc::new(Kept {
                            bases: from.bases.clone(),
                            snap,
                            source,
                        });
                        this.keep(&dist, new, Some(&from));
                    }
                    // A bug here must not stop later rebases: checks then start further away.
                    Err(_) => tracing::error!(dist, "rebuilding a closure snapshot panicked"),
                }
            }
        });
        if spawned.is_err() {
            // No thread to spare: the next check just starts a little further away.
            self.rebasing.lock().unwrap_or_else(|p| p.into_inner()).remove(&dist);
        }
    }
}

impl App {
    /// The unmet requirements of the newest set of `set` (sha256 sums, sorted and unique)
    /// against the bases of `dist`, as [`crate::domain::closure::check_closure_newest`] says,
    /// those `keep` accepts, each lost provider's replacement named with its release.
    pub(super) fn newest_unmet(
        &self,
        dist: &str,
        set: &[&str],
        keep: &dyn Fn(&Unmet) -> bool,
    ) -> ServiceResult<Vec<Unmet>> {
        Ok(self.closure_of(dist, set, None, keep, None, None)?.0)
    }

    /// [`App::newest_unmet`] for a `keep` that accepts only problems naming one of `own`
    /// (sums; as the package, or as what replaced a lost provider). When the snapshot the
    /// check starts from lacks all of them, such problems are all among the requirements the
    /// change makes evaluate again, so the rest of the repository is not even looked at.
    pub(super) fn newest_unmet_involving(
        &self,
        dist: &str,
        set: &[&str],
        source: Option<&SetSource>,
        own: &[String],
        keep: &dyn Fn(&Unmet) -> bool,
    ) -> ServiceResult<Vec<Unmet>> {
        Ok(self.closure_of(dist, set, source, keep, Some(own), None)?.0)
    }

    /// [`App::newest_unmet`] of `set` with everything accepted, and the packages of `set` a
    /// conflict or obsolete could pair with one of `new` (the newest of their name and
    /// architecture, none of `new`): what [`crate::domain::closure::check_conflicts`] needs
    /// to see, found through the snapshot's indexes rather than by indexing the whole set.
    pub(super) fn newest_unmet_and_conflict_candidates(
        &self,
        dist: &str,
        set: &[&str],
        source: Option<&SetSource>,
        new: &[&DepPackage],
    ) -> ServiceResult<(Vec<Unmet>, Vec<Arc<DepPackage>>)> {
        let (unmet, candidates) = self.closure_of(dist, set, source, &|_| true, None, Some(new))?;
        Ok((unmet, candidates.unwrap_or_default()))
    }

    /// The check itself: `set` (sorted, unique) from the kept snapshot it differs least from
    /// (found through `source` when a snapshot of earlier revisions of it is kept), or from a
    /// new one.
    #[allow(clippy::too_many_arguments)]
    fn closure_of(
        &self,
        dist: &str,
        set: &[&str],
        source: Option<&SetSource>,
        keep: &dyn Fn(&Unmet) -> bool,
        own: Option<&[String]>,
        conflicts_of: Option<&[&DepPackage]>,
    ) -> ServiceResult<Checked> {
        let bases: Vec<Arc<ProviderIndex>> = self
            .closure
            .bases_of(dist)
            .into_iter()
            .map(|(_, index)| index)
            .collect();
        let refs: Vec<&ProviderIndex> = bases.iter().map(|b| b.as_ref()).collect();
        let snapshots = self.closure.snapshots();
        // A difference past this costs more to follow than a fresh snapshot.
        let mut limit = (set.len() / 16).max(64);
        let mut near = None;
        let kept_list: Vec<Arc<Kept>> = snapshots
            .list(dist)
            .into_iter()
            .filter(|k| k.same_bases(&bases))
            .collect();
        if let Some(source) = source {
            for k in &kept_list {
                if let Some(delta) = self.delta_by_revisions(dist, k, source, set)? {
                    near = Some((k.clone(), delta));
                    break;
                }
            }
        }
        if near.is_none() {
            for k in kept_list {
                if let Some((added, removed)) = k.snap.delta(set, limit) {
                    limit = added.len() + removed.len();
                    let added = added.iter().map(|s| s.to_string()).collect();
                    near = Some((k, (added, removed)));
                    if limit == 0 {
                        break;
                    }
                }
            }
        }
        let (kept, added, removed) = match near {
            Some((kept, (added, removed))) => {
                let added: Vec<(String, Arc<DepPackage>)> = added
                    .iter()
                    .map(|s| Ok((s.to_string(), self.dep_package(s)?)))
                    .collect::<ServiceResult<_>>()?;
                (kept, added, removed)
            }
            None => {
                let packages: Vec<Arc<DepPackage>> =
                    set.iter().map(|s| self.dep_package(s)).collect::<ServiceResult<_>>()?;
                let shas = set.iter().map(|s| s.to_string()).collect();
                let kept = Arc::new(Kept {
                    bases: bases.clone(),
                    snap: Snapshot::new(shas, packages, &refs),
                    source: source.cloned(),
                });
                (kept, Vec::new(), Vec::new())
            }
        };
        let all_added = own.is_some_and(|own| own.iter().all(|o| added.iter().any(|(a, _)| a == o)));
        let mut unmet = if all_added {
            let mut touched = kept.snap.check_touched(&added, &removed, &refs);
            touched.retain(|u| keep(u));
            touched
        } else {
            kept.snap.check(&added, &removed, &refs, keep)
        };
        self.name_replacements(dist, &kept.snap, &added, &mut unmet)?;
        let candidates = conflicts_of.map(|new| kept.snap.conflict_candidates(&added, &removed, new));
        snapshots.touch(dist, &kept);
        if added.len() + removed.len() > REBASE_AFTER {
            snapshots.rebase(dist, kept, added, removed, source.cloned());
        }
        Ok((unmet, candidates))
    }

    /// The difference of `set` (from `source`) from `kept`'s set, found from the changes the
    /// revisions between theirs recorded: only the packages those changes (and either's
    /// extra packages) name can differ. None when `kept` has no comparable source or is too
    /// far away (or not behind).
    fn delta_by_revisions(
        &self,
        dist: &str,
        kept: &Kept,
        source: &SetSource,
        set: &[&str],
    ) -> ServiceResult<Option<(Vec<String>, Vec<usize>)>> {
        let Some(old) = &kept.source else {
            return Ok(None);
        };
        if old.revisions.len() != source.revisions.len() {
            return Ok(None);
        }
        let mut candidates: Vec<String> = old.extra.iter().chain(&source.extra).cloned().collect();
        for ((repo, from), (same, to)) in old.revisions.iter().zip(&source.revisions) {
            if repo != same || to < from || to - from > FOLLOW_REVISIONS {
                return Ok(None);
            }
            for n in from + 1..=*to {
                match self.db.revision_changes(dist, *repo, n)? {
                    Some((added, removed)) => candidates.extend(added.into_iter().chain(removed)),
                    // A revision from before changes were recorded.
                    None => return Ok(None),
                }
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        let (mut added, mut removed) = (Vec::new(), Vec::new());
        for sha in candidates {
            let now = set.binary_search(&sha.as_str()).is_ok();
            match (now, kept.snap.position(&sha)) {
                (true, None) => added.push(sha),
                (false, Some(at)) => removed.push(at),
                _ => {}
            }
        }
        removed.sort_unstable();
        if cfg!(debug_assertions) {
            // Every test run checks this against comparing the whole sets.
            let (walked_added, walked_removed) = kept.snap.delta(set, usize::MAX).expect("no limit");
            let walked: Vec<String> = walked_added.iter().map(|s| s.to_string()).collect();
            assert_eq!(
                (walked, walked_removed),
                (added.clone(), removed.clone()),
                "{source:?} from {old:?}"
            );
        }
        Ok(Some((added, removed)))
    }

    /// Says which release brings each package that replaces a lost provider.
    fn name_replacements(
        &self,
        dist: &str,
        snap: &Snapshot,
        added: &[(String, Arc<DepPackage>)],
        unmet: &mut [Unmet],
    ) -> ServiceResult<()> {
        for lost in unmet.iter_mut().flat_map(|u| u.lost.iter_mut()) {
            let sha = match added.iter().find(|(_, p)| p.nevra == lost.replaced_by) {
                Some((sha, _)) => Some(sha.as_str()),
                None => snap.sha_of(&lost.replaced_by),
            };
            let Some(sha) = sha else {
                continue;
            };
            if let Some((id, element, version)) = self.db.release_of_package(dist, sha)? {
                lost.from = Some(format!("release {id} ({element} {version})"));
            }
        }
        Ok(())
    }
}
