//! The two processor stages of DESIGN.md's data flow.
//!
//! - [`trace`]: consumes `raceway.events` (key = trace id), stores events, and at trace
//!   completion analyses the trace ([`trace_analyses`]) and forwards its race-stage inputs
//!   (accesses, update spans, lock-order edges) to `raceway.accesses`.
//! - [`race`]: consumes `raceway.accesses` (key = variable or lock pair), runs the race and
//!   lock-order detectors, writes findings.
//!
//! Both tell live readers what they stored through notices on `raceway.findings`, one record
//! per partition per step ([`notices`]).
//!
//! Both share [`StageIo`]: polling, dead letters, retries and offset commits. The analyses
//! themselves live in `raceway-analysis`; this module only moves data to and from them.
//!
//! Processing time (idle timeouts, retry backoff, checkpoint and retraining intervals) is read
//! through `tokio::time` only, never `std::time::Instant`: tests run a stage on tokio's paused
//! clock (`#[tokio::test(start_paused = true)]`) and let time advance instead of sleeping, so
//! a timeout of minutes is tested without waiting and no test depends on the machine's speed.
//! Event times and `analyzed_at` stay wall-clock (`SystemTime`).

mod analysis_rows;
mod event_writer;
mod input_batches;
mod io;
mod notices;
mod open_traces;
pub mod race;
pub mod trace;
pub mod trace_analyses;
mod trace_origins;

pub use event_writer::WriteBatching;
pub use io::{stopped_cleanly, StageError, StageIo};
