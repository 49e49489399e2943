//! Which departments a caller may see, applied inside the store's queries so that no handler
//! can forget it. Admins (and the server itself: the demo seed, the simulator) see everything.
//!
//! What crosses departments (README, Security): a customer's record, identities, transactions,
//! tags, roles and sentiment trend are shared, because every department serves the same
//! customer; items, their threads and the history entries tied to an item stay inside the item's
//! department.

/// `All`, or the listed departments only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DepartmentScope {
    All,
    Only(Vec<String>),
}

impl DepartmentScope {
    pub fn only(departments: &[String]) -> DepartmentScope {
        DepartmentScope::Only(departments.to_vec())
    }

    /// What `agent` may see: every department for an admin, their own for anyone else.
    pub fn of(agent: &crate::domain::Agent) -> DepartmentScope {
        if agent.role == crate::domain::AgentRole::Admin {
            DepartmentScope::All
        } else {
            DepartmentScope::only(&agent.departments)
        }
    }

    pub fn allows(&self, department: &str) -> bool {
        match self {
            DepartmentScope::All => true,
            DepartmentScope::Only(list) => list.iter().any(|d| d == department),
        }
    }

    /// An SQL condition on `column` with `$N` placeholders numbered from `first`, and the values
    /// to bind, e.g. `f.department IN ($2,$3)`; `TRUE`-like for `All`, never-true for an empty
    /// list.
    pub fn sql(&self, column: &str, first: usize) -> (String, Vec<String>) {
        match self {
            DepartmentScope::All => ("1=1".to_string(), Vec::new()),
            DepartmentScope::Only(list) if list.is_empty() => ("1=0".to_string(), Vec::new()),
            DepartmentScope::Only(list) => {
                let marks: Vec<String> =
                    (0..list.len()).map(|i| format!("${}", first + i)).collect();
                (format!("{column} IN ({})", marks.join(",")), list.clone())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sql_of_each_scope() {
        assert_eq!(DepartmentScope::All.sql("d", 1), ("1=1".into(), vec![]));
        assert_eq!(
            DepartmentScope::Only(vec![]).sql("d", 1),
            ("1=0".into(), vec![])
        );
        let (sql, args) = DepartmentScope::only(&["a".into(), "b".into()]).sql("f.department", 3);
        assert_eq!(sql, "f.department IN ($3,$4)");
        assert_eq!(args, vec!["a".to_string(), "b".to_string()]);
        assert!(DepartmentScope::All.allows("x"));
        assert!(!DepartmentScope::only(&["a".into()]).allows("x"));
    }
}
