//! Drafts on disk, one JSON file per feedback item in the data directory
//! (`$XDG_DATA_HOME/earshot/drafts/<id>.json`), so that a reply being written survives a crash,
//! a restart or a dropped SSH session.
//!
//! - Writes are atomic and durable (temp file, fsync, rename, fsync of the directory) and
//!   private (0600).
//! - A file that cannot be read as a draft is reported ([`DraftError::Corrupt`]) and moved aside
//!   (`<name>.corrupt-<time>`), never fatal and never overwritten silently.
//! - The store is generic over the draft type: the console keeps its own
//!   (`tui::model::Draft`: `store.save(id, &draft)`, `store.load::<Draft>(id)`).

use super::fsutil::{
    decode_file_stem, encode_file_stem, read_json_or_quarantine, remove_durably,
    write_private_atomic, UnreadableFile,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DraftError {
    #[error("draft store {path}: {message}")]
    Io { path: PathBuf, message: String },
    /// The file was not a draft; it now lives at `kept_at` (when it could be moved).
    #[error("draft {path} could not be read ({message}); kept as {}", kept_at.as_ref().map_or("it was".into(), |p| p.display().to_string()))]
    Corrupt {
        path: PathBuf,
        kept_at: Option<PathBuf>,
        message: String,
    },
}

impl From<UnreadableFile> for DraftError {
    fn from(e: UnreadableFile) -> Self {
        match e {
            UnreadableFile::Io { path, message } => DraftError::Io { path, message },
            UnreadableFile::Corrupt {
                path,
                kept_at,
                message,
            } => DraftError::Corrupt {
                path,
                kept_at,
                message,
            },
        }
    }
}

fn io_err(path: &Path, e: std::io::Error) -> DraftError {
    DraftError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Every draft found by [`DraftStore::list`], and what could not be read.
#[derive(Debug)]
pub struct DraftListing<T> {
    /// `(feedback id, draft)`, ordered by id.
    pub drafts: Vec<(String, T)>,
    pub problems: Vec<DraftError>,
}

/// One directory of drafts.
#[derive(Debug, Clone)]
pub struct DraftStore {
    dir: PathBuf,
}

impl DraftStore {
    /// A store in `dir`, created (0700) when missing.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, DraftError> {
        let dir = dir.into();
        super::fsutil::create_private_dir(&dir).map_err(|e| io_err(&dir, e))?;
        Ok(DraftStore { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of an item's draft.
    pub fn path_for(&self, feedback_id: &str) -> PathBuf {
        self.dir
            .join(format!("{}.json", encode_file_stem(feedback_id)))
    }

    /// Writes the draft of `feedback_id`, replacing the previous one atomically.
    pub fn save<T: Serialize>(&self, feedback_id: &str, draft: &T) -> Result<(), DraftError> {
        let path = self.path_for(feedback_id);
        let json = serde_json::to_vec_pretty(draft).map_err(|e| DraftError::Io {
            path: path.clone(),
            message: e.to_string(),
        })?;
        write_private_atomic(&path, &json).map_err(|e| io_err(&path, e))
    }

    /// The draft of `feedback_id`, if there is one. A corrupt file is moved aside and reported.
    pub fn load<T: DeserializeOwned>(&self, feedback_id: &str) -> Result<Option<T>, DraftError> {
        Ok(read_json_or_quarantine(&self.path_for(feedback_id))?)
    }

    /// Removes the draft of `feedback_id` (after sending it, or when emptied); none is fine.
    pub fn delete(&self, feedback_id: &str) -> Result<(), DraftError> {
        let path = self.path_for(feedback_id);
        remove_durably(&path).map_err(|e| io_err(&path, e))
    }

    /// Every draft in the store; corrupt files are moved aside and listed as problems.
    pub fn list<T: DeserializeOwned>(&self) -> Result<DraftListing<T>, DraftError> {
        let mut listing = DraftListing {
            drafts: Vec::new(),
            problems: Vec::new(),
        };
        let entries = std::fs::read_dir(&self.dir).map_err(|e| io_err(&self.dir, e))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".json") else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            let Some(id) = decode_file_stem(stem) else {
                continue;
            };
            match read_json_or_quarantine(&entry.path()) {
                Ok(Some(d)) => listing.drafts.push((id, d)),
                Ok(None) => {}
                Err(e) => listing.problems.push(e.into()),
            }
        }
        listing.drafts.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(listing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Override, ReplyPart, Visibility};
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Serialize};

    /// A draft type of the kind the console keeps (the store is generic over it).
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Draft {
        pub feedback_id: String,
        /// One part for micro (direct) or macro (public), two for both.
        pub parts: Vec<ReplyPart>,
        #[serde(default)]
        pub overrides: Vec<Override>,
        /// The item's version when the agent loaded it (for the stale-send guard).
        #[serde(default)]
        pub base_version: Option<i64>,
        pub updated_at: DateTime<Utc>,
        /// Fields written by a newer console, kept on rewrite.
        #[serde(flatten)]
        pub extra: serde_json::Map<String, serde_json::Value>,
    }

    impl Draft {
        pub fn new(feedback_id: impl Into<String>, parts: Vec<ReplyPart>) -> Self {
            Draft {
                feedback_id: feedback_id.into(),
                parts,
                overrides: Vec::new(),
                base_version: None,
                updated_at: Utc::now(),
                extra: serde_json::Map::new(),
            }
        }

        /// No text in any part: nothing worth keeping.
        pub fn is_empty(&self) -> bool {
            self.parts.iter().all(|p| p.body.trim().is_empty())
        }
    }

    fn draft(id: &str, body: &str) -> Draft {
        Draft::new(
            id,
            vec![ReplyPart {
                visibility: Visibility::Direct,
                body: body.into(),
            }],
        )
    }

    #[test]
    fn drafts_round_trip_per_item() {
        let dir = tempfile::tempdir().unwrap();
        let store = DraftStore::open(dir.path().join("drafts")).unwrap();
        assert_eq!(store.load::<Draft>("fb_1").unwrap(), None);
        let mut d = draft("fb_1", "Sorry about that");
        d.base_version = Some(4);
        store.save("fb_1", &d).unwrap();
        store.save("../evil/id", &draft("../evil/id", "x")).unwrap();
        assert_eq!(store.load::<Draft>("fb_1").unwrap(), Some(d.clone()));
        d.parts[0].body = "Sorry about that, refunded".into();
        store.save("fb_1", &d).unwrap();
        assert_eq!(
            store.load::<Draft>("fb_1").unwrap().unwrap().parts[0].body,
            "Sorry about that, refunded"
        );
        let listing = store.list::<Draft>().unwrap();
        let ids: Vec<&str> = listing.drafts.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, vec!["../evil/id", "fb_1"]);
        assert!(listing.problems.is_empty());
        assert!(store.path_for("../evil/id").starts_with(store.dir()));
        store.delete("fb_1").unwrap();
        store.delete("fb_1").unwrap();
        assert_eq!(store.load::<Draft>("fb_1").unwrap(), None);
        assert!(draft("x", " \n").is_empty());
    }

    #[test]
    fn unknown_fields_survive_a_rewrite() {
        let dir = tempfile::tempdir().unwrap();
        let store = DraftStore::open(dir.path()).unwrap();
        let json = r#"{"feedback_id":"fb_2","parts":[],"updated_at":"2025-01-01T00:00:00Z","kind":"both","cursor":12}"#;
        std::fs::write(store.path_for("fb_2"), json).unwrap();
        let d: Draft = store.load("fb_2").unwrap().unwrap();
        assert_eq!(d.extra.get("kind"), Some(&serde_json::json!("both")));
        store.save("fb_2", &d).unwrap();
        let back: serde_json::Value =
            serde_json::from_slice(&std::fs::read(store.path_for("fb_2")).unwrap()).unwrap();
        assert_eq!(back["cursor"], 12);
    }

    #[test]
    fn a_corrupt_draft_is_reported_and_kept_aside() {
        let dir = tempfile::tempdir().unwrap();
        let store = DraftStore::open(dir.path()).unwrap();
        store.save("fb_ok", &draft("fb_ok", "fine")).unwrap();
        std::fs::write(
            store.path_for("fb_bad"),
            b"{\"feedback_id\": \"fb_bad\", \"parts\": [tru",
        )
        .unwrap();
        let listing = store.list::<Draft>().unwrap();
        assert_eq!(listing.drafts.len(), 1);
        assert_eq!(listing.problems.len(), 1);
        let DraftError::Corrupt {
            kept_at: Some(kept),
            ..
        } = &listing.problems[0]
        else {
            panic!("{:?}", listing.problems)
        };
        assert!(kept.exists());
        assert!(kept
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("fb_bad.json.corrupt-"));
        assert!(!store.path_for("fb_bad").exists());
        // Once aside, it no longer gets in the way.
        assert!(store.list::<Draft>().unwrap().problems.is_empty());
        std::fs::write(store.path_for("fb_x"), b"\xFF\xFE").unwrap();
        assert!(matches!(
            store.load::<Draft>("fb_x"),
            Err(DraftError::Corrupt { .. })
        ));
        assert_eq!(store.load::<Draft>("fb_x").unwrap(), None);
    }

    #[cfg(unix)]
    #[test]
    fn draft_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = DraftStore::open(dir.path().join("d")).unwrap();
        store.save("fb_1", &draft("fb_1", "x")).unwrap();
        let mode = std::fs::metadata(store.path_for("fb_1"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }
}
