//! Redaction of recorded values before anything is stored (`--redact-variables GLOB`,
//! `--redact-key`).
//!
//! Rule: the old and new values of every state change whose variable matches one of the globs
//! are replaced by a keyed hash (HMAC-SHA256 under the redaction key) of the value's JSON text,
//! as the JSON string `"redacted:<hex>"`. The accesses stay (they count for detection), and
//! equal values stay equal, which the atomics rule needs (a load reads from the latest earlier
//! store of the same value); without the key the hashes cannot be reversed by trying values.
//! It runs in the trace stage, on every event as it is consumed, because events from the Rust
//! SDK reach Kafka without passing the gateway: everything stored and forwarded afterwards (the
//! events, the accesses, the findings' sides) only ever sees the hashes.

use glob::Pattern;
use hmac::{Hmac, Mac};
use raceway_schemas::{Event, EventKind};
use sha2::Sha256;

/// Which variables to redact, and the key of the hash.
#[derive(Debug, Clone, Default)]
pub struct Redaction {
    patterns: Vec<Pattern>,
    key: Vec<u8>,
}

/// Why a redaction setting is refused.
#[derive(Debug, thiserror::Error)]
pub enum RedactionError {
    #[error("`{glob}` is not a glob: {reason}")]
    BadGlob { glob: String, reason: String },
    #[error("--redact-variables needs a --redact-key (the key of the hash)")]
    MissingKey,
}

impl Redaction {
    /// Redacts variables matching any of `globs` (`*`, `?`, `[...]`) with `key`; no globs: none.
    pub fn new(globs: &[String], key: &[u8]) -> Result<Redaction, RedactionError> {
        let patterns = globs
            .iter()
            .map(|glob| {
                Pattern::new(glob).map_err(|e| RedactionError::BadGlob {
                    glob: glob.clone(),
                    reason: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if !patterns.is_empty() && key.is_empty() {
            return Err(RedactionError::MissingKey);
        }
        Ok(Redaction {
            patterns,
            key: key.to_vec(),
        })
    }

    /// Whether `variable`'s values are redacted.
    pub fn is_redacted(&self, variable: &str) -> bool {
        self.patterns.iter().any(|p| p.matches(variable))
    }

    /// Replaces the values of redacted variables in `events`.
    pub fn apply(&self, events: &mut [Event]) {
        if self.patterns.is_empty() {
            return;
        }
        for event in events {
            if let EventKind::StateChange(change) = &mut event.kind {
                if self.is_redacted(&change.variable) {
                    change.new_value = self.hash(&change.new_value);
                    if let Some(old) = &mut change.old_value {
                        *old = self.hash(old);
                    }
                }
            }
        }
    }

    /// The JSON string standing for `value`; a value already redacted is left as it is, so a
    /// replayed event is not hashed twice.
    fn hash(&self, value: &str) -> String {
        if value.starts_with("\"redacted:") {
            return value.to_string();
        }
        // HMAC accepts keys of any length: `new_from_slice` cannot fail.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            return "\"redacted\"".into();
        };
        mac.update(value.as_bytes());
        let digest = mac.finalize().into_bytes();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("\"redacted:{hex}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use raceway_schemas::{AccessType, StateChange};

    fn change(variable: &str, old: Option<&str>, new: &str) -> Event {
        Event {
            kind: EventKind::StateChange(StateChange {
                variable: variable.into(),
                old_value: old.map(str::to_string),
                new_value: new.into(),
                location: "a.rs:1".into(),
                access_type: AccessType::Write,
            }),
            id: uuid::Uuid::nil(),
            trace_id: uuid::Uuid::nil(),
            parent_id: None,
            timestamp_ns: 0,
            metadata: Default::default(),
            causality_vector: Vec::new(),
            lock_set: Vec::new(),
        }
    }

    fn values(event: &Event) -> (Option<String>, String) {
        let change = event.state_change().expect("state change");
        (change.old_value.clone(), change.new_value.clone())
    }

    #[test]
    fn matching_variables_get_keyed_hashes_equal_for_equal_values() {
        let redaction = Redaction::new(&["account:*.balance".into()], b"k").unwrap();
        let mut events = vec![
            change("account:alice.balance", Some("100"), "150"),
            change("account:bob.balance", Some("150"), "100"),
            change("counter", Some("1"), "2"),
        ];
        redaction.apply(&mut events);
        let (alice_old, alice_new) = values(&events[0]);
        let (bob_old, bob_new) = values(&events[1]);
        assert_eq!(alice_old.as_deref(), Some(bob_new.as_str()), "100 == 100");
        assert_eq!(alice_new, bob_old.clone().unwrap(), "150 == 150");
        assert_ne!(alice_new, bob_new);
        assert!(alice_new.starts_with("\"redacted:") && !alice_new.contains("150"));
        assert!(
            serde_json::from_str::<serde_json::Value>(&alice_new).is_ok(),
            "JSON text"
        );
        assert_eq!(
            values(&events[2]),
            (Some("1".into()), "2".into()),
            "not matched"
        );

        // Another key gives other hashes; applying twice changes nothing.
        let other = Redaction::new(&["account:*".into()], b"other").unwrap();
        let mut again = vec![change("account:alice.balance", None, "150")];
        other.apply(&mut again);
        assert_ne!(values(&again[0]).1, alice_new);
        let before = values(&events[0]);
        redaction.apply(&mut events);
        assert_eq!(values(&events[0]), before);
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(Redaction::new(&["[".into()], b"k").is_err());
        assert!(Redaction::new(&["x*".into()], b"").is_err());
        assert!(Redaction::new(&[], b"").is_ok());
    }
}
