//! Drafts on disk: one JSON file per item in `<data_dir>/drafts/`, written atomically (temp file
//! then rename) so that a crash mid-write never loses the previous draft.

use super::model::Draft;
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

/// A file name for an item id: safe characters kept, anything else hex-escaped.
fn file_name(id: &str) -> String {
    let mut s = String::with_capacity(id.len() + 5);
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02x}"));
        }
    }
    s.push_str(".json");
    s
}

pub fn path_for(dir: &Path, id: &str) -> PathBuf {
    dir.join(file_name(id))
}

/// Write (or, for an empty or absent draft, delete) the draft of `id`.
pub fn save(dir: &Path, id: &str, draft: Option<&Draft>) -> io::Result<()> {
    let path = path_for(dir, id);
    match draft.filter(|d| !d.is_empty()) {
        Some(d) => {
            std::fs::create_dir_all(dir)?;
            let tmp = dir.join(format!(".{}.tmp", file_name(id)));
            let json = serde_json::to_vec_pretty(d).map_err(io::Error::other)?;
            std::fs::write(&tmp, json)?;
            std::fs::rename(&tmp, &path)
        }
        None => match std::fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        },
    }
}

/// Every readable draft in `dir`; unreadable files are reported, not fatal.
pub fn load_all(dir: &Path) -> (HashMap<String, Draft>, Vec<String>) {
    let mut out = HashMap::new();
    let mut warnings = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (out, warnings);
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().and_then(|x| x.to_str()) != Some("json") {
            continue;
        }
        match std::fs::read(&p)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<Draft>(&b).map_err(|e| e.to_string()))
        {
            Ok(d) => {
                out.insert(d.feedback_id.clone(), d);
            }
            Err(err) => warnings.push(format!("draft {}: {err}", p.display())),
        }
    }
    (out, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::model::ReplyKind;

    #[test]
    fn drafts_round_trip_and_empty_ones_are_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let d = Draft {
            feedback_id: "fb/1 x".into(),
            kind: ReplyKind::Both,
            public: "Hi!".into(),
            direct: "Details…".into(),
            updated_at: chrono::Utc::now(),
            idempotency_key: Some("k1".into()),
        };
        save(dir.path(), &d.feedback_id, Some(&d)).unwrap();
        assert!(path_for(dir.path(), "fb/1 x").ends_with("fb%2f1%20x.json"));
        let (all, w) = load_all(dir.path());
        assert!(w.is_empty());
        assert_eq!(all.get("fb/1 x"), Some(&d));
        let empty = Draft {
            public: " ".into(),
            direct: String::new(),
            ..d.clone()
        };
        save(dir.path(), &d.feedback_id, Some(&empty)).unwrap();
        assert!(load_all(dir.path()).0.is_empty());
        save(dir.path(), "never", None).unwrap();
        std::fs::write(dir.path().join("bad.json"), "{").unwrap();
        assert_eq!(load_all(dir.path()).1.len(), 1);
    }
}
