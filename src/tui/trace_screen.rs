//! The state of one open trace: its views (switched with Tab), the data each shows, and the
//! cursor of each. Pure, like [`super::app`].

use std::collections::HashSet;

use ratatui::crossterm::event::KeyCode;

use super::fetch::{Fetch, Loaded};
use crate::client::models::{
    AnomalyRow, CriticalPathBody, RaceFinding, StepRow, TraceAuditTrail, TraceDependencyRow,
    TraceStateBody, Tree, TreeNode,
};

/// The views of a trace, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tab {
    #[default]
    Tree,
    CriticalPath,
    Races,
    Anomalies,
    Dependencies,
    Variables,
    TimeTravel,
}

impl Tab {
    /// Every view, in Tab order.
    pub const ALL: [Tab; 7] = [
        Tab::Tree,
        Tab::CriticalPath,
        Tab::Races,
        Tab::Anomalies,
        Tab::Dependencies,
        Tab::Variables,
        Tab::TimeTravel,
    ];

    /// The view's name on its tab.
    pub fn title(self) -> &'static str {
        match self {
            Tab::Tree => "Tree",
            Tab::CriticalPath => "Critical path",
            Tab::Races => "Races",
            Tab::Anomalies => "Anomalies",
            Tab::Dependencies => "Dependencies",
            Tab::Variables => "Variables",
            Tab::TimeTravel => "Time travel",
        }
    }

    fn index(self) -> usize {
        Tab::ALL.iter().position(|&t| t == self).unwrap_or(0)
    }

    fn shifted(self, by: usize) -> Tab {
        Tab::ALL[(self.index() + by) % Tab::ALL.len()]
    }
}

/// One visible line of the tree.
#[derive(Debug, Clone, Copy)]
pub struct TreeRow<'a> {
    pub node: &'a TreeNode,
    pub depth: usize,
    pub expanded: bool,
}

/// The open trace.
#[derive(Debug, Default)]
pub struct TraceScreen {
    pub trace_id: String,
    pub tab: Tab,
    /// The selected row of each view, by [`Tab::ALL`] index.
    pub cursors: [usize; 7],
    pub tree: Option<Tree>,
    /// Tree nodes whose children are hidden.
    pub collapsed: HashSet<String>,
    pub critical_path: Option<CriticalPathBody>,
    pub races: Option<Vec<RaceFinding>>,
    /// `Some(None)`: the trace was not analysed yet.
    pub anomalies: Option<Option<Vec<AnomalyRow>>>,
    /// The trace's service edges, each flagged when never seen before the trace.
    pub dependencies: Option<Vec<TraceDependencyRow>>,
    pub steps: Option<Vec<StepRow>>,
    /// The variables the trace touched (those of the state after its last step).
    pub variables: Option<Vec<String>>,
    /// The variable shown in the inspector and its audit trail.
    pub audit: Option<(String, Option<TraceAuditTrail>)>,
    /// The time-travel position and the state there (`None` while loading).
    pub step: usize,
    pub state: Option<TraceStateBody>,
}

impl TraceScreen {
    /// The screen of trace `id` and what to load for it.
    pub fn open(id: &str) -> (TraceScreen, Vec<Fetch>) {
        let screen = TraceScreen {
            trace_id: id.to_string(),
            ..TraceScreen::default()
        };
        let fetches = screen.open_fetches();
        (screen, fetches)
    }

    /// Everything the views need.
    pub fn open_fetches(&self) -> Vec<Fetch> {
        let id = self.trace_id.clone();
        let mut fetches = vec![
            Fetch::Tree(id.clone()),
            Fetch::CriticalPath(id.clone()),
            Fetch::Races(id.clone()),
            Fetch::Anomalies(id.clone()),
            Fetch::Dependencies(id.clone()),
            Fetch::Steps(id.clone()),
        ];
        if let Some((variable, _)) = &self.audit {
            fetches.push(Fetch::Audit(id, variable.clone()));
        }
        fetches
    }

    /// The cursor of the current view.
    pub fn cursor(&self) -> usize {
        self.cursors[self.tab.index()]
    }

    /// The tree's visible rows, parents before children.
    pub fn tree_rows(&self) -> Vec<TreeRow<'_>> {
        let mut rows = Vec::new();
        let Some(tree) = &self.tree else {
            return rows;
        };
        let mut stack: Vec<(&TreeNode, usize)> = tree.roots.iter().rev().map(|n| (n, 0)).collect();
        while let Some((node, depth)) = stack.pop() {
            let expanded = !self.collapsed.contains(&node.id);
            rows.push(TreeRow {
                node,
                depth,
                expanded,
            });
            if expanded {
                stack.extend(node.children.iter().rev().map(|c| (c, depth + 1)));
            }
        }
        rows
    }

    /// Rows of the current view, for the cursor's bounds.
    fn row_count(&self) -> usize {
        match self.tab {
            Tab::Tree => self.tree_rows().len(),
            Tab::CriticalPath => self.critical_path.as_ref().map_or(0, |p| p.path.len()),
            Tab::Races => self.races.as_ref().map_or(0, Vec::len),
            Tab::Anomalies => self.anomalies.iter().flatten().flatten().count(),
            Tab::Dependencies => self.dependencies.as_ref().map_or(0, Vec::len),
            Tab::Variables => self.variables.as_ref().map_or(0, Vec::len),
            Tab::TimeTravel => self.steps.as_ref().map_or(0, Vec::len),
        }
    }

    fn move_cursor(&mut self, down: bool) {
        let rows = self.row_count();
        let cursor = &mut self.cursors[self.tab.index()];
        *cursor = if down {
            (*cursor + 1).min(rows.saturating_sub(1))
        } else {
            cursor.saturating_sub(1)
        };
    }

    /// Applies a key of the trace screen; returns what to fetch.
    pub fn on_key(&mut self, code: KeyCode) -> Vec<Fetch> {
        if self.tab == Tab::TimeTravel
            && matches!(code, KeyCode::Char('j' | 'k') | KeyCode::Down | KeyCode::Up)
        {
            // The timeline has no list to move in: j/k step like → and ←.
            let forward = matches!(code, KeyCode::Char('j') | KeyCode::Down);
            return self.on_time_travel_key(if forward {
                KeyCode::Right
            } else {
                KeyCode::Left
            });
        }
        match code {
            KeyCode::Tab => self.tab = self.tab.shifted(1),
            KeyCode::BackTab => self.tab = self.tab.shifted(Tab::ALL.len() - 1),
            KeyCode::Char('j') | KeyCode::Down => self.move_cursor(true),
            KeyCode::Char('k') | KeyCode::Up => self.move_cursor(false),
            _ => {
                return match self.tab {
                    Tab::Tree => self.on_tree_key(code),
                    Tab::Variables if code == KeyCode::Enter => self.inspect_selected(),
                    Tab::TimeTravel => self.on_time_travel_key(code),
                    _ => Vec::new(),
                }
            }
        }
        Vec::new()
    }

    fn on_tree_key(&mut self, code: KeyCode) -> Vec<Fetch> {
        let Some(id) = self
            .tree_rows()
            .get(self.cursor())
            .map(|row| row.node.id.clone())
        else {
            return Vec::new();
        };
        match code {
            KeyCode::Right => {
                self.collapsed.remove(&id);
            }
            KeyCode::Left => {
                self.collapsed.insert(id);
            }
            KeyCode::Enter if !self.collapsed.remove(&id) => {
                self.collapsed.insert(id);
            }
            _ => {}
        }
        Vec::new()
    }

    fn inspect_selected(&mut self) -> Vec<Fetch> {
        let Some(name) = self
            .variables
            .as_ref()
            .and_then(|v| v.get(self.cursor()))
            .cloned()
        else {
            return Vec::new();
        };
        self.audit = Some((name.clone(), None));
        vec![Fetch::Audit(self.trace_id.clone(), name)]
    }

    fn on_time_travel_key(&mut self, code: KeyCode) -> Vec<Fetch> {
        let last = self.steps.as_ref().map_or(0, |s| s.len().saturating_sub(1));
        let step = match code {
            KeyCode::Left | KeyCode::Char('[') => self.step.saturating_sub(1),
            KeyCode::Right | KeyCode::Char(']') => (self.step + 1).min(last),
            KeyCode::Home => 0,
            KeyCode::End => last,
            _ => return Vec::new(),
        };
        self.travel_to(step)
    }

    /// Moves time travel to `step` and fetches the state there.
    fn travel_to(&mut self, step: usize) -> Vec<Fetch> {
        if self.steps.as_ref().is_none_or(|s| step >= s.len()) {
            return Vec::new();
        }
        self.step = step;
        self.cursors[Tab::TimeTravel.index()] = step;
        if self.state.as_ref().is_some_and(|s| s.step == step) {
            return Vec::new();
        }
        vec![Fetch::State(self.trace_id.clone(), step)]
    }

    /// Jumps to a step given as its index or (a prefix of) its event id.
    pub fn go_to(&mut self, target: &str) -> Result<Vec<Fetch>, String> {
        let steps = self.steps.as_deref().unwrap_or_default();
        let found = match target.parse::<usize>() {
            Ok(index) if index < steps.len() => Some(index),
            _ if target.len() >= 4 => steps.iter().position(|s| s.event_id.starts_with(target)),
            _ => None,
        };
        match found {
            Some(step) => Ok(self.travel_to(step)),
            None => Err(format!(
                "no step or event {target:?}: give 0 to {} or an event id",
                steps.len().saturating_sub(1)
            )),
        }
    }

    /// Applies an answer about this trace (answers about another trace are dropped).
    pub fn on_loaded(&mut self, loaded: Loaded) -> Vec<Fetch> {
        let id = self.trace_id.clone();
        match loaded {
            Loaded::Tree(of, tree) if of == id => self.tree = Some(tree),
            Loaded::CriticalPath(of, path) if of == id => self.critical_path = Some(path),
            Loaded::Races(of, mut races) if of == id => {
                // Worst first, then a stable order whatever order the store answers in.
                let key = |r: &RaceFinding| {
                    let sides = (r.first.location.clone(), r.second.location.clone());
                    (
                        std::cmp::Reverse(r.severity),
                        r.kind,
                        r.variable.clone(),
                        sides,
                    )
                };
                races.sort_by_cached_key(key);
                self.races = Some(races);
            }
            Loaded::Anomalies(of, found) if of == id => {
                self.anomalies = Some(found.map(|a| a.anomalies));
            }
            Loaded::Dependencies(of, edges) if of == id => self.dependencies = Some(edges),
            Loaded::Steps(of, steps) if of == id => {
                let count = steps.len();
                self.steps = Some(steps);
                self.step = self.step.min(count.saturating_sub(1));
                if count == 0 {
                    return Vec::new();
                }
                return vec![
                    Fetch::State(id.clone(), self.step),
                    Fetch::FinalState(id, count - 1),
                ];
            }
            Loaded::State(of, state) if of == id && state.step == self.step => {
                self.state = Some(state);
            }
            Loaded::FinalState(of, state) if of == id => {
                let names: Vec<String> = state.variables.keys().cloned().collect();
                let first = names.first().cloned();
                self.variables = Some(names);
                if self.audit.is_none() {
                    if let Some(name) = first {
                        self.audit = Some((name.clone(), None));
                        return vec![Fetch::Audit(id, name)];
                    }
                }
            }
            Loaded::Audit(of, variable, trail)
                if of == id && self.audit.as_ref().is_some_and(|(v, _)| *v == variable) =>
            {
                self.audit = Some((variable, Some(trail)));
            }
            _ => {}
        }
        Vec::new()
    }

    /// True when a tree node is on the critical path.
    pub fn on_critical_path(&self, event_id: &str) -> bool {
        self.critical_path
            .as_ref()
            .is_some_and(|p| p.path.iter().any(|s| s.event_id == event_id))
    }
}
