//! The two processor stages of DESIGN.md's data flow.
//!
//! - [`trace`]: consumes `raceway.events` (key = trace id), stores events, and at trace
//!   completion forwards each access with its final clock and lock set to `raceway.accesses`.
//! - [`race`]: consumes `raceway.accesses` (key = variable), runs the race detector, writes
//!   findings.
//!
//! Both share [`StageIo`]: polling, dead letters, retries and offset commits. The analyses
//! themselves live in `raceway-analysis`; this module only moves data to and from them.

mod analysis_rows;
mod io;
pub mod race;
pub mod trace;
pub mod trace_analyses;

pub use io::{StageError, StageIo};
