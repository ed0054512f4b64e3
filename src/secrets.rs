//! Webhook secrets at rest: sealed with AES-256-GCM under a key kept in `<data-dir>/secret.key`
//! (mode 0600), outside the database, so that a leaked copy of `stagerepo.db` alone does not
//! reveal them. The server needs the secrets themselves (it signs with them), so they cannot
//! be hashed like tokens.
//!
//! A sealed value is `enc1:<hex nonce>:<hex ciphertext and tag>`; anything else is a secret
//! stored in clear by an older version, sealed at the next start.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Key, Nonce};

/// File name of the key in the data directory.
pub const KEY_FILE: &str = "secret.key";

const PREFIX: &str = "enc1:";

/// Why a secret cannot be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0} is not a 32-byte key (64 hex digits)")]
    BadKey(PathBuf),
    #[error("a stored secret cannot be opened with {KEY_FILE}: it was sealed under another key, or altered")]
    Unreadable,
}

/// Seals and opens secrets under the data directory's key.
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl SecretBox {
    /// Reads `<dir>/secret.key`, creating it (random, mode 0600) when missing; an existing
    /// key's mode is set to 0600.
    pub fn open_or_create(dir: &Path) -> Result<SecretBox, SecretError> {
        let path = dir.join(KEY_FILE);
        let io = |source| SecretError::Io {
            path: path.clone(),
            source,
        };
        if !path.exists() {
            let key = Aes256Gcm::generate_key(OsRng);
            let tmp = dir.join(format!(".{KEY_FILE}.tmp"));
            let _ = std::fs::remove_file(&tmp);
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(io)?;
            f.write_all(format!("{}\n", hex::encode(key)).as_bytes())
                .and_then(|_| f.sync_all())
                .map_err(io)?;
            std::fs::rename(&tmp, &path).map_err(io)?;
            tracing::info!(path = %path.display(), "created the key that seals webhook secrets");
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        let text = std::fs::read_to_string(&path).map_err(io)?;
        let bytes = hex::decode(text.trim()).map_err(|_| SecretError::BadKey(path.clone()))?;
        if bytes.len() != 32 {
            return Err(SecretError::BadKey(path));
        }
        Ok(SecretBox {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes)),
        })
    }

    /// Whether a stored value is sealed (else it is an old secret in clear).
    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(PREFIX)
    }

    /// The stored form of `secret`.
    pub fn seal(&self, secret: &str) -> String {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(&nonce, secret.as_bytes())
            .expect("AES-GCM encryption of a short secret cannot fail");
        format!("{PREFIX}{}:{}", hex::encode(nonce), hex::encode(sealed))
    }

    /// The secret behind a stored value (an unsealed one is returned as it is).
    pub fn reveal(&self, stored: &str) -> Result<String, SecretError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_string());
        };
        let (nonce, sealed) = rest.split_once(':').ok_or(SecretError::Unreadable)?;
        let nonce = hex::decode(nonce).map_err(|_| SecretError::Unreadable)?;
        let sealed = hex::decode(sealed).map_err(|_| SecretError::Unreadable)?;
        if nonce.len() != 12 {
            return Err(SecretError::Unreadable);
        }
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(&nonce), sealed.as_ref())
            .map_err(|_| SecretError::Unreadable)?;
        String::from_utf8(plain).map_err(|_| SecretError::Unreadable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_round_trip_and_hide_the_text() {
        let dir = tempfile::tempdir().unwrap();
        let b = SecretBox::open_or_create(dir.path()).unwrap();
        let sealed = b.seal("w_topsecret");
        assert!(SecretBox::is_sealed(&sealed) && !sealed.contains("topsecret"));
        assert_ne!(sealed, b.seal("w_topsecret"), "a fresh nonce each time");
        assert_eq!(b.reveal(&sealed).unwrap(), "w_topsecret");
        assert_eq!(b.reveal("w_old_clear").unwrap(), "w_old_clear");
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);

        // The same key after a restart; another key cannot open it.
        let again = SecretBox::open_or_create(dir.path()).unwrap();
        assert_eq!(again.reveal(&sealed).unwrap(), "w_topsecret");
        let other = SecretBox::open_or_create(tempfile::tempdir().unwrap().path()).unwrap();
        assert!(other.reveal(&sealed).is_err());
    }
}
