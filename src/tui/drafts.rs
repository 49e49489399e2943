//! The console's drafts on disk, through the client's durable store (`crate::client::drafts`:
//! atomic, fsync'd, private files, one per item in `<data_dir>/drafts/`; corrupt files moved
//! aside and reported). The console keeps its own richer draft type (reply kind, both parts,
//! the idempotency key of an unconfirmed send).

use super::model::Draft;
use crate::client::drafts::DraftStore;
use std::collections::HashMap;
use std::path::Path;

/// Write (or, for an empty or absent draft, delete) the draft of `id`.
pub fn save(dir: &Path, id: &str, draft: Option<&Draft>) -> Result<(), String> {
    let store = DraftStore::open(dir).map_err(|e| e.to_string())?;
    match draft.filter(|d| !d.is_empty() || d.idempotency_key.is_some()) {
        Some(d) => store.save(id, d),
        None => store.delete(id),
    }
    .map_err(|e| e.to_string())
}

/// Every readable draft in `dir`; unreadable files are reported (and kept aside), not fatal.
pub fn load_all(dir: &Path) -> (HashMap<String, Draft>, Vec<String>) {
    if !dir.exists() {
        return (HashMap::new(), Vec::new());
    }
    let store = match DraftStore::open(dir) {
        Ok(s) => s,
        Err(e) => return (HashMap::new(), vec![e.to_string()]),
    };
    match store.list::<Draft>() {
        Ok(listing) => (
            listing
                .drafts
                .into_iter()
                .map(|(_, d)| (d.feedback_id.clone(), d))
                .collect(),
            listing
                .problems
                .into_iter()
                .map(|e| e.to_string())
                .collect(),
        ),
        Err(e) => (HashMap::new(), vec![e.to_string()]),
    }
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
        let (all, w) = load_all(dir.path());
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(all.get("fb/1 x"), Some(&d));
        let empty = Draft {
            public: " ".into(),
            direct: String::new(),
            idempotency_key: None,
            ..d.clone()
        };
        save(dir.path(), &d.feedback_id, Some(&empty)).unwrap();
        assert!(load_all(dir.path()).0.is_empty());
        save(dir.path(), "never", None).unwrap();
        std::fs::write(dir.path().join("bad.json"), "{").unwrap();
        assert_eq!(load_all(dir.path()).1.len(), 1);
        assert!(load_all(&dir.path().join("missing")).0.is_empty());
    }
}
