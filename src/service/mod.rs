//! Use cases: the only place that combines the database, the package store and repodata.
//!
//! Everything here is synchronous; the HTTP layer calls it on blocking threads.

pub mod advisories;
pub mod auth;
pub mod backup;
pub mod beta_check;
mod closure_cache;
pub mod consistency;
pub mod dashboard;
pub mod elements;
mod error;
pub mod history;
pub mod inventory;
pub mod keys;
pub mod mail;
pub mod metrics;
pub mod mirror;
pub mod notify;
pub mod problems;
pub mod publish;
pub mod release_rpm;
pub mod releases;
mod replica;
mod repo_signing;
pub mod rollout;
mod sets;
pub mod site_view;
pub mod sites;
pub mod teams;
pub mod undo;
pub mod upload;
pub mod verify;

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use error::{exists_if_conflict, ServiceError, ServiceResult, RACED};

/// A documented limit (domain::limits) as a 400 naming the field and the limit.
pub fn limit(check: Result<(), String>) -> ServiceResult<()> {
    check.map_err(ServiceError::Invalid)
}

use crate::config::Config;
use crate::db::Db;
use crate::domain::repo::RepoKind;
use crate::store::PackageStore;

/// The source of "now", injected so that rules depending on time are testable.
pub trait Clock: Send + Sync {
    /// Seconds since the Unix epoch.
    fn now(&self) -> i64;
}

/// The wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        chrono::Utc::now().timestamp()
    }
}

/// The bucket copy chosen by `storage`, connected once at start.
fn open_mirror(config: &Config) -> ServiceResult<Option<Arc<mirror::Mirror>>> {
    if config.storage != crate::config::StorageKind::S3 {
        return Ok(None);
    }
    let s3 = config
        .s3
        .as_ref()
        .ok_or_else(|| ServiceError::Invalid("storage = \"s3\" needs an [s3] table".into()))?;
    let ttl = config
        .presign_ttl_duration()
        .map_err(|e| ServiceError::Invalid(e.to_string()))?;
    let blob = crate::blob::S3Store::new(s3).map_err(|e| ServiceError::Invalid(format!("[s3]: {e}")))?;
    // A PostgreSQL database may have other replicas publishing into the same bucket.
    let shared = config.database_url.is_some();
    let mirror = mirror::Mirror::open(
        Arc::new(blob),
        config.redirect_downloads,
        ttl,
        shared,
        config.keep_generations,
    )
    .map_err(|e| ServiceError::Internal(format!("cannot reach the bucket {}: {e}", s3.bucket)))?;
    tracing::info!(bucket = %s3.bucket, endpoint = s3.endpoint.as_deref().unwrap_or("AWS"), "packages and repositories are copied to the bucket");
    Ok(Some(Arc::new(mirror)))
}

/// The application: configuration plus every store, shared by all requests.
pub struct App {
    pub config: Config,
    pub db: Db,
    pub store: PackageStore,
    /// What uploads in progress may hold in `tmp/` together (`max_temp_bytes`).
    pub temp_budget: crate::store::TempBudget,
    pub clock: Arc<dyn Clock>,
    admin_token_hash: String,
    repos_dir: PathBuf,
    /// One publisher per repository; its lock is what keeps publications from interleaving.
    publishers: HashMap<(String, RepoKind), Mutex<publish::Publisher>>,
    /// Base repositories, indexed, and cached dependency data for the closure checks.
    pub closure: consistency::ClosureState,
    /// Signs repomd.xml when a signing key is configured.
    pub signer: Option<crate::signing::RepoSigner>,
    /// Signalled when something may have changed a gate or queued a webhook.
    pub wake: Arc<tokio::sync::Notify>,
    /// Counters and histograms behind `GET /metrics`.
    pub metrics: metrics::Metrics,
    /// Seals the webhook secrets stored in the database.
    pub secrets: crate::secrets::SecretBox,
    /// Bumped after every change to the served files, so caches of them know to look again.
    files_generation: std::sync::atomic::AtomicU64,
    /// Files found corrupt (refused for download) and the background scrub's counters.
    pub integrity: verify::Integrity,
    /// The bucket copy of packages and repositories, with `storage = "s3"`.
    pub mirror: Option<Arc<mirror::Mirror>>,
    /// Generations served from memory while their files are written (`write_behind_mb`).
    pub pending: Arc<crate::repodata::Pending>,
}

impl App {
    /// Opens the data directory (creating it, the database and the admin token on first start)
    /// and brings every repository's files in line with the database.
    pub fn open(config: Config, clock: Arc<dyn Clock>) -> ServiceResult<App> {
        let data_dir = config.data_dir.clone();
        let existed = data_dir.exists();
        std::fs::create_dir_all(&data_dir)?;
        private_dir(&data_dir, existed)?;
        let db = match &config.database_url {
            Some(url) => Db::open_postgres(url)?,
            None => Db::open(&data_dir.join("stagerepo.db"))?,
        };
        let secrets =
            crate::secrets::SecretBox::open_or_create(&data_dir).map_err(|e| ServiceError::Internal(e.to_string()))?;
        seal_clear_secrets(&db, &secrets)?;
        let store = PackageStore::open(&data_dir)?;
        let admin_token_hash = ensure_admin_token(&db, &data_dir)?;
        let repos_dir = data_dir.join("repos");
        let signer = match &config.signing_key {
            Some(path) => {
                Some(crate::signing::RepoSigner::load(path).map_err(|e| ServiceError::Invalid(e.to_string()))?)
            }
            None => None,
        };
        let mirror = open_mirror(&config)?;
        let pending = Arc::new(crate::repodata::Pending::default());
        let mut publishers = HashMap::new();
        for dist in config.dist.keys() {
            for repo in RepoKind::ALL {
                let dir = repos_dir.join(dist).join(repo.as_str());
                publishers.insert(
                    (dist.clone(), repo),
                    Mutex::new(publish::Publisher::new(dir, dist, repo, {
                        let writer =
                            crate::repodata::RepoWriter::writing_behind(pending.clone(), config.write_behind_bytes());
                        match mirror.as_ref().and_then(|m| m.share(dist, repo)) {
                            Some(share) => writer.sharing(share),
                            None => writer,
                        }
                    })),
                );
            }
        }
        let temp_budget = crate::store::TempBudget::new(config.max_temp_bytes);
        let app = App {
            config,
            db,
            store,
            temp_budget,
            clock,
            admin_token_hash,
            repos_dir,
            publishers,
            signer,
            closure: consistency::ClosureState::default(),
            wake: Arc::new(tokio::sync::Notify::new()),
            metrics: metrics::Metrics::default(),
            secrets,
            files_generation: std::sync::atomic::AtomicU64::new(0),
            integrity: verify::Integrity::default(),
            mirror,
            pending,
        };
        app.remove_leftovers()?;
        app.load_integrity_marks()?;
        app.load_bases()?;
        app.reconcile_repositories()?;
        app.ensure_signatures()?;
        app.sync_mirror(false)?;
        Ok(app)
    }

    /// Brings the bucket copy of every repository (or, with `only_dirty`, of those whose last
    /// sync failed) in line with the working copy.
    pub fn sync_mirror(&self, only_dirty: bool) -> ServiceResult<()> {
        let Some(mirror) = &self.mirror else {
            return Ok(());
        };
        let targets: Vec<(String, RepoKind)> = if only_dirty {
            mirror.dirty()
        } else {
            self.publishers.keys().cloned().collect()
        };
        for (dist, repo) in targets {
            let Some(lock) = self.publishers.get(&(dist.clone(), repo)) else {
                continue;
            };
            let publisher = lock.lock().unwrap_or_else(|p| p.into_inner());
            // Shared, only the generation the database records for the newest revision goes
            // to the bucket, by the replica holding the repository's lock: one that is behind
            // adopts the bucket's instead (see `replica`).
            let _across = match self.db.may_be_shared() {
                true => Some(self.db.lock_repository(&dist, repo.as_str())?),
                false => None,
            };
            if self.db.may_be_shared() {
                let recorded = self.db.latest_revision(&dist, repo)?.map(|r| r.repomd_sha256);
                if recorded.as_deref() != Some(publish::served_repomd_sha(&publisher).as_str()) {
                    mirror.clear_dirty(&dist, repo);
                    continue;
                }
            }
            mirror.repository(&dist, repo, &self.repos_dir.join(&dist).join(repo.as_str()), &|name| {
                self.stored_sha(name)
            })?;
        }
        Ok(())
    }

    /// The sha256 of the stored package named `filename`.
    fn stored_sha(&self, filename: &str) -> Option<String> {
        self.db.package_by_filename(filename).ok().flatten().map(|p| p.sha256)
    }

    /// After a publication of `dist/repo`: its bucket copy follows. A failure is logged and
    /// retried (the publication itself stands: the working copy serves it).
    pub(crate) fn mirror_publication(&self, dist: &str, repo: RepoKind) {
        if let Some(mirror) = &self.mirror {
            let dir = self.repos_dir.join(dist).join(repo.as_str());
            if let Err(e) = mirror.repository(dist, repo, &dir, &|name| self.stored_sha(name)) {
                self.wake.notify_one();
                tracing::error!(dist, %repo, error = %e, "copying the publication to the object store failed; retrying in the background");
            }
        }
    }

    /// Root of the served repositories (`<data-dir>/repos`).
    pub fn repos_dir(&self) -> &Path {
        &self.repos_dir
    }

    /// The generation of the served files: changes whenever a publication (or pruning) may
    /// have changed a file under [`App::repos_dir`].
    pub fn files_generation(&self) -> u64 {
        // A generation written behind reaching the disk changes the files too.
        self.files_generation
            .load(std::sync::atomic::Ordering::Acquire)
            .wrapping_add(self.pending.changes())
    }

    /// Notes that files under [`App::repos_dir`] changed.
    pub(crate) fn files_changed(&self) {
        self.files_generation.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Removes what interrupted publications left in the repositories (temporary repodata,
    /// half-made package links): on start no publication of this process is in progress.
    fn remove_leftovers(&self) -> ServiceResult<()> {
        for (dist, repo) in self.publishers.keys() {
            let dir = self.repos_dir.join(dist).join(repo.as_str());
            let removed = crate::repodata::remove_leftovers(&dir)?;
            if !removed.is_empty() {
                tracing::info!(dist, %repo, files = %removed.join(", "), "removed leftovers of an interrupted publication");
            }
        }
        Ok(())
    }

    /// Fails with NotFound unless `dist` is configured.
    pub fn require_dist(&self, dist: &str) -> ServiceResult<()> {
        if self.config.dist.contains_key(dist) {
            Ok(())
        } else {
            let known: Vec<&str> = self.config.dist.keys().map(String::as_str).collect();
            Err(ServiceError::NotFound(format!(
                "no distribution {dist:?}; configured: {}",
                known.join(", ")
            )))
        }
    }

    /// Path of the file holding the admin token.
    pub fn admin_token_path(&self) -> PathBuf {
        self.config.data_dir.join("admin.token")
    }
}

/// Makes a directory of ours 0750 whatever the umask (systemd's `StateDirectoryMode` says the
/// same): exactly that when we just created it; an existing one only loses the bits beyond it,
/// so an admin's stricter 0700 stays.
pub(crate) fn private_dir(dir: &Path, existed: bool) -> std::io::Result<()> {
    let mode = if existed {
        (std::fs::metadata(dir)?.permissions().mode() & 0o750) | 0o700
    } else {
        0o750
    };
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
}

/// Seals webhook secrets an older version stored in clear.
fn seal_clear_secrets(db: &Db, secrets: &crate::secrets::SecretBox) -> ServiceResult<()> {
    let clear: Vec<(i64, String)> = db
        .site_secrets()?
        .into_iter()
        .filter(|(_, s)| !crate::secrets::SecretBox::is_sealed(s))
        .collect();
    for (id, secret) in &clear {
        db.set_site_secret(*id, &secrets.seal(secret))?;
    }
    if !clear.is_empty() {
        tracing::info!(sites = clear.len(), "sealed webhook secrets stored in clear");
    }
    Ok(())
}

/// Creates `<data-dir>/admin.token` (mode 0600) on first start; returns the token's hash.
fn ensure_admin_token(db: &Db, data_dir: &Path) -> ServiceResult<String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(hash) = db.setting("admin_token_hash")? {
        return Ok(hash);
    }
    let token = auth::new_token("a");
    let path = data_dir.join("admin.token");
    let tmp = data_dir.join(".admin.token.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(format!("{token}\n").as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    let hash = auth::hash_token(&token);
    db.set_setting("admin_token_hash", &hash)?;
    tracing::info!(path = %path.display(), "created the admin token");
    Ok(hash)
}
