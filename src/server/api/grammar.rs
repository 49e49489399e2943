//! The shapes of the request values that JSON Schema can say exactly: one regular expression
//! each, which the server checks with (the `regex` crate) and the OpenAPI document states as the
//! `pattern` of the value (see [`apply`]), so that what the document calls valid is what the
//! server accepts. The patterns use only what Rust's `regex`, ECMA-262 and Python's `re` read
//! alike: anchors, classes of ASCII ranges, counted repetition.

use regex::Regex;
use std::sync::OnceLock;
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::{OpenApi, RefOr};

/// A page cursor this server gives out: `<micros>.<id>` (see [`super::paging::encode_cursor`]); ids are
/// printable ASCII.
pub const CURSOR: &str = r"^-?[0-9]{1,18}\.[!-~]{1,64}$";
/// A cursor of the audit log, whose entries have numeric ids.
pub const AUDIT_CURSOR: &str = r"^-?[0-9]{1,18}\.[0-9]{1,18}$";
/// `If-Match`: the item's version as in its ETag, strong or weak, quoted or not.
pub const IF_MATCH: &str = r#"^(W/)?("[0-9]{1,18}"|[0-9]{1,18})$"#;
/// `Idempotency-Key`: 1 to 255 printable ASCII characters, not starting or ending with a space
/// or a quote.
pub const IDEMPOTENCY_KEY: &str = r#"^[!#-~]([ -~]{0,253}[!#-~])?$"#;
/// A department id (see `store::department_id_problem`).
pub const DEPARTMENT_ID: &str = r"^[a-z][a-z0-9_-]{0,63}$";

/// A character that is not white space as Rust's `str::trim` sees it (Unicode White_Space,
/// spelled out: `\s` means something else in each regex dialect).
macro_rules! not_space {
    () => {
        r"[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]"
    };
}

/// A text that is not only white space (it holds a character `str::trim` keeps).
pub const NOT_BLANK: &str = not_space!();

/// A customer search: at least 2 characters once the spaces around it are trimmed.
pub const SEARCH: &str = concat!(not_space!(), r"[\s\S]*", not_space!());

fn compiled(pattern: &'static str, cell: &'static OnceLock<Regex>) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("the patterns of this module compile"))
}

macro_rules! matcher {
    ($name:ident, $pattern:ident) => {
        pub fn $name(value: &str) -> bool {
            static CELL: OnceLock<Regex> = OnceLock::new();
            compiled($pattern, &CELL).is_match(value)
        }
    };
}

matcher!(is_cursor, CURSOR);
matcher!(is_audit_cursor, AUDIT_CURSOR);
matcher!(is_if_match, IF_MATCH);
matcher!(is_idempotency_key, IDEMPOTENCY_KEY);
matcher!(is_department_id, DEPARTMENT_ID);
matcher!(is_search, SEARCH);

/// Where each pattern applies in the document: (location, parameter name, pattern), for every
/// operation that takes the parameter; the audit log's cursor is set apart by its path.
const PARAMETERS: &[(ParameterIn, &str, &str)] = &[
    (ParameterIn::Query, "cursor", CURSOR),
    (ParameterIn::Header, "If-Match", IF_MATCH),
    (ParameterIn::Header, "Idempotency-Key", IDEMPOTENCY_KEY),
    (ParameterIn::Query, "q", SEARCH),
];

/// Schema properties with a pattern: (schema, property, pattern).
const PROPERTIES: &[(&str, &str, &str)] = &[
    ("NewDepartment", "id", DEPARTMENT_ID),
    ("NewDepartment", "name", NOT_BLANK),
];

/// Bodies that must name at least one field (set here: utoipa 5.5 writes its `min_properties`
/// as `maxProperties`).
const NON_EMPTY_OBJECTS: &[&str] = &["FeedbackPatch"];

fn set_pattern(schema: &mut RefOr<Schema>, pattern: &str) {
    if let RefOr::T(Schema::Object(object)) = schema {
        object.pattern = Some(pattern.to_string());
    }
}

/// States the patterns of this module in the document.
pub fn apply(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let operations = [
            &mut item.get,
            &mut item.post,
            &mut item.patch,
            &mut item.put,
            &mut item.delete,
        ];
        for op in operations.into_iter().flatten() {
            for param in op.parameters.iter_mut().flatten() {
                let found = PARAMETERS
                    .iter()
                    .find(|(place, name, _)| *place == param.parameter_in && *name == param.name);
                let Some((_, name, pattern)) = found else {
                    continue;
                };
                let pattern = match (*name, path.as_str()) {
                    ("cursor", "/v1/audit") => AUDIT_CURSOR,
                    // The queue's `q` is any text; only the customer search needs 2 characters.
                    ("q", p) if p != "/v1/customers" => continue,
                    _ => pattern,
                };
                if let Some(schema) = param.schema.as_mut() {
                    set_pattern(schema, pattern);
                }
            }
        }
    }
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    for schema in NON_EMPTY_OBJECTS {
        if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(*schema) {
            object.min_properties = Some(1);
        }
    }
    for (schema, property, pattern) in PROPERTIES {
        if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(*schema) {
            if let Some(p) = object.properties.get_mut(*property) {
                set_pattern(p, pattern);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_we_give_out_match() {
        let at = chrono::Utc::now();
        assert!(is_cursor(&super::super::paging::encode_cursor(
            at,
            "fb_demo_00012"
        )));
        assert!(is_audit_cursor(&super::super::paging::encode_cursor(
            at, "4711"
        )));
        for bad in [
            "",
            "1.",
            ".x",
            "+1.x",
            "1.a b",
            "1234567890123456789.x",
            "x.y",
        ] {
            assert!(!is_cursor(bad), "{bad:?}");
        }
        assert!(!is_audit_cursor("1.fb_1"));
    }

    #[test]
    fn if_match_and_keys() {
        for good in ["7", "\"7\"", "W/\"7\"", "W/7"] {
            assert!(is_if_match(good), "{good:?}");
        }
        for bad in ["*", "\"7", "7\"", " 7", "+7", "", "W/"] {
            assert!(!is_if_match(bad), "{bad:?}");
        }
        assert!(is_idempotency_key("a"));
        assert!(is_idempotency_key("reply-1 of 2"));
        assert!(is_idempotency_key(&"k".repeat(255)));
        for bad in ["", " a", "a ", "\"a\"", &"k".repeat(256), "é"] {
            assert!(!is_idempotency_key(bad), "{bad:?}");
        }
    }

    #[test]
    fn search_is_two_characters_once_trimmed() {
        let all_space: String = (0..=0x10FFFFu32)
            .filter_map(char::from_u32)
            .filter(|c| c.is_whitespace())
            .collect();
        for c in all_space.chars() {
            let q = format!("{c}ab{c}");
            assert!(is_search(&q));
            assert!(!is_search(&format!("{c}a{c}")), "{:?}", c);
        }
        assert!(is_search("a b"));
        assert!(!is_search("  "));
        assert!(!is_search("\u{feff}"));
        assert!(
            is_search("\u{feff}\u{feff}"),
            "not white space to str::trim"
        );
    }

    #[test]
    fn department_pattern_is_the_store_rule() {
        use crate::server::store::department_id_problem;
        for id in [
            "support",
            "returns-emea",
            "a",
            "a_1",
            "",
            "Support",
            "1a",
            "a b",
            "ä",
            &"a".repeat(64),
            &"a".repeat(65),
        ] {
            assert_eq!(
                is_department_id(id),
                department_id_problem(id).is_none(),
                "{id:?}"
            );
        }
    }
}
