//! Roles a credential grants: `ingest` (post events), `read` (the query API and the live
//! stream), `admin` (maintenance). Roles do not imply one another: a key that must read and
//! write says `ingest+read`.

use std::fmt;
use std::str::FromStr;

/// One role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Ingest,
    Read,
    Admin,
}

impl Role {
    /// Every role (what a bare `--api-key SECRET` grants).
    pub const ALL: [Role; 3] = [Role::Ingest, Role::Read, Role::Admin];

    /// The role's name in options and JWT claims.
    pub fn name(self) -> &'static str {
        match self {
            Role::Ingest => "ingest",
            Role::Read => "read",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.name() == raw.trim())
            .ok_or_else(|| format!("unknown role `{raw}` (roles: ingest, read, admin)"))
    }
}

/// A set of roles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Roles(u8);

impl Roles {
    /// Every role.
    pub fn all() -> Roles {
        Role::ALL.into_iter().collect()
    }

    /// Whether the set holds `role`.
    pub fn contains(self, role: Role) -> bool {
        self.0 & (1 << role as u8) != 0
    }

    /// Parses `read`, `ingest+read`, ... (one or several roles joined by `+`).
    pub fn parse(raw: &str) -> Result<Roles, String> {
        raw.split('+').map(str::parse::<Role>).collect()
    }
}

impl FromIterator<Role> for Roles {
    fn from_iter<I: IntoIterator<Item = Role>>(iter: I) -> Self {
        Roles(
            iter.into_iter()
                .fold(0, |bits, role| bits | (1 << role as u8)),
        )
    }
}

impl fmt::Display for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Role::ALL
            .into_iter()
            .filter(|r| self.contains(*r))
            .map(Role::name)
            .collect();
        f.write_str(&names.join("+"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_joined_by_plus() {
        let roles = Roles::parse("ingest+read").unwrap();
        assert!(roles.contains(Role::Ingest) && roles.contains(Role::Read));
        assert!(!roles.contains(Role::Admin));
        assert_eq!(roles.to_string(), "ingest+read");
        assert!(Roles::parse("reader").is_err());
        assert!(Roles::parse("").is_err());
        assert_eq!(Roles::all().to_string(), "ingest+read+admin");
    }
}
