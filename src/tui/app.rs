//! The TUI's state and how keys and answers change it. Pure: no terminal, no network. Keys and
//! answers go in, [`Fetch`]es to perform come out; the views draw whatever state results.

use std::collections::{HashMap, HashSet};

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::fetch::{Fetch, Loaded};
use super::live::LiveUpdate;
use super::services_screen::ServicesScreen;
use super::trace_screen::{Tab, TraceScreen};
use crate::client::models::{LiveMessage, TraceRow, TracesPage};

/// Refreshes asked for by a trace seen live but not listed yet, before it is given up on (the
/// store may list a trace a moment after its first event streams by).
const AWAIT_REFRESHES: u8 = 20;

/// A line of text being typed: the traces filter or a time-travel jump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Filter(String),
    Goto(String),
}

/// Live mode (`l`): off, or following new traces and findings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Live {
    #[default]
    Off,
    /// Opening the live stream; the API is polled meanwhile.
    Connecting,
    /// Following the live stream: its messages trigger the refreshes.
    Streaming,
    /// The live stream was refused or dropped (why): polling the API until it reconnects.
    Polling(String),
}

impl Live {
    pub fn is_on(&self) -> bool {
        *self != Live::Off
    }
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
    pub traces: Option<TracesPage>,
    /// Traces with duration anomalies.
    pub anomalous: HashSet<String>,
    /// The selected row of the (filtered) traces list.
    pub cursor: usize,
    /// Substring the traces list is filtered by (id or service).
    pub filter: String,
    pub input: Option<Input>,
    /// The open trace, if any.
    pub trace: Option<TraceScreen>,
    /// The Services view, when open (and no trace is).
    pub services: Option<ServicesScreen>,
    pub show_help: bool,
    pub live: Live,
    /// A live message asked for a refresh that is not sent yet.
    pub live_refresh_due: bool,
    /// Traces seen on the live stream but not in the list yet, with the refreshes asked since.
    pub awaited: HashMap<String, u8>,
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
        if self.services.is_some() {
            fetches.extend([Fetch::Services, Fetch::Hotspots]);
        }
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
                let on = !self.live.is_on();
                self.live = if on { Live::Connecting } else { Live::Off };
                self.awaited.clear();
                self.live_refresh_due = false;
                self.status = Status {
                    text: if on {
                        "live: connecting to the live stream ...".into()
                    } else {
                        "live off".into()
                    },
                    is_error: false,
                };
                return if on { self.refresh(false) } else { Vec::new() };
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
            None if self.services.is_some() => self.on_services_key(key.code),
            None => self.on_list_key(key.code),
        }
    }

    fn on_services_key(&mut self, code: KeyCode) -> Vec<Fetch> {
        if let Some(screen) = &mut self.services {
            match code {
                KeyCode::Esc => self.services = None,
                KeyCode::Char('j') | KeyCode::Down => screen.step(true),
                KeyCode::Char('k') | KeyCode::Up => screen.step(false),
                _ => {}
            }
        }
        Vec::new()
    }

    fn on_list_key(&mut self, code: KeyCode) -> Vec<Fetch> {
        let count = self.visible_traces().len();
        match code {
            KeyCode::Char('j') | KeyCode::Down => {
                self.cursor = (self.cursor + 1).min(count.saturating_sub(1));
            }
            KeyCode::Char('k') | KeyCode::Up => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Char('/') => self.input = Some(Input::Filter(self.filter.clone())),
            KeyCode::Char('S') => {
                self.services = Some(ServicesScreen::default());
                return vec![Fetch::Services, Fetch::Hotspots];
            }
            KeyCode::Esc => self.filter.clear(),
            KeyCode::Enter => {
                let Some(id) = self
                    .visible_traces()
                    .get(self.cursor)
                    .map(|r| r.trace_id.clone())
                else {
                    return Vec::new();
                };
                let (screen, fetches) = TraceScreen::open(&id);
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
                for trace in &page.traces {
                    self.awaited.remove(&trace.trace_id);
                }
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
            Loaded::Services(lines) => {
                self.clear_error();
                if let Some(screen) = &mut self.services {
                    screen.cursor = screen.cursor.min(lines.len().saturating_sub(1));
                    screen.services = Some(lines);
                }
                Vec::new()
            }
            Loaded::Hotspots(found) => {
                self.clear_error();
                if let Some(screen) = &mut self.services {
                    screen.hotspots = Some(found);
                }
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

    /// Applies what the live stream said; refreshes are batched by [`App::live_refresh`].
    pub fn on_live(&mut self, update: LiveUpdate) {
        if !self.live.is_on() {
            return; // Sent before live mode was turned off.
        }
        match update {
            LiveUpdate::Connected => {
                self.live = Live::Streaming;
                self.live_refresh_due = true;
                self.status = Status {
                    text: "live: following the live stream".into(),
                    is_error: false,
                };
            }
            LiveUpdate::Down(reason) => {
                self.status = Status {
                    text: format!("live stream unavailable, polling instead: {reason}"),
                    is_error: false,
                };
                self.live = Live::Polling(reason);
            }
            LiveUpdate::Message(message) => match *message {
                LiveMessage::Event { trace_id, .. } => {
                    let listed = self
                        .traces
                        .iter()
                        .flat_map(|p| p.traces.iter())
                        .any(|t| t.trace_id == trace_id);
                    if !listed && !self.awaited.contains_key(&trace_id) {
                        self.awaited.insert(trace_id, 0);
                        self.live_refresh_due = true;
                    }
                }
                LiveMessage::Subscribed {} => {}
                LiveMessage::Finding { .. }
                | LiveMessage::TraceCompleted { .. }
                | LiveMessage::Lagged { .. } => self.live_refresh_due = true,
            },
        }
    }

    /// What to fetch after live messages (called a few times a second while streaming): the
    /// list and the open trace's races when a message asked, or while a trace seen live is not
    /// listed yet.
    pub fn live_refresh(&mut self) -> Vec<Fetch> {
        if !self.live_refresh_due && self.awaited.is_empty() {
            return Vec::new();
        }
        self.live_refresh_due = false;
        self.awaited.retain(|_, asked| {
            *asked += 1;
            *asked <= AWAIT_REFRESHES
        });
        self.refresh(false)
    }

    /// An answer arrived: a previous error no longer holds.
    fn clear_error(&mut self) {
        if self.status.is_error {
            self.status = Status::default();
        }
    }
}
