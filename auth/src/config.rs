//! What access control is configured with, and how a request's credential becomes a
//! [`Principal`].

use std::collections::BTreeMap;

use axum::http::{HeaderMap, StatusCode};

use crate::browser::BrowserPolicy;
use crate::jwt::JwtVerifier;
use crate::keys::ApiKey;
use crate::layer::Principal;
use crate::roles::Roles;

/// A tenant: a name and the environments its credentials may read and write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub name: String,
    pub environments: Vec<String>,
}

impl Tenant {
    /// Parses `--tenant NAME=env1,env2`.
    pub fn parse(spec: &str) -> Result<Tenant, String> {
        let (name, environments) = spec
            .split_once('=')
            .ok_or_else(|| format!("a tenant is NAME=ENV[,ENV...], got `{spec}`"))?;
        let environments: Vec<String> = environments
            .split(',')
            .map(|e| e.trim().to_string())
            .filter(|e| !e.is_empty())
            .collect();
        if name.trim().is_empty() || environments.is_empty() {
            return Err(format!("tenant `{spec}` needs a name and an environment"));
        }
        Ok(Tenant {
            name: name.trim().to_string(),
            environments,
        })
    }

    /// Whether the tenant owns `environment`.
    pub fn owns(&self, environment: &str) -> bool {
        self.environments.iter().any(|e| e == environment)
    }
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("a credential is required: send Authorization: Bearer KEY or X-Raceway-Key: KEY")]
    Missing,
    #[error("the credential is not valid")]
    Invalid,
    #[error("the credential's tenant `{0}` is not configured")]
    UnknownTenant(String),
    #[error("{0}")]
    Forbidden(String),
}

impl AuthError {
    /// 401 for a missing or invalid credential, 403 otherwise.
    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::Missing | AuthError::Invalid => StatusCode::UNAUTHORIZED,
            AuthError::UnknownTenant(_) | AuthError::Forbidden(_) => StatusCode::FORBIDDEN,
        }
    }
}

/// Everything access control is configured with. The default is open (no credential) with the
/// browser checks of [`BrowserPolicy::default`].
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    pub keys: Vec<ApiKey>,
    pub jwt: Option<JwtVerifier>,
    pub tenants: BTreeMap<String, Tenant>,
    pub browser: BrowserPolicy,
    /// `/metrics` needs the `read` role (when credentials are configured).
    pub metrics_auth: bool,
}

impl AuthConfig {
    /// Checks that every key's tenant is declared and that names are unique.
    pub fn validate(&self) -> Result<(), String> {
        for key in &self.keys {
            if let Some(tenant) = &key.tenant {
                if !self.tenants.contains_key(tenant) {
                    return Err(format!(
                        "API key {} names tenant `{tenant}`, which no --tenant declares",
                        key.name
                    ));
                }
            }
        }
        let mut names: Vec<&str> = self.keys.iter().map(|k| k.name.as_str()).collect();
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("two API keys are named {}", pair[0]));
        }
        Ok(())
    }

    /// Whether any credential is configured (otherwise every route is open).
    pub fn requires_credentials(&self) -> bool {
        !self.keys.is_empty() || self.jwt.is_some()
    }

    /// The caller of a request with these headers (and `token` query parameter, where allowed).
    pub fn authenticate(
        &self,
        headers: &HeaderMap,
        query_token: Option<&str>,
    ) -> Result<Principal, AuthError> {
        if !self.requires_credentials() {
            return Ok(Principal {
                name: "anonymous".into(),
                roles: Roles::all(),
                tenant: None,
            });
        }
        let given = credential(headers)
            .or(query_token)
            .ok_or(AuthError::Missing)?;
        let (name, roles, tenant) = if let Some(key) = self.keys.iter().find(|k| k.matches(given)) {
            (key.name.clone(), key.roles, key.tenant.clone())
        } else if let Some(claims) = self.jwt.as_ref().and_then(|j| j.verify(given).ok()) {
            (claims.subject, claims.roles, claims.tenant)
        } else {
            return Err(AuthError::Invalid);
        };
        let tenant = match tenant {
            Some(name) => Some(
                self.tenants
                    .get(&name)
                    .cloned()
                    .ok_or(AuthError::UnknownTenant(name))?,
            ),
            None => None,
        };
        Ok(Principal {
            name,
            roles,
            tenant,
        })
    }
}

/// `Authorization: Bearer SECRET` or `X-Raceway-Key: SECRET`.
fn credential(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    bearer
        .or_else(|| headers.get("x-raceway-key").and_then(|v| v.to_str().ok()))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roles::Role;

    fn config(keys: &[&str]) -> AuthConfig {
        let mut config = AuthConfig {
            keys: keys.iter().map(|k| ApiKey::parse(k).unwrap()).collect(),
            ..AuthConfig::default()
        };
        let acme = Tenant::parse("acme=prod,staging").unwrap();
        config.tenants.insert(acme.name.clone(), acme);
        config
    }

    fn headers(name: &'static str, value: &'static str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(name, value.parse().unwrap());
        map
    }

    #[test]
    fn without_credentials_everyone_has_every_role() {
        let principal = config(&[]).authenticate(&HeaderMap::new(), None).unwrap();
        assert_eq!(principal.roles, Roles::all());
    }

    #[test]
    fn keys_are_found_by_header_or_query_token() {
        let config = config(&["reader:read:r1", "w:ingest:w1:acme"]);
        let reader = config
            .authenticate(&headers("authorization", "Bearer r1"), None)
            .unwrap();
        assert_eq!(reader.name, "reader");
        assert!(reader.roles.contains(Role::Read));
        let writer = config
            .authenticate(&headers("x-raceway-key", "w1"), None)
            .unwrap();
        assert_eq!(writer.tenant.unwrap().environments, ["prod", "staging"]);
        assert!(config.authenticate(&HeaderMap::new(), Some("r1")).is_ok());
        assert_eq!(
            config.authenticate(&HeaderMap::new(), None),
            Err(AuthError::Missing)
        );
        assert_eq!(
            config.authenticate(&headers("authorization", "Bearer nope"), None),
            Err(AuthError::Invalid)
        );
        assert_eq!(
            config.authenticate(&headers("authorization", "r1"), None),
            Err(AuthError::Missing),
            "Authorization without Bearer is not a credential"
        );
    }

    #[test]
    fn keys_must_name_declared_tenants_and_unique_names() {
        assert!(config(&["a:read:x:acme"]).validate().is_ok());
        assert!(config(&["a:read:x:other"]).validate().is_err());
        assert!(config(&["a:read:x", "a:ingest:y"]).validate().is_err());
        assert!(Tenant::parse("acme").is_err());
        assert!(Tenant::parse("acme=").is_err());
    }
}
