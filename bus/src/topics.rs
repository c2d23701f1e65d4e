//! Names of Raceway's topics, on Kafka and on the embedded bus alike.

/// Partitions per topic that `raceway migrate` creates unless told otherwise.
pub const DEFAULT_PARTITIONS: i32 = 8;

/// The topic names one Raceway deployment uses, all sharing one prefix (tests use a unique
/// prefix so they can run in parallel against one broker).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Topics {
    /// Event batches from SDKs and the gateway, key = trace id.
    pub events: String,
    /// Shared-state accesses forwarded by the trace processor, key = variable.
    pub accesses: String,
    /// Records that can never be decoded, with the reason.
    pub dead_letter: String,
    /// Notices for live readers: new or updated findings and completed traces
    /// ([`raceway_schemas::notice::Notice`]), in batches of one partition's notices, key = the
    /// first notice's trace id.
    pub findings: String,
}

impl Topics {
    /// The topic names with `prefix` prepended: `""` gives `raceway.events`, `raceway.accesses`,
    /// `raceway.dead-letter` and `raceway.findings`; `"t1-"` gives `t1-raceway.events` and so on.
    pub fn with_prefix(prefix: &str) -> Topics {
        Topics {
            events: format!("{prefix}raceway.events"),
            accesses: format!("{prefix}raceway.accesses"),
            dead_letter: format!("{prefix}raceway.dead-letter"),
            findings: format!("{prefix}raceway.findings"),
        }
    }

    /// All topic names: events, accesses, dead letter, findings (in that order).
    pub fn all(&self) -> Vec<String> {
        vec![
            self.events.clone(),
            self.accesses.clone(),
            self.dead_letter.clone(),
            self.findings.clone(),
        ]
    }
}

impl Default for Topics {
    /// The unprefixed names.
    fn default() -> Self {
        Topics::with_prefix("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_without_and_with_prefix() {
        let t = Topics::with_prefix("");
        assert_eq!(
            t.all(),
            vec![
                "raceway.events",
                "raceway.accesses",
                "raceway.dead-letter",
                "raceway.findings"
            ]
        );
        assert_eq!(Topics::default(), t);
        let t = Topics::with_prefix("t1-");
        assert_eq!(t.events, "t1-raceway.events");
        assert_eq!(t.accesses, "t1-raceway.accesses");
        assert_eq!(t.dead_letter, "t1-raceway.dead-letter");
        assert_eq!(t.findings, "t1-raceway.findings");
    }
}
