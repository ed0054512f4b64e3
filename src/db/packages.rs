//! Uploaded packages: identity, owner and the pre-rendered repodata fragments.

use super::sql::{params, OptionalExtension, Row};

use super::{Db, DbError, DbResult};
use crate::domain::package::PackageMeta;
use crate::repodata::PackageXml;

/// A package as listed (without its fragments).
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredPackage {
    pub sha256: String,
    pub filename: String,
    pub name: String,
    pub epoch: u64,
    pub version: String,
    pub release: String,
    pub arch: String,
    pub size: u64,
    pub uploaded_at: i64,
}

/// What an upload stores.
pub struct NewPackage<'a> {
    pub meta: &'a PackageMeta,
    pub xml: &'a PackageXml,
    pub filename: &'a str,
    pub team_id: Option<i64>,
    pub now: i64,
    /// Issuers of the OpenPGP signatures the package carries.
    pub signers: &'a [String],
    /// Whether one of them is a key of the uploading team and verifies.
    pub signed_by_team: bool,
}

const COLUMNS: &str = "sha256, filename, name, epoch, version, release, arch, size, uploaded_at";

pub(crate) fn row_to_package(r: &Row<'_>) -> DbResult<StoredPackage> {
    Ok(StoredPackage {
        sha256: r.get(0)?,
        filename: r.get(1)?,
        name: r.get(2)?,
        epoch: r.get::<_, i64>(3)? as u64,
        version: r.get(4)?,
        release: r.get(5)?,
        arch: r.get(6)?,
        size: r.get::<_, i64>(7)? as u64,
        uploaded_at: r.get(8)?,
    })
}

impl Db {
    /// Stores a validated package.
    pub fn insert_package(&self, p: &NewPackage<'_>) -> DbResult<()> {
        let meta_json = serde_json::to_string(p.meta).map_err(|e| DbError::Corrupt(e.to_string()))?;
        self.lock().execute(
            "INSERT INTO packages (sha256, filename, name, epoch, version, release, arch, size,
                uploaded_by, uploaded_at, meta, primary_xml, filelists_xml, other_xml, signature_key_ids, signed_by_team)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            params![
                p.meta.pkgid,
                p.filename,
                p.meta.name,
                p.meta.epoch as i64,
                p.meta.version,
                p.meta.release,
                p.meta.arch,
                p.meta.size_package as i64,
                p.team_id,
                p.now,
                meta_json,
                p.xml.primary,
                p.xml.filelists,
                p.xml.other,
                p.signers.join(" "),
                p.signed_by_team
            ],
        )?;
        Ok(())
    }

    /// The package stored under this file name.
    pub fn package_by_filename(&self, filename: &str) -> DbResult<Option<StoredPackage>> {
        let sql = format!("SELECT {COLUMNS} FROM packages WHERE filename = ?1");
        self.lock().query_row(&sql, [filename], row_to_package).optional()
    }

    /// The package with this name, epoch, version, release and arch.
    pub fn package_by_nevra(&self, m: &PackageMeta) -> DbResult<Option<StoredPackage>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM packages
             WHERE name = ?1 AND epoch = ?2 AND version = ?3 AND release = ?4 AND arch = ?5"
        );
        self.lock()
            .query_row(
                &sql,
                params![m.name, m.epoch as i64, m.version, m.release, m.arch],
                row_to_package,
            )
            .optional()
    }

    /// Every stored package, by file name (what `admin verify` re-reads).
    pub fn all_packages(&self) -> DbResult<Vec<StoredPackage>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM packages ORDER BY filename"))?;
        let rows = stmt.query_map((), row_to_package)?;
        rows.collect::<Result<_, _>>()
    }

    /// The packages with these sha256 sums.
    pub fn packages_by_sha(&self, shas: &[String]) -> DbResult<Vec<StoredPackage>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM packages WHERE sha256 = ?1"))?;
        let mut out = Vec::with_capacity(shas.len());
        for sha in shas {
            out.push(stmt.query_row([sha], row_to_package)?);
        }
        Ok(out)
    }

    /// Every stored package named `name` (any version, architecture or repository).
    pub fn packages_named(&self, name: &str) -> DbResult<Vec<StoredPackage>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM packages WHERE name = ?1 ORDER BY sha256"
        ))?;
        let rows = stmt.query_map([name], row_to_package)?;
        rows.collect::<Result<_, _>>()
    }

    /// The repodata fragments of one package.
    pub fn package_xml(&self, sha256: &str) -> DbResult<PackageXml> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare_cached("SELECT primary_xml, filelists_xml, other_xml FROM packages WHERE sha256 = ?1")?;
        stmt.query_row([sha256], |r| {
            Ok(PackageXml {
                pkgid: sha256.to_string(),
                primary: r.get(0)?,
                filelists: r.get(1)?,
                other: r.get(2)?,
            })
        })
    }

    /// (signer key ids, signed by its team) of one package.
    pub fn package_signature(&self, sha256: &str) -> DbResult<(Vec<String>, bool)> {
        self.lock().query_row(
            "SELECT signature_key_ids, signed_by_team FROM packages WHERE sha256 = ?1",
            [sha256],
            |r| {
                let ids: String = r.get(0)?;
                Ok((ids.split_whitespace().map(str::to_string).collect(), r.get(1)?))
            },
        )
    }

    /// The parsed header data of one package.
    pub fn package_meta(&self, sha256: &str) -> DbResult<PackageMeta> {
        let json: String = self
            .lock()
            .query_row("SELECT meta FROM packages WHERE sha256 = ?1", [sha256], |r| r.get(0))?;
        serde_json::from_str(&json).map_err(|e| DbError::Corrupt(format!("package {sha256}: {e}")))
    }
}
