//! Full-text search of the queue (`GET /v1/feedback?q=`): what a word is, and the match
//! expressions of both stores.
//!
//! The words are cut here, in Rust, once, and stored with the item (`feedback.search_text`, the
//! words separated by single spaces). SQLite's FTS5 table tokenises that column with its `ascii`
//! tokenizer, which splits it exactly at the spaces; PostgreSQL turns it into a tsvector with
//! `array_to_tsvector`, which takes the words verbatim. Neither engine's own parser, stemmer or
//! case folding is involved, so both indexes hold the same words and the same query gives the
//! same items on both (tests/search.rs).
//!
//! Semantics (README, The HTTP API): the text is compatibility-decomposed (NFKD), lower-cased
//! and stripped of the Latin, Greek and Cyrillic accents (U+0300 to U+036F) and of the kana
//! voicing marks (U+3099, U+309A); a word is then a
//! run of letters, digits and combining marks, except that each Han ideograph and kana stands
//! alone (those scripts do not separate words with spaces); words are compared on their first
//! `MAX_WORD_CHARS` characters. An item matches when every word of `q` begins some word of the
//! item. A `q` of only separators (`*`, `"`, `-`...) matches nothing.

use super::db::Store;
use super::error::StoreResult;
use super::rows;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Characters of a word that count; the rest is cut off, in the item and in the query alike.
pub const MAX_WORD_CHARS: usize = 64;

/// Han ideographs and Japanese kana: written without spaces, so each character is a word.
fn stands_alone(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30ff}'      // hiragana, katakana
        | '\u{3400}'..='\u{4dbf}'    // CJK extension A
        | '\u{4e00}'..='\u{9fff}'    // CJK unified ideographs
        | '\u{f900}'..='\u{faff}'    // CJK compatibility ideographs
        | '\u{20000}'..='\u{3134f}') // CJK extensions B to G
}

/// The words of `text`, in order, as search compares them.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut kept = 0;
    let end = |word: &mut String, kept: &mut usize, out: &mut Vec<String>| {
        if !word.is_empty() {
            out.push(std::mem::take(word));
        }
        *kept = 0;
    };
    for c in text.nfkd().flat_map(char::to_lowercase) {
        // Accents, and the kana voicing marks NFKD splits off (で is て + U+3099), go.
        if ('\u{300}'..='\u{36f}').contains(&c) || ('\u{3099}'..='\u{309a}').contains(&c) {
            continue;
        }
        if stands_alone(c) {
            end(&mut word, &mut kept, &mut out);
            out.push(c.to_string());
        } else if c.is_alphanumeric() || is_combining_mark(c) {
            if kept < MAX_WORD_CHARS {
                word.push(c);
                kept += 1;
            }
        } else {
            end(&mut word, &mut kept, &mut out);
        }
    }
    end(&mut word, &mut kept, &mut out);
    out
}

/// What the store keeps of an item's text for search (`feedback.search_text`): its words, one
/// space apart.
pub fn stored_words(text: &str) -> String {
    words(text).join(" ")
}

/// A parsed `q`: the words an item must have a word beginning with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextQuery {
    words: Vec<String>,
}

impl TextQuery {
    /// `None` when `q` is empty or blank (no text filter at all). Repeated words, and words
    /// that begin another word of the query, add nothing and are dropped.
    pub fn parse(q: &str) -> Option<TextQuery> {
        if q.trim().is_empty() {
            return None;
        }
        let mut all = words(q);
        all.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        let mut kept: Vec<String> = Vec::new();
        for w in all {
            if !kept.iter().any(|k| k.starts_with(&w)) {
                kept.push(w);
            }
        }
        kept.sort();
        Some(TextQuery { words: kept })
    }

    /// True for a query of separators only: it can match nothing.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// FTS5's MATCH expression: every word as a quoted prefix phrase. The words hold only
    /// letters, digits and marks, so no FTS5 syntax (quotes, `*`, `NEAR`, `-`, `:`) can be in
    /// them; `AND`, `OR`, `NOT` typed as words are quoted, hence plain words.
    pub fn fts5(&self) -> String {
        self.words
            .iter()
            .map(|w| format!("\"{w}\"*"))
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// PostgreSQL's tsquery text (cast with `::tsquery`, which takes quoted lexemes verbatim):
    /// every word as a quoted prefix lexeme. Quotes and backslashes cannot occur in a word.
    pub fn tsquery(&self) -> String {
        self.words
            .iter()
            .map(|w| format!("'{w}':*"))
            .collect::<Vec<_>>()
            .join(" & ")
    }

    /// For a row-by-row check of `' ' || search_text` (SQLite's `instr`): each word with the
    /// space before it, which finds exactly the stored words it begins.
    pub fn spaced_words(&self) -> impl Iterator<Item = String> + '_ {
        self.words.iter().map(|w| format!(" {w}"))
    }
}

/// Items written back per transaction by the start-up backfill.
const BACKFILL_BATCH: i64 = 1000;

impl Store {
    /// Writes the search words of items stored before search existed (migration 0008 leaves
    /// them NULL); on SQLite the update trigger indexes them. Nothing to do on later starts.
    pub(crate) async fn backfill_search(&self) -> StoreResult<()> {
        // In id order from where the last batch ended, so each batch is an index range.
        let mut after = String::new();
        loop {
            let todo = sqlx::query(
                "SELECT id, text FROM feedback WHERE id > $1 AND search_text IS NULL ORDER BY id LIMIT $2",
            )
            .bind(&after)
            .bind(BACKFILL_BATCH)
            .fetch_all(self.reader())
            .await?;
            let Some(last) = todo.last() else {
                return Ok(());
            };
            after = rows::get(last, "id")?;
            let mut tx = self.begin_write().await?;
            for row in &todo {
                let id: String = rows::get(row, "id")?;
                let text: String = rows::get(row, "text")?;
                sqlx::query("UPDATE feedback SET search_text = $1 WHERE id = $2")
                    .bind(stored_words(&text))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            self.commit(tx, None).await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_fold_case_accents_and_compatibility_forms() {
        assert_eq!(
            words("Crème BRÛLÉE, naïve café! ﬁne Ｋｅｔｔｌｅ x²"),
            ["creme", "brulee", "naive", "cafe", "fine", "kettle", "x2"]
        );
        assert_eq!(words("İstanbul Ωmega"), ["istanbul", "ωmega"]);
        assert_eq!(words("straße ø"), ["straße", "ø"]);
    }

    #[test]
    fn separators_split_and_ideographs_stand_alone() {
        assert_eq!(
            words("re-fund's \"order\" #123*(NEAR)"),
            ["re", "fund", "s", "order", "123", "near"]
        );
        assert_eq!(
            words("東京で買った kettle"),
            ["東", "京", "て", "買", "っ", "た", "kettle"]
        );
        assert_eq!(words("नमस्ते दुनिया"), ["नमस्ते", "दुनिया"]);
        assert!(words("  *** -- \"\" ").is_empty());
    }

    #[test]
    fn long_words_are_compared_on_their_first_characters() {
        let long = "a".repeat(200);
        assert_eq!(words(&long), ["a".repeat(MAX_WORD_CHARS)]);
    }

    #[test]
    fn queries_drop_what_adds_nothing_and_quote_every_word() {
        assert_eq!(TextQuery::parse(""), None);
        assert_eq!(TextQuery::parse("   "), None);
        assert!(TextQuery::parse("\"*\" -").unwrap().is_empty());
        let q = TextQuery::parse("Refund ref REFUND kettle").unwrap();
        assert_eq!(q.fts5(), "\"kettle\"* AND \"refund\"*");
        assert_eq!(q.tsquery(), "'kettle':* & 'refund':*");
        assert_eq!(q.spaced_words().collect::<Vec<_>>(), [" kettle", " refund"]);
        let hostile = TextQuery::parse("a\" OR \"b NEAR(c d) -e col:f ^g 'h' \\i").unwrap();
        assert!(!hostile.fts5().contains("OR "));
        assert_eq!(hostile.words.len(), 11);
    }
}
