//! The store's error type.

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The ClickHouse server could not be reached (connection refused, timeout, reset). Transient:
    /// callers back off and retry.
    #[error("ClickHouse at {url} is unreachable: {message}")]
    Unreachable { url: String, message: String },
    /// ClickHouse answered with an error, or its answer could not be read.
    #[error("ClickHouse {operation} failed: {message}")]
    ClickHouse { operation: String, message: String },
    /// An SQLite call failed.
    #[error("SQLite {operation} failed: {message}")]
    Sqlite { operation: String, message: String },
    /// A migration could not be applied; the store is left at the previous version.
    #[error("migration {version} ({name}) failed: {message}")]
    Migration {
        version: u32,
        name: String,
        message: String,
    },
    /// A stored row could not be turned back into an event or a finding.
    #[error("stored {what} {id} cannot be decoded: {message}")]
    Corrupt {
        what: &'static str,
        id: String,
        message: String,
    },
    /// An argument is not acceptable (bad URL, database name, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A bug or a crashed worker thread, not a problem of the data or the server.
    #[error("internal store error: {0}")]
    Internal(String),
}

impl StoreError {
    /// True when retrying later may succeed (the server is down or unreachable).
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unreachable { .. })
    }

    /// Maps a `clickhouse` crate error: network failures become [`StoreError::Unreachable`].
    pub(crate) fn clickhouse(url: &str, operation: &str, err: ::clickhouse::error::Error) -> Self {
        use ::clickhouse::error::Error as E;
        let message = error_chain(&err);
        match err {
            E::Network(_) | E::TimedOut => StoreError::Unreachable {
                url: url.to_string(),
                message: format!("{message} (while running {operation})"),
            },
            _ => StoreError::ClickHouse {
                operation: operation.to_string(),
                message,
            },
        }
    }

    /// Maps a `rusqlite` error.
    pub(crate) fn sqlite(operation: &str, err: rusqlite::Error) -> Self {
        StoreError::Sqlite {
            operation: operation.to_string(),
            message: error_chain(&err),
        }
    }
}

/// The error's message followed by its sources, so "connection refused" is not lost behind
/// "network error".
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_message_names_the_url() {
        let err = StoreError::Unreachable {
            url: "http://127.0.0.1:1".into(),
            message: "connection refused".into(),
        };
        assert_eq!(
            err.to_string(),
            "ClickHouse at http://127.0.0.1:1 is unreachable: connection refused"
        );
        assert!(err.is_transient());
    }

    #[test]
    fn chain_includes_sources() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let err = rusqlite::Error::ToSqlConversionFailure(Box::new(io));
        let mapped = StoreError::sqlite("insert", err);
        assert!(mapped.to_string().contains("refused"), "{mapped}");
    }
}
