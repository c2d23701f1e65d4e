//! Options of access control, shared by every command that listens on HTTP (`up`, `ingest`,
//! `process`, `query`); see `raceway_auth` for what they decide.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use raceway_auth::{
    parse_key_file, ApiKey, AuthConfig, BrowserPolicy, JwtKey, JwtVerifier, Tenant,
};

/// Credentials, tenants and browser checks.
#[derive(Debug, Clone, Default, Args)]
pub struct AccessArgs {
    /// API key, NAME:ROLES:SECRET[:TENANT] (ROLES: ingest, read, admin joined by `+`), or a bare
    /// SECRET with every role. Repeatable. Once any key or JWT key is set, every route but
    /// /health, /ready and the web UI needs a credential.
    #[arg(long = "api-key", env = "RACEWAY_API_KEYS", value_delimiter = ',')]
    pub api_keys: Vec<String>,
    /// File of API keys, one per line as for --api-key (`#` starts a comment).
    #[arg(long, env = "RACEWAY_API_KEYS_FILE", value_name = "FILE")]
    pub api_keys_file: Option<PathBuf>,
    /// Accept JWT bearer tokens signed with this HS256 secret (claims: exp, roles, tenant, sub).
    #[arg(
        long,
        env = "RACEWAY_JWT_HS256_SECRET",
        conflicts_with = "jwt_rs256_key"
    )]
    pub jwt_hs256_secret: Option<String>,
    /// Accept JWT bearer tokens signed with the RSA key whose public half is in this PEM file.
    #[arg(long, env = "RACEWAY_JWT_RS256_KEY", value_name = "FILE")]
    pub jwt_rs256_key: Option<PathBuf>,
    /// A tenant, NAME=ENV[,ENV...]: its credentials read and write only these environments.
    /// Repeatable (separate several with `;` in the environment variable).
    #[arg(long = "tenant", env = "RACEWAY_TENANTS", value_delimiter = ';')]
    pub tenants: Vec<String>,
    /// An origin (scheme://host[:port]) allowed besides the server's own; requests from other
    /// origins get 403. Repeatable.
    #[arg(
        long = "allowed-origin",
        env = "RACEWAY_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,
    /// A host name served besides loopback names when listening on a loopback address (against
    /// DNS rebinding). Repeatable.
    #[arg(
        long = "allowed-host",
        env = "RACEWAY_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    pub allowed_hosts: Vec<String>,
    /// /metrics needs a credential with the `read` role (default: open).
    #[arg(long, env = "RACEWAY_METRICS_AUTH")]
    pub metrics_auth: bool,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key).
    #[arg(long, env = "RACEWAY_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "RACEWAY_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
}

/// What guards one listener: access control and, with --tls-cert, TLS.
pub struct Guard {
    pub auth: AuthConfig,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
}

impl AccessArgs {
    /// Access control and TLS of a listener on `addr`; bad options fail here, before anything
    /// starts.
    pub fn guard(&self, addr: SocketAddr) -> anyhow::Result<Guard> {
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(crate::tls::acceptor(cert, key)?),
            (None, None) => None,
            _ => anyhow::bail!("--tls-cert and --tls-key go together: give both or neither"),
        };
        Ok(Guard {
            auth: self.config(addr, tls.is_some())?,
            tls,
        })
    }

    /// The access control of a listener on `addr`.
    pub fn config(&self, addr: SocketAddr, tls: bool) -> anyhow::Result<AuthConfig> {
        let mut keys = self
            .api_keys
            .iter()
            .map(|spec| ApiKey::parse(spec).map_err(anyhow::Error::msg))
            .collect::<anyhow::Result<Vec<_>>>()
            .context("bad --api-key")?;
        if let Some(path) = &self.api_keys_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --api-keys-file {}", path.display()))?;
            keys.extend(
                parse_key_file(&text)
                    .map_err(anyhow::Error::msg)
                    .with_context(|| format!("bad --api-keys-file {}", path.display()))?,
            );
        }
        let jwt = match (&self.jwt_hs256_secret, &self.jwt_rs256_key) {
            (Some(secret), _) => Some(JwtKey::Hs256Secret(secret.clone())),
            (None, Some(path)) => Some(JwtKey::Rs256PublicPem(
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read --jwt-rs256-key {}", path.display()))?,
            )),
            (None, None) => None,
        }
        .map(JwtVerifier::new)
        .transpose()
        .map_err(anyhow::Error::msg)
        .context("bad JWT key")?;
        let tenants = self
            .tenants
            .iter()
            .map(|spec| Tenant::parse(spec).map(|t| (t.name.clone(), t)))
            .collect::<Result<_, String>>()
            .map_err(anyhow::Error::msg)
            .context("bad --tenant")?;
        let config = AuthConfig {
            keys,
            jwt,
            tenants,
            browser: BrowserPolicy {
                allowed_origins: self.allowed_origins.clone(),
                allowed_hosts: self.allowed_hosts.clone(),
                loopback_listener: addr.ip().is_loopback(),
                tls,
            },
            metrics_auth: self.metrics_auth,
        };
        config.validate().map_err(anyhow::Error::msg)?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::parse_args;

    fn config(args: &[&str]) -> anyhow::Result<AuthConfig> {
        parse_args::<AccessArgs>(args)?.config("127.0.0.1:8080".parse().expect("addr"), false)
    }

    #[test]
    fn options_reach_the_config() {
        let config = config(&[
            "--api-key=reader:read:r1",
            "--api-key=w:ingest:w1:acme",
            "--tenant=acme=prod,staging",
            "--allowed-origin=https://grafana.example",
            "--allowed-host=raceway.test",
            "--metrics-auth",
            "--jwt-hs256-secret=s",
        ])
        .unwrap();
        assert_eq!(config.keys.len(), 2);
        assert_eq!(config.tenants["acme"].environments, ["prod", "staging"]);
        assert!(config.browser.loopback_listener);
        assert_eq!(config.browser.allowed_hosts, ["raceway.test"]);
        assert!(config.metrics_auth && config.jwt.is_some());
    }

    #[test]
    fn bad_options_are_refused() {
        assert!(config(&["--api-key=a:nope:s"]).is_err());
        assert!(
            config(&["--api-key=a:read:s:ghost"]).is_err(),
            "undeclared tenant"
        );
        assert!(config(&["--tenant=acme"]).is_err());
        assert!(config(&["--jwt-rs256-key=/nonexistent.pem"]).is_err());
        assert!(config(&["--api-keys-file=/nonexistent"]).is_err());
    }
}
