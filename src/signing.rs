//! OpenPGP: team keys, the signatures uploaded packages carry, and repository signing.
//!
//! Package signatures are checked with the rpm crate's verifier (header-only, so the payload
//! is never read); repomd.xml is signed with a detached, ASCII-armoured signature, which is
//! what dnf's `repo_gpgcheck` fetches as `repomd.xml.asc`.

use std::path::Path;

use pgp::composed::{ArmorOptions, Deserializable, DetachedSignature, SignedPublicKey, SignedSecretKey};
use pgp::crypto::hash::HashAlgorithm;
use pgp::types::{KeyDetails, Password};

/// Key and signature problems, worded for the person who supplied the key or package.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("not an ASCII-armoured OpenPGP public key: {0}")]
    BadPublicKey(String),
    #[error("cannot load the repository signing key {path}: {message}")]
    BadSecretKey { path: String, message: String },
    #[error("cannot read the package's signatures: {0}")]
    Package(String),
    #[error("signing failed: {0}")]
    Sign(String),
}

/// What identifies an imported public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Primary key fingerprint, lowercase hex.
    pub fingerprint: String,
    /// Key ids (primary and subkeys), lowercase hex, as package signatures name their issuer.
    pub key_ids: Vec<String>,
}

/// Parses an armoured public key (or keyring) and returns each certificate's identity.
pub fn public_key_info(armored: &str) -> Result<Vec<KeyInfo>, SigningError> {
    let (keys, _) =
        SignedPublicKey::from_string_many(armored).map_err(|e| SigningError::BadPublicKey(e.to_string()))?;
    let mut out = Vec::new();
    for key in keys {
        let key = key.map_err(|e| SigningError::BadPublicKey(e.to_string()))?;
        let mut key_ids = vec![hex::encode(key.primary_key.legacy_key_id().as_ref())];
        let mut fps = vec![format!("{:x}", key.primary_key.fingerprint())];
        for sub in &key.public_subkeys {
            key_ids.push(hex::encode(sub.key.legacy_key_id().as_ref()));
            fps.push(format!("{:x}", sub.key.fingerprint()));
        }
        // Signatures may name their issuer by fingerprint only (v6): accept those too.
        key_ids.extend(fps.iter().skip(1).cloned());
        out.push(KeyInfo {
            fingerprint: fps[0].clone(),
            key_ids,
        });
    }
    if out.is_empty() {
        return Err(SigningError::BadPublicKey("no key found".into()));
    }
    Ok(out)
}

/// The issuers (key id, else fingerprint) of the OpenPGP signatures in a package's header.
pub fn package_signers(path: &Path) -> Result<Vec<String>, SigningError> {
    let meta = rpm::PackageMetadata::open(path).map_err(|e| SigningError::Package(e.to_string()))?;
    let sigs = meta.signatures().map_err(|e| SigningError::Package(e.to_string()))?;
    Ok(sigs
        .iter()
        .filter_map(|s| s.key_id().or(s.fingerprint()).map(str::to_string))
        .collect())
}

/// Whether a package's header signature verifies against one of `armored_keys`.
pub fn package_verifies(path: &Path, armored_keys: &[String]) -> bool {
    let Ok(meta) = rpm::PackageMetadata::open(path) else {
        return false;
    };
    armored_keys
        .iter()
        .any(|k| rpm::signature::pgp::Verifier::from_asc(k).is_ok_and(|v| meta.verify_signature(v).is_ok()))
}

/// Signs repository metadata with a configured secret key.
pub struct RepoSigner {
    key: SignedSecretKey,
    /// The matching public key, armoured, served as `RPM-GPG-KEY-stagerepo`.
    pub public_armored: String,
    /// The secret key as loaded, for signing the release package with the rpm crate.
    secret_armored: String,
}

impl RepoSigner {
    /// Loads an ASCII-armoured, unprotected secret key.
    pub fn load(path: &Path) -> Result<RepoSigner, SigningError> {
        let err = |message: String| SigningError::BadSecretKey {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let (key, _) = SignedSecretKey::from_string(&text).map_err(|e| err(e.to_string()))?;
        let public_armored = key
            .to_public_key()
            .to_armored_string(ArmorOptions::default())
            .map_err(|e| err(e.to_string()))?;
        Ok(RepoSigner {
            key,
            public_armored,
            secret_armored: text,
        })
    }

    /// A detached, armoured signature of `data`.
    pub fn sign(&self, data: &[u8]) -> Result<String, SigningError> {
        let sig = DetachedSignature::sign_binary_data(
            rand::thread_rng(),
            &self.key.primary_key,
            &Password::empty(),
            HashAlgorithm::Sha256,
            data,
        )
        .map_err(|e| SigningError::Sign(e.to_string()))?;
        sig.to_armored_string(ArmorOptions::default())
            .map_err(|e| SigningError::Sign(e.to_string()))
    }

    /// A package signer over the same key, so the release package is signed like the
    /// repositories.
    pub fn rpm_signer(&self) -> Result<rpm::signature::pgp::Signer, SigningError> {
        rpm::signature::pgp::Signer::from_asc(&self.secret_armored).map_err(|e| SigningError::Sign(e.to_string()))
    }

    /// Whether `armored` is a valid detached signature of `data` by this key.
    pub fn verifies(&self, data: &[u8], armored: &str) -> bool {
        verify_detached(&self.key.to_public_key(), data, armored)
    }
}

/// Whether `armored` is a valid detached signature of `data` by `key` (its first signature,
/// which is the one dnf's librepo looks at).
pub fn verify_detached(key: &SignedPublicKey, data: &[u8], armored: &str) -> bool {
    DetachedSignature::from_string(armored).is_ok_and(|(sig, _)| sig.verify(key, data).is_ok())
}

/// Parses an armoured public key (the first certificate of a keyring).
pub fn parse_public_key(armored: &str) -> Result<SignedPublicKey, SigningError> {
    SignedPublicKey::from_string(armored)
        .map(|(k, _)| k)
        .map_err(|e| SigningError::BadPublicKey(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn testdata() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata")
    }

    #[test]
    fn signed_packages_name_their_key_and_verify() {
        let key = std::fs::read_to_string(testdata().join("keys/rpm-rs/v4/rpm-testkey-v4-rsa4096.asc")).unwrap();
        let info = public_key_info(&key).unwrap();
        let rpm = testdata().join("rpms/rpm-rs/RPMS/v4/signed/rpm-basic-with-rsa4096-2.3.4-5.el9.noarch.rpm");
        let signers = package_signers(&rpm).unwrap();
        assert!(!signers.is_empty());
        assert!(
            signers.iter().any(|s| info[0].key_ids.contains(s)),
            "{signers:?} vs {info:?}"
        );
        assert!(package_verifies(&rpm, std::slice::from_ref(&key)));
        let other = std::fs::read_to_string(testdata().join("keys/rpm-rs/v4/rpm-testkey-v4-ed25519.asc")).unwrap();
        assert!(!package_verifies(&rpm, &[other]));
        let unsigned = testdata().join("rpms/rpm-rs/RPMS/v4/rpm-basic-2.3.4-5.el9.noarch.rpm");
        assert!(package_signers(&unsigned).unwrap().is_empty());
    }
}
