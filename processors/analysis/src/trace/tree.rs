//! The tree of one trace (`GET /api/traces/{id}/tree`): every event once, under the event it
//! hangs by (parent link, remote call, spawn, message or program order: see the `links` module),
//! with the timing rules of [`crate::trace::durations`].
//!
//! Orphans are never dropped: events whose `parent_id` names an event the trace does not hold sit
//! under a [`Placeholder::MissingParent`] node carrying that missing id, and events whose parent
//! links form a cycle (only inconsistent input can) are cut out of the cycle at their earliest
//! event (by timestamp, id), which goes under one [`Placeholder::ParentCycle`] node.
//!
//! The tree is stored flat, nodes in pre-order with child indices, rather than as nested
//! values: parent links chain an actor's events, so depth grows with the trace, and nested
//! values that deep would overflow the stack when serialised or dropped.

use std::borrow::Cow;
use std::sync::Arc;

use foldhash::HashMap;
use raceway_schemas::{Event, EventKind};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::durations::{timings, TimingInput};
use super::links::{Attachment, EventIndex, LinkKind};
use super::{is_error_event, location_parts, LocationParts};

/// The tree of one trace, nodes in pre-order (a parent before its children, children in time
/// order), so a reverse pass over `nodes` visits children before parents.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TraceTree {
    /// The trace (nil for an empty tree).
    pub trace_id: Uuid,
    /// Wall-clock start of the trace: earliest node start, ns since the epoch.
    pub start_ns: i64,
    /// Wall-clock end of the trace: latest node end, ns since the epoch.
    pub end_ns: i64,
    /// Every node: one per event, plus the placeholders.
    pub nodes: Vec<TreeNode>,
    /// Indices of the top-level nodes, in time order.
    pub roots: Vec<usize>,
}

/// Why a node stands in for an event the trace does not hold.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Placeholder {
    /// Its children's `parent_id` is this node's id, an event not (yet) received.
    MissingParent,
    /// Its children were cut out of a cycle of parent links.
    ParentCycle,
}

/// One node of the tree: an event, or a placeholder. Names every node of an actor repeats
/// (service, thread, location) are shared, not copied per node; the kind is one of the static
/// kind names, which a node borrows without a reference count to update (an owned name only
/// after deserialising).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeNode {
    /// The event's id; for a missing parent, the missing id; nil for the cycle placeholder.
    pub id: Uuid,
    /// The event kind's name, or `MissingParent` / `ParentCycle`.
    pub kind: Cow<'static, str>,
    /// Set for placeholders.
    pub placeholder: Option<Placeholder>,
    /// The event's service (empty for placeholders).
    pub service: Arc<str>,
    /// See [`crate::trace::event_location`].
    pub location: Arc<str>,
    /// The event's thread or task.
    pub thread: Arc<str>,
    /// Start, ns since the epoch.
    pub start_ns: i64,
    /// Inclusive duration.
    pub duration_ns: u64,
    /// Duration minus the union of the children's intervals.
    pub self_time_ns: u64,
    /// True when the SDK measured the duration, false when it was derived from timestamps.
    pub duration_measured: bool,
    /// True for an `Error` event or a 5xx HTTP response.
    pub error: bool,
    /// Number of ancestors.
    pub depth: u32,
    /// How the node hangs under its parent; `None` for top-level nodes.
    pub link: Option<LinkKind>,
    /// The parent's index in [`TraceTree::nodes`].
    pub parent: Option<usize>,
    /// The children's indices, in time order.
    pub children: Vec<usize>,
    /// Index of the event in the slice the tree was built from (`None` for placeholders and
    /// after deserialising: it only links a fresh tree back to its events).
    #[serde(skip)]
    pub event_index: Option<usize>,
}

impl TraceTree {
    /// Wall-clock duration of the trace.
    pub fn wall_clock_ns(&self) -> u64 {
        u64::try_from(i128::from(self.end_ns) - i128::from(self.start_ns)).unwrap_or(0)
    }

    /// Depth of the deepest node.
    pub fn max_depth(&self) -> u32 {
        self.nodes.iter().map(|n| n.depth).max().unwrap_or(0)
    }

    /// The nodes that stand for events (not placeholders).
    pub fn event_nodes(&self) -> impl Iterator<Item = &TreeNode> + '_ {
        self.nodes.iter().filter(|n| n.placeholder.is_none())
    }
}

/// Builds the tree of one trace from its events, given in any order. Never panics, whatever the
/// links say; O(n log n).
pub fn trace_tree(events: &[Event]) -> TraceTree {
    tree_with(events, &EventIndex::new(events))
}

/// What a node stands for while the tree is being built.
#[derive(Clone, Copy)]
enum Source {
    Event(usize),
    Missing(Uuid),
    Cycle,
}

/// A parent (node or event index) and how the child hangs under it.
type ParentLink = (usize, LinkKind);

/// What the numbering stack holds: an event, or a top-level entry by index.
#[derive(Clone, Copy)]
enum Pending {
    Event(usize),
    Top(usize),
}

/// A top-level entry: the source and the events hanging directly under it (for placeholders).
struct Top {
    first_position: usize,
    source: Source,
    kids: Vec<usize>,
}

/// [`trace_tree`] over an index the caller already built.
pub(crate) fn tree_with(events: &[Event], index: &EventIndex<'_>) -> TraceTree {
    let attachments = index.attachments();
    let mut parent_of: Vec<Option<(usize, LinkKind)>> = attachments
        .iter()
        .map(|a| match *a {
            Attachment::Linked { parent, kind } => Some((parent, kind)),
            _ => None,
        })
        .collect();
    let cut = break_parent_cycles(index, &mut parent_of);

    let mut edges: Vec<(usize, usize)> = Vec::with_capacity(events.len());
    let mut missing: HashMap<Uuid, Top> = HashMap::default();
    let mut tops: Vec<Top> = Vec::new();
    let mut cycle = Vec::new();
    for (position, &i) in index.order.iter().enumerate() {
        match (parent_of[i], attachments[i]) {
            (Some((parent, _)), _) => edges.push((parent, i)),
            _ if cut[i] => cycle.push(i),
            (None, Attachment::MissingParent(id)) => {
                let top = missing.entry(id).or_insert_with(|| Top {
                    first_position: position,
                    source: Source::Missing(id),
                    kids: Vec::new(),
                });
                top.kids.push(i);
            }
            (None, _) => tops.push(Top {
                first_position: position,
                source: Source::Event(i),
                kids: Vec::new(),
            }),
        }
    }
    let children = ChildLists::new(events.len(), &edges);
    tops.extend(missing.into_values());
    if let Some(&first) = cycle.first() {
        tops.push(Top {
            first_position: index.position[first],
            source: Source::Cycle,
            kids: cycle,
        });
    }
    tops.sort_by_key(|top| top.first_position);

    // Pre-order numbering with an explicit stack of (what, parent node and link, depth), where
    // `what` is an event or a top-level entry (which carries its placeholder's children).
    let capacity = events.len() + tops.len();
    let mut sources: Vec<Source> = Vec::with_capacity(capacity);
    let mut node_parent: Vec<Option<ParentLink>> = Vec::with_capacity(capacity);
    let mut depths: Vec<u32> = Vec::with_capacity(capacity);
    let mut node_children: Vec<Vec<usize>> = Vec::with_capacity(capacity);
    let mut roots = Vec::with_capacity(tops.len());
    let mut stack: Vec<(Pending, Option<ParentLink>, u32)> = (0..tops.len())
        .rev()
        .map(|t| (Pending::Top(t), None, 0))
        .collect();
    while let Some((pending, parent, depth)) = stack.pop() {
        let node = sources.len();
        let (source, kids, link): (Source, &[usize], LinkKind) = match pending {
            Pending::Event(i) => (Source::Event(i), children.of(i), LinkKind::Parent),
            Pending::Top(t) => match tops[t].source {
                Source::Event(i) => (Source::Event(i), children.of(i), LinkKind::Parent),
                placeholder => (placeholder, &tops[t].kids, LinkKind::Placeholder),
            },
        };
        sources.push(source);
        node_parent.push(parent);
        depths.push(depth);
        // Every kid becomes a child of this node: one allocation of the right size.
        node_children.push(Vec::with_capacity(kids.len()));
        match parent {
            Some((p, _)) => node_children[p].push(node),
            None => roots.push(node),
        }
        for &kid in kids.iter().rev() {
            let kid_link = parent_of[kid].map_or(link, |(_, kind)| kind);
            stack.push((Pending::Event(kid), Some((node, kid_link)), depth + 1));
        }
    }

    let inputs: Vec<TimingInput> = sources
        .iter()
        .map(|source| match *source {
            Source::Event(i) => TimingInput {
                start_ns: index.effective_ns[i],
                measured_ns: events[i].metadata.duration_ns,
                actor_next_ns: index.next_in_actor(i).map(|next| index.effective_ns[next]),
                placeholder: false,
            },
            Source::Missing(_) | Source::Cycle => TimingInput {
                placeholder: true,
                ..TimingInput::default()
            },
        })
        .collect();
    let times = timings(&inputs, &node_children);

    let mut names = Names::new(index);
    let mut nodes: Vec<TreeNode> = Vec::with_capacity(sources.len());
    for (node, (source, kids)) in sources.iter().zip(node_children).enumerate() {
        let timing = times[node];
        // Each node takes its own names at once: a shared name is a reference count, and a
        // placeholder name replaced afterwards cost two more atomic updates per name.
        let (id, kind, placeholder, service, location, thread) = match *source {
            Source::Event(i) => {
                let event = &events[i];
                let actor = index.actor[i];
                let (service, thread) = names.actor(events, actor, i);
                (
                    event.id,
                    Cow::Borrowed(event.kind.name()),
                    None,
                    service,
                    names.location(actor, event),
                    thread,
                )
            }
            Source::Missing(id) => (
                id,
                Cow::Borrowed("MissingParent"),
                Some(Placeholder::MissingParent),
                Arc::clone(&names.empty),
                Arc::clone(&names.empty),
                Arc::clone(&names.empty),
            ),
            Source::Cycle => (
                Uuid::nil(),
                Cow::Borrowed("ParentCycle"),
                Some(Placeholder::ParentCycle),
                Arc::clone(&names.empty),
                Arc::clone(&names.empty),
                Arc::clone(&names.empty),
            ),
        };
        let event = match *source {
            Source::Event(i) => Some((i, &events[i])),
            _ => None,
        };
        nodes.push(TreeNode {
            id,
            kind,
            placeholder,
            service,
            location,
            thread,
            start_ns: timing.start_ns,
            duration_ns: timing.duration_ns(),
            self_time_ns: timing.self_ns,
            // From the timing input, which read it: not the event's cache line again.
            duration_measured: inputs[node].measured_ns.is_some(),
            error: event.is_some_and(|(_, e)| is_error_event(e)),
            depth: depths[node],
            link: node_parent[node].map(|(_, link)| link),
            parent: node_parent[node].map(|(parent, _)| parent),
            children: kids,
            event_index: event.map(|(i, _)| i),
        });
    }

    // From the timings, which every node's start was taken from: not a pass over the nodes.
    let start_ns = times.iter().map(|t| t.start_ns).min().unwrap_or(0);
    let end_ns = times.iter().map(|t| t.end_ns).max().unwrap_or(0);
    TraceTree {
        trace_id: index
            .order
            .first()
            .map_or(Uuid::nil(), |&i| events[i].trace_id),
        start_ns,
        end_ns,
        nodes,
        roots,
    }
}

/// Shared copies of the names nodes repeat: one per service, thread and location, not one per
/// node. Actors of one service share its name, so a comparison of two nodes' services
/// (the service calls, the duration baselines' groups) usually ends at the pointers.
struct Names<'a> {
    empty: Arc<str>,
    actors: Vec<Option<(Arc<str>, Arc<str>)>>,
    /// The services named so far, looked up when an actor is first met.
    services: HashMap<&'a str, Arc<str>>,
    locations: HashMap<LocationParts<'a>, Arc<str>>,
    /// Per actor and kind slot, the last two locations given, the latest first: an actor's
    /// steps of one kind mostly repeat their location or alternate between two (a read here, a
    /// write there), and comparing the parts is cheaper than hashing them.
    last_locations: Vec<[Option<Recent<'a>>; 2]>,
}

/// A location given lately: its parts and its shared copy.
type Recent<'a> = (LocationParts<'a>, Arc<str>);

impl<'a> Names<'a> {
    fn new(index: &EventIndex<'_>) -> Self {
        Names {
            empty: Arc::from(""),
            actors: vec![None; index.actor_count()],
            services: HashMap::default(),
            locations: HashMap::default(),
            last_locations: vec![[None, None]; index.actor_count() * KIND_SLOTS],
        }
    }

    /// The shared location of `event`, whose actor is `actor`.
    fn location(&mut self, actor: usize, event: &'a Event) -> Arc<str> {
        let parts = location_parts(event);
        let slot = actor
            .checked_mul(KIND_SLOTS)
            .and_then(|first| first.checked_add(event.kind.index()))
            .and_then(|slot| self.last_locations.get_mut(slot));
        if let Some(recent) = slot.as_deref() {
            for (last, shared) in recent.iter().flatten() {
                if *last == parts {
                    return Arc::clone(shared);
                }
            }
        }
        let shared = Arc::clone(
            self.locations
                .entry(parts)
                .or_insert_with(|| Arc::from(parts.to_text())),
        );
        if let Some(recent) = slot {
            recent[1] = recent[0].take();
            recent[0] = Some((parts, Arc::clone(&shared)));
        }
        shared
    }

    /// (service, thread) of `actor`, whose event `i` is.
    fn actor(&mut self, events: &'a [Event], actor: usize, i: usize) -> (Arc<str>, Arc<str>) {
        let metadata = &events[i].metadata;
        if let Some(Some((service, thread))) = self.actors.get(actor) {
            return (Arc::clone(service), Arc::clone(thread));
        }
        let name = metadata.service_name.as_str();
        let service = Arc::clone(self.services.entry(name).or_insert_with(|| Arc::from(name)));
        let thread: Arc<str> = Arc::from(metadata.thread_id.as_str());
        if let Some(slot) = self.actors.get_mut(actor) {
            *slot = Some((Arc::clone(&service), Arc::clone(&thread)));
        }
        (service, thread)
    }
}

/// Slots per actor of [`Names::last_locations`]: one per event kind ([`EventKind::index`]).
const KIND_SLOTS: usize = EventKind::NAMES.len();

/// The children of every event in one buffer (compressed rows), in the order the edges were
/// given: one allocation instead of one per event.
struct ChildLists {
    start: Vec<usize>,
    items: Vec<usize>,
}

impl ChildLists {
    /// Lists for events `0..n` from (parent, child) edges.
    fn new(n: usize, edges: &[(usize, usize)]) -> Self {
        let mut start = vec![0usize; n + 1];
        for &(parent, _) in edges {
            start[parent + 1] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut items = vec![0usize; edges.len()];
        for &(parent, child) in edges {
            items[fill[parent]] = child;
            fill[parent] += 1;
        }
        ChildLists { start, items }
    }

    fn of(&self, parent: usize) -> &[usize] {
        &self.items[self.start[parent]..self.start[parent + 1]]
    }
}

/// Cuts every cycle of `parent_of` at its earliest member (smallest position), which loses its
/// parent; returns which events were cut. Parent links form a functional graph, so one walk up
/// from each unvisited event finds each cycle once: O(n).
fn break_parent_cycles(
    index: &EventIndex<'_>,
    parent_of: &mut [Option<(usize, LinkKind)>],
) -> Vec<bool> {
    const UNSEEN: u8 = 0;
    const ON_WALK: u8 = 1;
    const DONE: u8 = 2;
    let mut state = vec![UNSEEN; parent_of.len()];
    let mut walk_slot = vec![0usize; parent_of.len()];
    let mut cut = vec![false; parent_of.len()];
    let mut walk: Vec<usize> = Vec::new();
    for &start in &index.order {
        walk.clear();
        let mut current = Some(start);
        while let Some(v) = current {
            match state[v] {
                DONE => break,
                ON_WALK => {
                    let members = &walk[walk_slot[v]..];
                    if let Some(&earliest) = members.iter().min_by_key(|&&m| index.position[m]) {
                        parent_of[earliest] = None;
                        cut[earliest] = true;
                    }
                    break;
                }
                _ => {
                    state[v] = ON_WALK;
                    walk_slot[v] = walk.len();
                    walk.push(v);
                    current = parent_of[v].map(|(parent, _)| parent);
                }
            }
        }
        for &v in &walk {
            state[v] = DONE;
        }
    }
    cut
}

#[cfg(test)]
#[path = "tree_tests.rs"]
mod tests;
