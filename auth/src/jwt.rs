//! JWT bearer tokens: HS256 with a shared secret or RS256 with a public key (PEM), carrying the
//! caller's `roles` (a list of role names) and optional `tenant`. `exp` is required and checked,
//! so a leaked token expires.

use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::roles::{Role, Roles};

/// The key tokens are verified with.
#[derive(Debug, Clone)]
pub enum JwtKey {
    /// `--jwt-hs256-secret`.
    Hs256Secret(String),
    /// `--jwt-rs256-key FILE`: the PEM text of the RSA public key.
    Rs256PublicPem(String),
}

/// Verifies tokens with one key.
#[derive(Clone)]
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("algorithms", &self.validation.algorithms)
            .finish()
    }
}

#[derive(Debug, Deserialize)]
struct Claims {
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    tenant: Option<String>,
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    pub subject: String,
    pub roles: Roles,
    pub tenant: Option<String>,
}

impl JwtVerifier {
    /// A verifier for `key`; an RS256 key that is not a PEM RSA public key is refused.
    pub fn new(key: JwtKey) -> Result<JwtVerifier, String> {
        let (key, algorithm) = match key {
            JwtKey::Hs256Secret(secret) if secret.is_empty() => {
                return Err("the JWT HS256 secret is empty".into())
            }
            JwtKey::Hs256Secret(secret) => (
                DecodingKey::from_secret(secret.as_bytes()),
                Algorithm::HS256,
            ),
            JwtKey::Rs256PublicPem(pem) => (
                DecodingKey::from_rsa_pem(pem.as_bytes())
                    .map_err(|e| format!("not an RSA public key in PEM form: {e}"))?,
                Algorithm::RS256,
            ),
        };
        Ok(JwtVerifier {
            key,
            validation: Validation::new(algorithm),
        })
    }

    /// The token's claims, or why it is not valid (bad signature, expired, unknown role).
    pub fn verify(&self, token: &str) -> Result<TokenClaims, String> {
        let data = decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|e| format!("invalid token: {e}"))?;
        let claims = data.claims;
        let roles = claims
            .roles
            .iter()
            .map(|r| r.parse::<Role>())
            .collect::<Result<Roles, String>>()?;
        Ok(TokenClaims {
            subject: claims.sub.unwrap_or_else(|| "jwt".into()),
            roles,
            tenant: claims.tenant.filter(|t| !t.is_empty()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    fn token(secret: &str, claims: serde_json::Value) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    fn in_an_hour() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 3600
    }

    #[test]
    fn hs256_tokens_carry_roles_and_tenant() {
        let verifier = JwtVerifier::new(JwtKey::Hs256Secret("k".into())).unwrap();
        let claims = verifier
            .verify(&token(
                "k",
                json!({"sub": "ci", "roles": ["read", "ingest"], "tenant": "acme", "exp": in_an_hour()}),
            ))
            .unwrap();
        assert_eq!(claims.subject, "ci");
        assert!(claims.roles.contains(Role::Read) && claims.roles.contains(Role::Ingest));
        assert_eq!(claims.tenant.as_deref(), Some("acme"));
    }

    #[test]
    fn bad_tokens_are_refused() {
        let verifier = JwtVerifier::new(JwtKey::Hs256Secret("k".into())).unwrap();
        let exp = in_an_hour();
        assert!(verifier
            .verify(&token("other", json!({"roles": ["read"], "exp": exp})))
            .is_err());
        assert!(verifier
            .verify(&token("k", json!({"roles": ["read"], "exp": 1000})))
            .is_err());
        assert!(verifier
            .verify(&token("k", json!({"roles": ["root"], "exp": exp})))
            .is_err());
        assert!(verifier
            .verify(&token("k", json!({"roles": ["read"]})))
            .is_err());
        assert!(verifier.verify("not.a.token").is_err());
        assert!(JwtVerifier::new(JwtKey::Rs256PublicPem("nope".into())).is_err());
    }
}
