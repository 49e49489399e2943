//! Agents, departments and their bearer tokens. Tokens are random and only their SHA-256 hash
//! is stored, so a copy of the database does not let anyone sign in.

use super::db::{audit_in, new_id, require_department, Store};
use super::error::{StoreError, StoreResult};
use super::rows::{get, parse};
use super::scope::DepartmentScope;
use super::time::now_micros;
use crate::domain::{Agent, AgentRole, Availability, Department, Scope};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Token hashes checked per query (well below both databases' limits on bound parameters).
const AUTH_CHUNK: usize = 500;

pub struct NewAgent<'a> {
    pub name: &'a str,
    pub role: AgentRole,
    pub departments: &'a [String],
    /// What the token may do; the role's scopes when `None` (a read-only token for a wallboard,
    /// say, is `Some(&[Scope::Read])`).
    pub scopes: Option<&'a [Scope]>,
}

/// The agent behind a valid token, with what the token allows.
#[derive(Debug, Clone)]
pub struct AuthenticatedAgent {
    pub agent: Agent,
    pub scopes: Vec<Scope>,
}

impl AuthenticatedAgent {
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// Admins see every department; everyone else only their own.
    pub fn sees_department(&self, department: &str) -> bool {
        self.agent.role == AgentRole::Admin
            || self.agent.departments.iter().any(|d| d == department)
    }

    /// What this agent may see, for the store's scoped queries.
    pub fn scope(&self) -> DepartmentScope {
        DepartmentScope::of(&self.agent)
    }

    /// The departments this agent is limited to, or `None` for all.
    pub fn department_scope(&self) -> Option<&[String]> {
        (self.agent.role != AgentRole::Admin).then_some(self.agent.departments.as_slice())
    }
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!(
        "es_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// Longest department id.
pub const MAX_DEPARTMENT_ID: usize = 64;

/// Why `id` cannot name a department, if it cannot: ids are what routing rules, agents and
/// the queue's `department=` filter name, so they are kept plain.
pub fn department_id_problem(id: &str) -> Option<String> {
    plain_name_problem("department id", id, MAX_DEPARTMENT_ID)
}

/// Why `name` cannot be a plain name (of a department, an intake source...), if it cannot:
/// 1 to `max` lowercase letters, digits, '-' and '_', starting with a letter.
pub(crate) fn plain_name_problem(what: &str, name: &str, max: usize) -> Option<String> {
    let plain = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
    if name.is_empty() || name.len() > max {
        Some(format!("a {what} is 1 to {max} characters"))
    } else if !name.starts_with(|c: char| c.is_ascii_lowercase()) || !name.chars().all(plain) {
        Some(format!(
            "'{name}' is not a {what}: use lowercase letters, digits, '-' and '_', starting with a letter"
        ))
    } else {
        None
    }
}

/// How many departments and usable admins a database has (what a fresh `earshot serve` checks
/// to tell the operator what to do next).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetupState {
    pub departments: i64,
    /// Admins with at least one token that is neither revoked nor expired.
    pub active_admins: i64,
}

impl Store {
    /// Creates a department (the command line's `department add`, `POST /v1/departments`),
    /// audited as `department.add` by `actor` (`None`: the command line). A malformed id is
    /// `InvalidField("/id")`, an existing one `Taken`.
    pub async fn add_department(
        &self,
        actor: Option<&str>,
        id: &str,
        name: Option<&str>,
    ) -> StoreResult<Department> {
        if let Some(problem) = department_id_problem(id) {
            return Err(StoreError::InvalidField("/id", problem));
        }
        // At most 256 characters as sent, and not only spaces (which are trimmed).
        let too_long = name.is_some_and(|n| n.chars().count() > 256);
        let name = name.map(str::trim).unwrap_or(id);
        if name.is_empty() || too_long {
            return Err(StoreError::InvalidField(
                "/name",
                "a department name is 1 to 256 characters, not only spaces".into(),
            ));
        }
        let mut tx = self.begin_write().await?;
        let existing: Option<String> =
            sqlx::query_scalar("SELECT id FROM departments WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        if existing.is_some() {
            tx.rollback().await?;
            return Err(StoreError::Taken(format!(
                "department '{id}' exists already"
            )));
        }
        sqlx::query("INSERT INTO departments (id, name) VALUES ($1, $2)")
            .bind(id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        audit_in(&mut tx, actor, "department.add", id, "ok", name).await?;
        self.commit(tx, None).await?;
        Ok(Department {
            id: id.to_string(),
            name: name.to_string(),
        })
    }

    pub async fn setup_state(&self) -> StoreResult<SetupState> {
        let departments: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM departments")
            .fetch_one(self.reader())
            .await?;
        let active_admins: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM agents a WHERE a.role = 'admin' AND EXISTS \
             (SELECT 1 FROM tokens t WHERE t.agent_id = a.id AND t.revoked_at IS NULL \
              AND (t.expires_at IS NULL OR t.expires_at > $1))",
        )
        .bind(now_micros())
        .fetch_one(self.reader())
        .await?;
        Ok(SetupState {
            departments,
            active_admins,
        })
    }

    /// Sets whether an agent takes new work, audited as `agent.availability` by `actor`.
    pub async fn set_availability(
        &self,
        actor: Option<&str>,
        agent_id: &str,
        availability: Availability,
    ) -> StoreResult<Agent> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("UPDATE agents SET availability = $1 WHERE id = $2")
            .bind(availability.as_str())
            .bind(agent_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Err(StoreError::NotFound(format!("agent {agent_id}")));
        }
        audit_in(
            &mut tx,
            actor,
            "agent.availability",
            agent_id,
            "ok",
            availability.as_str(),
        )
        .await?;
        self.commit(tx, None).await?;
        self.agent(agent_id).await
    }

    pub async fn upsert_department(&self, id: &str, name: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO departments (id, name) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET name = $2")
            .bind(id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        self.commit(tx, None).await
    }

    pub async fn departments(&self) -> StoreResult<Vec<Department>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT id, name FROM departments ORDER BY id")
                .fetch_all(self.reader())
                .await?;
        Ok(rows
            .into_iter()
            .map(|(id, name)| Department { id, name })
            .collect())
    }

    /// Creates an agent and returns it with a new token, the only time the token is visible.
    /// Unknown departments are refused rather than silently created.
    pub async fn add_agent(&self, new: NewAgent<'_>) -> StoreResult<(Agent, String)> {
        let id = new_id("ag");
        let token = random_token();
        self.insert_agent(&id, new, &token, None)
            .await
            .map(|a| (a, token))
    }

    /// Creates an agent with a token chosen by the caller (the demo's well-known tokens).
    pub async fn add_agent_with_token(
        &self,
        id: &str,
        new: NewAgent<'_>,
        token: &str,
    ) -> StoreResult<Agent> {
        self.insert_agent(id, new, token, None).await
    }

    async fn insert_agent(
        &self,
        id: &str,
        new: NewAgent<'_>,
        token: &str,
        expires_at: Option<i64>,
    ) -> StoreResult<Agent> {
        if new.name.trim().is_empty() {
            return Err(StoreError::Invalid("agent name is empty".into()));
        }
        let mut tx = self.begin_write().await?;
        for dept in new.departments {
            require_department(&mut tx, dept).await?;
        }
        let now = now_micros();
        sqlx::query("INSERT INTO agents (id, name, role, created_at) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(new.name)
            .bind(new.role.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        for dept in new.departments {
            sqlx::query("INSERT INTO agent_departments (agent_id, department_id) VALUES ($1, $2)")
                .bind(id)
                .bind(dept)
                .execute(&mut *tx)
                .await?;
        }
        let scopes = new
            .scopes
            .map(<[Scope]>::to_vec)
            .unwrap_or_else(|| new.role.scopes());
        let scopes: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
        sqlx::query("INSERT INTO tokens (hash, agent_id, scopes, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(hash_token(token))
            .bind(id)
            .bind(scopes.join(","))
            .bind(now)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
        let detail = format!(
            "{} ({}) in {}, scopes {}",
            new.name,
            new.role,
            new.departments.join(","),
            scopes.join(",")
        );
        audit_in(&mut tx, None, "agent.add", id, "ok", &detail).await?;
        self.commit(tx, None).await?;
        Ok(Agent {
            id: id.to_string(),
            name: new.name.to_string(),
            role: new.role,
            departments: new.departments.to_vec(),
            availability: Availability::Available,
        })
    }

    /// A new token for an existing agent with `scopes` (at most those of the agent's role), e.g.
    /// a read-only one for a wallboard; returned once, only its hash is stored.
    pub async fn add_token(
        &self,
        agent_id: &str,
        scopes: &[Scope],
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> StoreResult<String> {
        let agent = self.agent(agent_id).await?;
        let allowed = agent.role.scopes();
        if let Some(s) = scopes.iter().find(|s| !allowed.contains(s)) {
            return Err(StoreError::Invalid(format!(
                "a {} cannot have the '{s}' scope",
                agent.role
            )));
        }
        if scopes.is_empty() {
            return Err(StoreError::Invalid(
                "a token needs at least one scope".into(),
            ));
        }
        let token = random_token();
        let scopes: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO tokens (hash, agent_id, scopes, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(hash_token(&token))
            .bind(agent_id)
            .bind(scopes.join(","))
            .bind(now_micros())
            .bind(expires_at.map(|t| t.timestamp_micros()))
            .execute(&mut *tx)
            .await?;
        audit_in(
            &mut tx,
            None,
            "agent.token",
            agent_id,
            "ok",
            &format!("scopes {}", scopes.join(",")),
        )
        .await?;
        self.commit(tx, None).await?;
        Ok(token)
    }

    /// Revokes every token of an agent.
    pub async fn revoke_agent_tokens(&self, agent_id: &str) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE tokens SET revoked_at = $1 WHERE agent_id = $2 AND revoked_at IS NULL",
        )
        .bind(now_micros())
        .bind(agent_id)
        .execute(&mut *tx)
        .await?;
        audit_in(&mut tx, None, "agent.revoke", agent_id, "ok", "").await?;
        self.commit(tx, None).await?;
        Ok(done.rows_affected())
    }

    /// The agent a bearer token belongs to, if the token is known, not expired and not revoked.
    pub async fn authenticate(&self, token: &str) -> StoreResult<Option<AuthenticatedAgent>> {
        let hash = hash_token(token);
        Ok(self
            .authenticate_hashes(std::slice::from_ref(&hash))
            .await?
            .remove(&hash))
    }

    /// The agents behind the valid tokens among `hashes` (token hashes), by hash, in one query
    /// (a round trip per request, and one per batch of events for every open stream's token,
    /// instead of one per stream). A token missing from the answer is unknown, expired,
    /// revoked, or its agent is gone.
    pub async fn authenticate_hashes(
        &self,
        hashes: &[String],
    ) -> StoreResult<HashMap<String, AuthenticatedAgent>> {
        let mut found = HashMap::new();
        for chunk in hashes.chunks(AUTH_CHUNK) {
            let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "SELECT t.hash, t.scopes, a.id, a.name, a.role, a.availability, d.department_id \
                 FROM tokens t JOIN agents a ON a.id = t.agent_id \
                 LEFT JOIN agent_departments d ON d.agent_id = a.id \
                 WHERE t.hash IN ({}) AND t.revoked_at IS NULL \
                 AND (t.expires_at IS NULL OR t.expires_at > $1) \
                 ORDER BY t.hash, d.department_id",
                marks.join(", ")
            );
            let mut query = sqlx::query(&sql).bind(now_micros());
            for h in chunk {
                query = query.bind(h.as_str());
            }
            for row in query.fetch_all(self.reader()).await? {
                let hash: String = get(&row, "hash")?;
                let department: Option<String> = get(&row, "department_id")?;
                if let Some(known) = found.get_mut(&hash) {
                    let known: &mut AuthenticatedAgent = known;
                    known.agent.departments.extend(department);
                    continue;
                }
                let scopes: String = get(&row, "scopes")?;
                let agent = AuthenticatedAgent {
                    agent: Agent {
                        id: get(&row, "id")?,
                        name: get(&row, "name")?,
                        role: parse::<AgentRole>(&row, "role")?,
                        departments: department.into_iter().collect(),
                        availability: parse::<Availability>(&row, "availability")?,
                    },
                    scopes: scopes
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .filter_map(|s| s.parse().ok())
                        .collect(),
                };
                found.insert(hash, agent);
            }
        }
        Ok(found)
    }

    pub async fn agent(&self, id: &str) -> StoreResult<Agent> {
        let row = sqlx::query("SELECT id, name, role, availability FROM agents WHERE id = $1")
            .bind(id)
            .fetch_optional(self.reader())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("agent {id}")))?;
        let departments: Vec<String> =
            sqlx::query_scalar("SELECT department_id FROM agent_departments WHERE agent_id = $1 ORDER BY department_id")
                .bind(id)
                .fetch_all(self.reader())
                .await?;
        Ok(Agent {
            id: get(&row, "id")?,
            name: get(&row, "name")?,
            role: parse::<AgentRole>(&row, "role")?,
            departments,
            availability: parse::<Availability>(&row, "availability")?,
        })
    }

    pub async fn agents(&self) -> StoreResult<Vec<Agent>> {
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM agents ORDER BY name, id")
            .fetch_all(self.reader())
            .await?;
        let mut agents = Vec::with_capacity(ids.len());
        for id in ids {
            agents.push(self.agent(&id).await?);
        }
        Ok(agents)
    }

    /// Token expiry, for tokens that should not live forever.
    pub async fn set_token_expiry(
        &self,
        token: &str,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE tokens SET expires_at = $1 WHERE hash = $2")
            .bind(expires_at.timestamp_micros())
            .bind(hash_token(token))
            .execute(&mut *tx)
            .await?;
        self.commit(tx, None).await
    }
}
