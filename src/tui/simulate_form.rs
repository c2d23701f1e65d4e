//! The Simulate view's state: one row per service the trace calls, each with a delay and a
//! failure the keys change, and the last simulation's answer. Pure: keys in, a spec to send out.
//!
//! Keys: ↑/↓ (j/k) pick a service, `+`/`-` add or remove 100 ms of delay, `f` cycles the failure
//! (none, fails at once, times out after 2 s), `s` sets a 200 ms SLA on every request (again to
//! clear it), Enter simulates.

use raceway_analysis::simulate::{
    Delay, Failure, FailureMode, Simulation, SimulationSpec, SlaSpec,
};
use ratatui::crossterm::event::KeyCode;

/// How much one `+` or `-` changes a delay.
pub const DELAY_STEP_MS: u64 = 100;
/// The timeout of a failure in mode timeout.
pub const TIMEOUT_MS: u64 = 2_000;
/// The SLA `s` sets.
pub const SLA_MS: u64 = 200;

/// One service's choices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceChoice {
    pub service: String,
    pub delay_ms: u64,
    pub failure: Option<FailureMode>,
}

/// The form and its answer.
#[derive(Debug, Default)]
pub struct SimulateForm {
    pub rows: Vec<ServiceChoice>,
    pub sla_ms: Option<u64>,
    /// The last answer, or the error that came instead.
    pub result: Option<Result<Simulation, String>>,
    /// True while a simulation is on its way.
    pub running: bool,
}

impl SimulateForm {
    /// A form over `services` (the trace's callees), keeping the choices of services it had.
    pub fn set_services(&mut self, mut services: Vec<String>) {
        services.sort();
        services.dedup();
        let old = std::mem::take(&mut self.rows);
        self.rows = services
            .into_iter()
            .map(|service| {
                let kept = old.iter().find(|r| r.service == service);
                kept.cloned().unwrap_or(ServiceChoice {
                    service,
                    delay_ms: 0,
                    failure: None,
                })
            })
            .collect();
    }

    /// Applies a key to the row at `cursor`; returns the spec to simulate on Enter.
    pub fn on_key(&mut self, code: KeyCode, cursor: usize) -> Option<SimulationSpec> {
        if code == KeyCode::Char('s') {
            self.sla_ms = if self.sla_ms.is_some() {
                None
            } else {
                Some(SLA_MS)
            };
            return None;
        }
        if code == KeyCode::Enter {
            let spec = self.spec();
            if spec.delays.is_empty() && spec.failures.is_empty() {
                self.result = Some(Err("set a delay (+) or a failure (f) first".into()));
                return None;
            }
            self.running = true;
            return Some(spec);
        }
        let row = self.rows.get_mut(cursor)?;
        match code {
            KeyCode::Char('+') | KeyCode::Char('=') => row.delay_ms += DELAY_STEP_MS,
            KeyCode::Char('-') => row.delay_ms = row.delay_ms.saturating_sub(DELAY_STEP_MS),
            KeyCode::Char('f') => {
                row.failure = match row.failure {
                    None => Some(FailureMode::Error),
                    Some(FailureMode::Error) => Some(FailureMode::Timeout),
                    Some(FailureMode::Timeout) => None,
                }
            }
            _ => {}
        }
        None
    }

    /// The spec the choices make.
    pub fn spec(&self) -> SimulationSpec {
        let delays = self
            .rows
            .iter()
            .filter(|r| r.delay_ms > 0)
            .map(|r| Delay::Service {
                service: r.service.clone(),
                ms: r.delay_ms,
            });
        let failures = self.rows.iter().filter_map(|r| {
            let mode = r.failure?;
            let timeout_ms = (mode == FailureMode::Timeout).then_some(TIMEOUT_MS);
            Some(Failure {
                service: r.service.clone(),
                mode,
                timeout_ms,
            })
        });
        SimulationSpec {
            delays: delays.collect(),
            failures: failures.collect(),
            sla_ms: self.sla_ms.map(|ms| SlaSpec {
                default: Some(ms),
                services: Default::default(),
            }),
        }
    }

    /// Records the answer.
    pub fn on_result(&mut self, result: Result<Simulation, String>) {
        self.running = false;
        self.result = Some(result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> SimulateForm {
        let mut form = SimulateForm::default();
        form.set_services(vec!["ledger".into(), "db".into()]);
        form
    }

    #[test]
    fn keys_build_the_spec() {
        let mut form = form();
        assert_eq!(form.rows[0].service, "db");
        for _ in 0..5 {
            form.on_key(KeyCode::Char('+'), 1);
        }
        form.on_key(KeyCode::Char('-'), 1);
        form.on_key(KeyCode::Char('f'), 0);
        form.on_key(KeyCode::Char('f'), 0);
        form.on_key(KeyCode::Char('s'), 0);
        let spec = form.on_key(KeyCode::Enter, 0).expect("a spec");
        assert!(form.running);
        assert_eq!(
            spec.delays,
            vec![Delay::Service {
                service: "ledger".into(),
                ms: 400
            }]
        );
        assert_eq!(spec.failures[0].mode, FailureMode::Timeout);
        assert_eq!(spec.failures[0].timeout_ms, Some(TIMEOUT_MS));
        assert_eq!(spec.sla_ms.and_then(|s| s.default), Some(SLA_MS));
    }

    #[test]
    fn nothing_to_simulate_says_so_and_choices_survive_a_reload() {
        let mut form = form();
        assert_eq!(form.on_key(KeyCode::Enter, 0), None);
        assert!(matches!(&form.result, Some(Err(m)) if m.contains("set a delay")));
        form.on_key(KeyCode::Char('+'), 1);
        form.set_services(vec!["ledger".into(), "cache".into()]);
        let ledger = form
            .rows
            .iter()
            .find(|r| r.service == "ledger")
            .expect("kept");
        assert_eq!(ledger.delay_ms, DELAY_STEP_MS);
        assert_eq!(form.rows.len(), 2);
    }
}
