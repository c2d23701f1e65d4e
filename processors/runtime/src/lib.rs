//! The streaming runtime: moves records between the bus, the analyses and the store.
//!
//! Records come from and go to a `raceway_bus::Bus`; which implementation is the binary's choice.
//!
//! - [`stages`]: the trace stage and the race stage.
//! - [`offsets`], [`retry`], [`dead_letter`]: what keeps processing at-least-once and lossless.
//! - [`metrics`]: Prometheus metrics of the stages; [`readiness`]: what `/ready` answers.
//!
//! No analysis logic lives here: the stages call `raceway-analysis`.

pub mod dead_letter;
pub mod metrics;
pub mod offsets;
pub mod readiness;
pub mod redaction;
pub mod retry;
pub mod stages;
