//! API keys: `NAME:ROLES:SECRET[:TENANT]`, or a bare `SECRET` (every role, no tenant: what a
//! key meant before roles existed, so existing setups keep working).

use subtle::ConstantTimeEq;

use crate::roles::Roles;

/// One configured API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Shown in the access log instead of the secret.
    pub name: String,
    pub roles: Roles,
    pub secret: String,
    /// The tenant whose environments the key is confined to; `None`: every environment.
    pub tenant: Option<String>,
}

impl ApiKey {
    /// Parses one `--api-key` value.
    pub fn parse(spec: &str) -> Result<ApiKey, String> {
        let spec = spec.trim();
        let parts: Vec<&str> = spec.split(':').collect();
        let key = match parts.as_slice() {
            [secret] => ApiKey {
                name: "default".into(),
                roles: Roles::all(),
                secret: secret.to_string(),
                tenant: None,
            },
            [name, roles, secret] | [name, roles, secret, _] => ApiKey {
                name: name.to_string(),
                roles: Roles::parse(roles)?,
                secret: secret.to_string(),
                tenant: parts.get(3).map(|t| t.to_string()),
            },
            _ => {
                return Err(format!(
                    "an API key is NAME:ROLES:SECRET[:TENANT] or SECRET, got {} fields",
                    parts.len()
                ))
            }
        };
        if key.secret.is_empty() || key.name.is_empty() {
            return Err("an API key needs a name and a non-empty secret".into());
        }
        if key.tenant.as_deref() == Some("") {
            return Err(format!("API key {}: empty tenant", key.name));
        }
        Ok(key)
    }

    /// Whether `given` is this key's secret (constant time in the secret's content).
    pub fn matches(&self, given: &str) -> bool {
        self.secret.as_bytes().ct_eq(given.as_bytes()).into()
    }
}

/// Parses an `--api-keys-file`: one key per line as for `--api-key`; blank lines and lines
/// starting with `#` are skipped.
pub fn parse_key_file(text: &str) -> Result<Vec<ApiKey>, String> {
    text.lines()
        .enumerate()
        .map(|(i, line)| (i, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(i, line)| ApiKey::parse(line).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roles::Role;

    #[test]
    fn named_keys_with_roles_and_tenant() {
        let key = ApiKey::parse("reader:read:r1").unwrap();
        assert_eq!(key.name, "reader");
        assert!(key.roles.contains(Role::Read) && !key.roles.contains(Role::Ingest));
        assert!(key.matches("r1") && !key.matches("r2") && !key.matches(""));
        let key = ApiKey::parse("acme-writer:ingest+read:s3:acme").unwrap();
        assert_eq!(key.tenant.as_deref(), Some("acme"));
    }

    #[test]
    fn a_bare_secret_has_every_role() {
        let key = ApiKey::parse("s3cret").unwrap();
        assert_eq!(key.roles, Roles::all());
        assert_eq!(key.tenant, None);
    }

    #[test]
    fn bad_keys_are_refused() {
        assert!(ApiKey::parse("a:b").is_err());
        assert!(ApiKey::parse("a:write:s").is_err());
        assert!(ApiKey::parse("a:read:").is_err());
        assert!(ApiKey::parse("a:read:s:t:u").is_err());
        assert!(ApiKey::parse("a:read:s:").is_err());
    }

    #[test]
    fn key_files_skip_comments() {
        let keys = parse_key_file("# keys\n\nreader:read:r1\nwriter:ingest:w1:acme\n").unwrap();
        assert_eq!(keys.len(), 2);
        let err = parse_key_file("ok:read:x\nbad:nope:y").unwrap_err();
        assert!(err.starts_with("line 2"), "{err}");
    }
}
