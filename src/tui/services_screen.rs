//! The Services view's state: each service of the last hour with its health, and the hotspots.
//! Opened with `S` from the traces list; the figures and verdicts are the API's.

use crate::client::models::{HotspotsBody, ServiceCounts, ServiceHealthBody};

/// The window the view shows (the API's default).
pub const WINDOW: &str = "1h";

/// One service and its health (none when its health could not be read).
#[derive(Debug)]
pub struct ServiceLine {
    pub counts: ServiceCounts,
    pub health: Option<ServiceHealthBody>,
}

/// What the Services view shows.
#[derive(Debug, Default)]
pub struct ServicesScreen {
    /// `None` until loaded.
    pub services: Option<Vec<ServiceLine>>,
    pub hotspots: Option<HotspotsBody>,
    /// The selected service.
    pub cursor: usize,
}

impl ServicesScreen {
    /// Moves the cursor by one (`down`) or back, within the services.
    pub fn step(&mut self, down: bool) {
        let count = self.services.as_ref().map_or(0, Vec::len);
        self.cursor = if down {
            (self.cursor + 1).min(count.saturating_sub(1))
        } else {
            self.cursor.saturating_sub(1)
        };
    }
}
