//! Files the console writes: private (0600 files in 0700 directories on unix), atomic
//! (temp file, fsync, rename, fsync of the directory), so that a crash leaves either the old
//! content or the new, and no other user can read a token, a draft or a queued reply. Read
//! back, a JSON file that is not what it should be is moved aside, never overwritten.

use serde::de::DeserializeOwned;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Creates `dir` and its missing parents; the directories created are 0700.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    {
        fs::create_dir_all(dir)
    }
}

fn open_private_new(path: &Path) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nonce: u64 = rand::random();
    path.with_file_name(format!(".{name}.{}.{nonce:016x}.tmp", std::process::id()))
}

/// Makes a rename or a removal in `dir` durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Replaces `path` with `bytes` atomically and durably; the file is 0600 on unix. The parent
/// directory is created (0700) when missing.
pub fn write_private_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    create_private_dir(&dir)?;
    let tmp = temp_path(path);
    let result = (|| {
        let mut f = open_private_new(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        sync_dir(&dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Removes `path` durably; a missing file is fine.
pub fn remove_durably(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => path.parent().map_or(Ok(()), sync_dir),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Moves a file that could not be read aside (`<name>.corrupt-<unix time>`), so that it is kept
/// for inspection but never read again; returns where it went.
pub fn quarantine(path: &Path) -> io::Result<PathBuf> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut target = path.with_file_name(format!("{name}.corrupt-{stamp}"));
    let mut n = 1;
    while target.exists() {
        target = path.with_file_name(format!("{name}.corrupt-{stamp}-{n}"));
        n += 1;
    }
    fs::rename(path, &target)?;
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(target)
}

/// JSON files of ours larger than this are not read (no draft or queued reply is this big).
const MAX_JSON_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// Why a JSON file of ours could not be read; each store turns it into its own error.
#[derive(Debug)]
pub enum UnreadableFile {
    Io {
        path: PathBuf,
        message: String,
    },
    /// Not valid JSON of the expected type; the file now lives at `kept_at` (when it could be
    /// moved).
    Corrupt {
        path: PathBuf,
        kept_at: Option<PathBuf>,
        message: String,
    },
}

fn unreadable(path: &Path, e: io::Error) -> UnreadableFile {
    UnreadableFile::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Reads a JSON file; `Ok(None)` when absent; a file that is not valid `T` is quarantined.
pub fn read_json_or_quarantine<T: DeserializeOwned>(
    path: &Path,
) -> Result<Option<T>, UnreadableFile> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unreadable(path, e)),
    };
    let parsed = if meta.len() > MAX_JSON_FILE_BYTES {
        Err(format!("over {MAX_JSON_FILE_BYTES} bytes"))
    } else {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice::<T>(&bytes).map_err(|e| e.to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(unreadable(path, e)),
        }
    };
    match parsed {
        Ok(v) => Ok(Some(v)),
        Err(message) => {
            let kept_at = quarantine(path).ok();
            tracing::warn!(path = %path.display(), kept_at = ?kept_at, "unreadable file moved aside");
            Err(UnreadableFile::Corrupt {
                path: path.to_path_buf(),
                kept_at,
                message,
            })
        }
    }
}

/// The permission bits other users have on `path` (group and world), on unix; 0 elsewhere.
pub fn others_mode(meta: &fs::Metadata) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o077
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        0
    }
}

/// The full permission bits, for messages.
pub fn mode(meta: &fs::Metadata) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o777
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        0o600
    }
}

/// A file name for an opaque id: ASCII letters, digits, `-` and `_` kept, every other byte as
/// `%XX`, so no id can name another directory, a hidden file or a device. Reversible by
/// [`decode_file_stem`].
pub fn encode_file_stem(id: &str) -> String {
    let mut s = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    if s.is_empty() {
        s.push('%');
    }
    s
}

pub fn decode_file_stem(stem: &str) -> Option<String> {
    if stem == "%" {
        return Some(String::new());
    }
    let bytes = stem.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = stem.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_are_private_and_replace_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/dir/file.json");
        write_private_atomic(&path, b"one").unwrap();
        write_private_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");
        #[cfg(unix)]
        {
            assert_eq!(mode(&fs::metadata(&path).unwrap()), 0o600);
            assert_eq!(mode(&fs::metadata(path.parent().unwrap()).unwrap()), 0o700);
        }
        remove_durably(&path).unwrap();
        remove_durably(&path).unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn ids_become_safe_file_names_and_back() {
        for id in [
            "fb_123",
            "../../etc/passwd",
            "a b/c",
            "",
            "é",
            ".hidden",
            "%41",
        ] {
            let stem = encode_file_stem(id);
            assert!(
                stem.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_%".contains(&b)),
                "{stem}"
            );
            assert_eq!(decode_file_stem(&stem).as_deref(), Some(id));
        }
        assert_eq!(encode_file_stem("fb_1"), "fb_1");
        assert_eq!(decode_file_stem("%G1"), None);
    }
}
