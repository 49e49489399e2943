//! What a server on a database without an organisation tells its operator: which commands set
//! one up (`earshot serve` prints it at start, instead of every request failing later with
//! "unknown department").

use super::routing::RoutingRules;
use super::store::{Store, StoreResult};

/// The next steps for the database `db` (as the operator passed it to `--db`), or `None` when
/// it has departments, an admin, and every department the routing rules send items to.
pub async fn next_steps(
    store: &Store,
    routing: &RoutingRules,
    db: &str,
) -> StoreResult<Option<String>> {
    let state = store.setup_state().await?;
    let existing: Vec<String> = store
        .departments()
        .await?
        .into_iter()
        .map(|d| d.id)
        .collect();
    let missing: Vec<&str> = routing
        .departments()
        .into_iter()
        .filter(|d| !existing.iter().any(|e| e == d))
        .collect();
    if state.departments > 0 && state.active_admins > 0 && missing.is_empty() {
        return Ok(None);
    }
    let db = shell_word(&redact_password(db));
    let mut out = Vec::new();
    if state.departments == 0 {
        out.push(
            "earshot: this database has no organisation yet. Set one up with these commands \
             (the running server sees the changes at once, no restart needed):"
                .to_string(),
        );
    } else if !missing.is_empty() {
        out.push(format!(
            "earshot: the routing rules send items to departments that do not exist ({}); \
             items routed there are refused. Create them, or pass --routing with your own rules:",
            missing.join(", ")
        ));
    } else {
        out.push("earshot: this database has no admin with a working token yet:".to_string());
    }
    for department in &missing {
        out.push(format!(
            "  earshot department add --db {db} {department} --name {}",
            shell_word(&title_case(department))
        ));
    }
    let home = existing
        .first()
        .map(String::as_str)
        .unwrap_or(routing.default_department.as_str());
    if state.active_admins == 0 {
        out.push(format!(
            "  earshot agent add --db {db} --name \"Your Name\" --department {home} --role admin"
        ));
    }
    if state.departments == 0 {
        out.push(format!(
            "  earshot agent add --db {db} --name \"An Agent\" --department {home}"
        ));
        out.push(
            "Each `agent add` prints the agent's token once; connect with \
             `earshot console --url <this server> --token <token>`."
                .to_string(),
        );
    }
    Ok(Some(out.join("\n")))
}

/// `support` → `Support`, `returns-emea` → `Returns emea`.
fn title_case(id: &str) -> String {
    let words = id.replace(['-', '_'], " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A PostgreSQL URL's password is not printed back (`postgres://user:secret@host` →
/// `postgres://user:PASSWORD@host`).
fn redact_password(db: &str) -> String {
    let Some((scheme, rest)) = db.split_once("://") else {
        return db.to_string();
    };
    let Some((credentials, host)) = rest.split_once('@') else {
        return db.to_string();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:PASSWORD@{host}"),
        None => db.to_string(),
    }
}

/// `s` as one word for a POSIX shell: as is when it is plain, otherwise single-quoted.
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@=,+%".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_for_the_shell_and_passwords_hidden() {
        assert_eq!(shell_word("/tmp/new.db"), "/tmp/new.db");
        assert_eq!(shell_word("/tmp/my db"), "'/tmp/my db'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(
            redact_password("postgres://u:secret@h:5432/db"),
            "postgres://u:PASSWORD@h:5432/db"
        );
        assert_eq!(redact_password("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_password("/tmp/a@b.db"), "/tmp/a@b.db");
        assert_eq!(title_case("returns-emea"), "Returns emea");
    }
}
