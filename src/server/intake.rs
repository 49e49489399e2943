//! Secrets of intake sources (`POST /v1/intake/{source}`, signed with Standard Webhooks): who
//! may send items, not what becomes of them (that is `service::intake`, the one intake path).
//!
//! Standard Webhooks signs with HMAC-SHA256 keyed with the secret itself, so whoever verifies a
//! signature must hold the secret: a hash of it (as kept for bearer tokens) cannot verify
//! anything. Nor is the secret stored: each one is derived, when needed, from the server's
//! intake key (32 random bytes in a file outside the database, mode 0600) and the source's
//! stored salt: `HMAC-SHA256(key, "earshot intake v1" 0 id 0 salt)`. A copy of the database
//! alone (a backup, a read-only SQL role) therefore signs nothing. The database keeps a SHA-256
//! of each secret, so that a server with the wrong key file says so instead of refusing every
//! signature. Servers sharing one PostgreSQL database need the same key file.

use super::delivery::webhook::WebhookSecret;
use super::store::{new_source_id, IntakeSource, NewIntakeSource, Store, StoreResult};
use crate::domain::Channel;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The server's intake key.
pub struct IntakeKey([u8; 32]);

impl std::fmt::Debug for IntakeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IntakeKey(..)")
    }
}

const KEY_PREFIX: &str = "earshot-intake-key-v1:";

impl IntakeKey {
    /// Reads the key file; refuses one that others may read.
    pub fn load(path: &Path) -> Result<IntakeKey, String> {
        let shown = path.display();
        let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
        private_file(path)?;
        let b64 = text
            .trim()
            .strip_prefix(KEY_PREFIX)
            .ok_or_else(|| format!("{shown}: not an intake key file"))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| format!("{shown}: the key is not base64"))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| format!("{shown}: the key is not 32 bytes"))?;
        Ok(IntakeKey(key))
    }

    /// Reads the key file, or creates it (mode 0600, with its directory) when there is none.
    pub fn load_or_create(path: &Path) -> Result<(IntakeKey, bool), String> {
        if path.exists() {
            return IntakeKey::load(path).map(|k| (k, false));
        }
        let shown = path.display();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let key: [u8; 32] = rand::random();
        let text = format!(
            "{KEY_PREFIX}{}\n",
            base64::engine::general_purpose::STANDARD.encode(key)
        );
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(|e| format!("{shown}: {e}"))?;
        std::io::Write::write_all(&mut file, text.as_bytes())
            .and_then(|_| file.sync_all())
            .map_err(|e| format!("{shown}: {e}"))?;
        Ok((IntakeKey(key), true))
    }

    /// The secret of the source with this id and salt.
    pub fn secret(&self, source_id: &str, salt: &str) -> WebhookSecret {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("any key length");
        for part in ["earshot intake v1", source_id, salt] {
            mac.update(part.as_bytes());
            mac.update(&[0]);
        }
        WebhookSecret::from_bytes(mac.finalize().into_bytes().to_vec())
    }
}

#[cfg(unix)]
fn private_file(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(format!(
            "{}: the intake key file must not be readable by group or others (chmod 600 it)",
            path.display()
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn private_file(_: &Path) -> Result<(), String> {
    Ok(())
}

/// Creates a source and returns it with its secret (to print once).
pub async fn add_source(
    store: &Store,
    key: &IntakeKey,
    name: &str,
    channel: Option<Channel>,
    department: Option<&str>,
) -> StoreResult<(IntakeSource, WebhookSecret)> {
    let id = new_source_id();
    let salt = hex::encode(rand::random::<[u8; 16]>());
    let secret = key.secret(&id, &salt);
    let source = store
        .add_intake_source(NewIntakeSource {
            id: &id,
            name,
            channel,
            department,
            salt: &salt,
            secret_hash: &secret.fingerprint(),
        })
        .await?;
    Ok((source, secret))
}

/// The server's key file, read when first needed (a key created by `earshot intake add` after
/// the server started is found without a restart) and kept once read.
#[derive(Debug)]
pub struct KeyFile {
    path: Option<PathBuf>,
    key: OnceLock<IntakeKey>,
}

/// Why a source's signature cannot be checked at all (the server's fault, not the sender's).
#[derive(Debug, thiserror::Error)]
pub enum KeyProblem {
    #[error("this server has no intake key file configured")]
    NotConfigured,
    #[error("cannot read the intake key: {0}")]
    Unreadable(String),
    #[error("the intake key file is not the one source '{0}' was created with")]
    WrongKey(String),
}

impl KeyFile {
    pub fn new(path: Option<PathBuf>) -> KeyFile {
        KeyFile {
            path,
            key: OnceLock::new(),
        }
    }

    fn key(&self) -> Result<&IntakeKey, KeyProblem> {
        if let Some(key) = self.key.get() {
            return Ok(key);
        }
        let path = self.path.as_deref().ok_or(KeyProblem::NotConfigured)?;
        let key = IntakeKey::load(path).map_err(KeyProblem::Unreadable)?;
        Ok(self.key.get_or_init(|| key))
    }

    /// The secret of `source`, checked against its stored hash.
    pub fn secret_of(&self, source: &IntakeSource) -> Result<WebhookSecret, KeyProblem> {
        let secret = self.key()?.secret(&source.id, &source.salt);
        if secret.fingerprint() != source.secret_hash {
            return Err(KeyProblem::WrongKey(source.name.clone()));
        }
        Ok(secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_file_is_private_and_secrets_differ_by_source_and_salt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/intake.key");
        let (key, created) = IntakeKey::load_or_create(&path).unwrap();
        assert!(created);
        let (again, created) = IntakeKey::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(key.secret("is_1", "a"), again.secret("is_1", "a"));
        assert_ne!(key.secret("is_1", "a"), key.secret("is_1", "b"));
        assert_ne!(key.secret("is_1", "a"), key.secret("is_2", "a"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(IntakeKey::load(&path).unwrap_err().contains("chmod 600"));
        }
        std::fs::write(dir.path().join("bad"), "hello").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let bad = dir.path().join("bad");
            std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        assert!(IntakeKey::load(&dir.path().join("bad"))
            .unwrap_err()
            .contains("not an intake key file"));
    }
}
