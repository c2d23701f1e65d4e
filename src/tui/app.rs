//! The TUI's state and how keys and answers change it. Pure: no terminal, no network. Keys and
//! answers go in, [`Fetch`]es to perform come out; the views draw whatever state results.

use std::collections::HashSet;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::fetch::{Fetch, Loaded};
use super::trace_screen::{Tab, TraceScreen};
use crate::client::models::{TracePage, TraceRow};

/// A line of text being typed: the traces filter or a time-travel jump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Filter(String),
    Goto(String),
}

/// The status line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    pub text: String,
    pub is_error: bool,
}

/// Everything the TUI shows.
#[derive(Debug, Default)]
pub struct App {
    /// The API's base URL, shown in the title.
    pub api: String,
    pub traces: Option<TracePage>,
    /// Traces with duration anomalies.
    pub anomalous: HashSet<String>,
    /// The selected row of the (filtered) traces list.
    pub cursor: usize,
    /// Substring the traces list is filtered by (id or service).
    pub filter: String,
    pub input: Option<Input>,
    /// The open trace, if any.
    pub trace: Option<TraceScreen>,
    pub show_help: bool,
    /// New traces and findings are polled while on.
    pub live: bool,
    pub status: Status,
    pub quit: bool,
}

impl App {
    /// A new app over the API at `api`, and what to load first.
    pub fn new(api: &str) -> (App, Vec<Fetch>) {
        let app = App {
            api: api.to_string(),
            status: Status {
                text: format!("loading traces from {api} ..."),
                is_error: false,
            },
            ..App::default()
        };
        (app, vec![Fetch::Traces, Fetch::Anomalous])
    }

    /// The traces the filter lets through, in the API's order.
    pub fn visible_traces(&self) -> Vec<&TraceRow> {
        let needle = self.filter.to_lowercase();
        self.traces
            .iter()
            .flat_map(|page| page.traces.iter())
            .filter(|t| {
                needle.is_empty()
                    || t.trace_id.contains(&needle)
                    || t.services
                        .iter()
                        .any(|s| s.to_lowercase().contains(&needle))
            })
            .collect()
    }

    /// What to fetch again on `r`, or every poll in live mode (`full`: everything shown).
    pub fn refresh(&self, full: bool) -> Vec<Fetch> {
        let mut fetches = vec![Fetch::Traces, Fetch::Anomalous];
        if let Some(trace) = &self.trace {
            if full {
                fetches.extend(trace.open_fetches());
            } else {
                fetches.push(Fetch::Races(trace.trace_id.clone()));
            }
        }
        fetches
    }

    /// Applies a key; returns what to fetch.
    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Fetch> {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.quit = true;
            return Vec::new();
        }
        if self.input.is_some() {
            return self.on_input_key(key.code);
        }
        if self.show_help {
            // Any key closes the help; q still quits.
            self.show_help = false;
            self.quit = key.code == KeyCode::Char('q');
            return Vec::new();
        }
        match key.code {
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Char('?') => self.show_help = true,
            KeyCode::Char('r') => {
                self.status = Status {
                    text: "refreshing ...".into(),
                    is_error: false,
                };
                return self.refresh(true);
            }
            KeyCode::Char('l') => {
                self.live = !self.live;
                self.status = Status {
                    text: if self.live {
                        "live: new traces and findings appear as they arrive".into()
                    } else {
                        "live off".into()
                    },
                    is_error: false,
                };
                return if self.live {
                    self.refresh(false)
                } else {
                    Vec::new()
                };
            }
            _ => {}
        }
        match &mut self.trace {
            Some(trace) => {
                if key.code == KeyCode::Esc {
                    self.trace = None;
                    return Vec::new();
                }
                if key.code == KeyCode::Char('g') && trace.tab == Tab::TimeTravel {
                    self.input = Some(Input::Goto(String::new()));
                    return Vec::new();
                }
                trace.on_key(key.code)
            }
            None => self.on_list_key(key.code),
        }
    }

    fn on_list_key(&mut self, code: KeyCode) -> Vec<Fetch> {
        let count = self.visible_traces().len();
        match code {
            KeyCode::Char('j') | KeyCode::Down => {
                self.cursor = (self.cursor + 1).min(count.saturating_sub(1));
            }
            KeyCode::Char('k') | KeyCode::Up => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Char('/') => self.input = Some(Input::Filter(self.filter.clone())),
            KeyCode::Esc => self.filter.clear(),
            KeyCode::Enter => {
                let Some(row) = self.visible_traces().get(self.cursor).map(|r| (*r).clone()) else {
                    return Vec::new();
                };
                let (screen, fetches) = TraceScreen::open(&row.trace_id);
                self.trace = Some(screen);
                return fetches;
            }
            _ => {}
        }
        Vec::new()
    }

    fn on_input_key(&mut self, code: KeyCode) -> Vec<Fetch> {
        let Some(input) = &mut self.input else {
            return Vec::new();
        };
        let text = match input {
            Input::Filter(text) | Input::Goto(text) => text,
        };
        match code {
            KeyCode::Char(c) => text.push(c),
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Esc => self.input = None,
            KeyCode::Enter => {
                let done = self.input.take();
                match done {
                    Some(Input::Filter(text)) => {
                        self.filter = text;
                        self.cursor = 0;
                    }
                    Some(Input::Goto(target)) => {
                        if let Some(trace) = &mut self.trace {
                            return match trace.go_to(target.trim()) {
                                Ok(fetches) => fetches,
                                Err(message) => {
                                    self.status = Status {
                                        text: message,
                                        is_error: true,
                                    };
                                    Vec::new()
                                }
                            };
                        }
                    }
                    None => {}
                }
                return Vec::new();
            }
            _ => {}
        }
        if let Some(Input::Filter(text)) = &self.input {
            // The list follows the filter as it is typed.
            self.filter = text.clone();
            self.cursor = 0;
        }
        Vec::new()
    }

    /// Applies an answer; returns what to fetch next (answers can reveal more to load).
    pub fn on_loaded(&mut self, loaded: Loaded) -> Vec<Fetch> {
        match loaded {
            Loaded::Failed(_, message) => {
                self.status = Status {
                    text: format!("retrying: {message}"),
                    is_error: true,
                };
                Vec::new()
            }
            Loaded::Traces(page) => {
                self.clear_error();
                if self.status.text.starts_with("loading") {
                    self.status = Status::default();
                }
                self.traces = Some(page);
                self.cursor = self
                    .cursor
                    .min(self.visible_traces().len().saturating_sub(1));
                Vec::new()
            }
            Loaded::Anomalous(ids) => {
                self.anomalous = ids.into_iter().collect();
                Vec::new()
            }
            other => {
                self.clear_error();
                match &mut self.trace {
                    Some(trace) => trace.on_loaded(other),
                    None => Vec::new(),
                }
            }
        }
    }

    /// An answer arrived: a previous error no longer holds.
    fn clear_error(&mut self) {
        if self.status.is_error {
            self.status = Status::default();
        }
    }
}
