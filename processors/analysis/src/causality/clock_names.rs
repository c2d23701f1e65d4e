//! The component names of a trace's sent clocks, numbered once for every rule that reads them.
//!
//! # Rule
//!
//! The program order's one pass over the events numbers each sent clock's component names
//! (trace-wide, by first appearance in input order) and keeps every clock as (number, counter)
//! entries, as sent: order, zero counters and repeated names kept. The counter test of the
//! `actor_order` submodule and a trusted trace's clocks (`super::sent_clocks`) then compare and
//! group names by number.
//!
//! # Why
//!
//! Both compared the names as text: the counter test every component of an actor's clock with
//! the actor's previous clock, the trusted clocks each name with the previous clock's at its
//! place. On a trace of our SDK's clocks (one component per thread that ever reached the
//! actor) that was two string comparisons per component per event. A name is now compared with
//! the name at its place in the previous clock (in input order; an event usually lists the
//! components of the one before at the same places) and looked up only when they differ.
//! Numbers are not in the names' order: a rule that needs the order of names (the counter
//! test's check that a clock lists each name once) reads them through [`NumberedClocks::name`].

use foldhash::HashMap;

use crate::short_text::KeyedText;

/// Every event's sent clock with its component names numbered (see the module doc), by input
/// index.
#[derive(Debug)]
pub(crate) struct NumberedClocks<'a> {
    /// The names by number.
    names: Vec<&'a str>,
    /// Per input index: the event's (name number, counter) entries. A vector per event (none
    /// for an event without a clock) is what a trusted trace's clocks are built from, so they
    /// take these instead of allocating their own; one vector for all grew by reallocation
    /// through megabytes.
    clocks: Vec<Vec<(u32, u64)>>,
    /// Per input index: true when the event's clock lists the same names, in the same order,
    /// as the clock of the event before it in input order (so a reader that numbered that
    /// clock's names another way can reuse its numbers).
    repeats: Vec<bool>,
    /// The number of entries of the previous event's clock.
    previous_len: usize,
    /// True when some event lists a component.
    any: bool,
    /// True when some event lists a component with a zero counter.
    zeros: bool,
    numbers: HashMap<&'a str, u32>,
    /// The previous clock's names by place, each with its number and its comparison key.
    recent: Vec<Recent<'a>>,
}

/// A name of the previous clock, at its place: its number and the key that compares it with
/// the name at the same place of the next clock.
#[derive(Debug, Clone, Copy)]
struct Recent<'a> {
    key: KeyedText<'a>,
    number: u32,
}

impl<'a> NumberedClocks<'a> {
    /// No clock yet, room for `events` of them.
    pub(crate) fn with_capacity(events: usize) -> Self {
        NumberedClocks {
            names: Vec::new(),
            clocks: Vec::with_capacity(events),
            repeats: Vec::with_capacity(events),
            previous_len: 0,
            any: false,
            zeros: false,
            numbers: HashMap::default(),
            recent: Vec::new(),
        }
    }

    /// Numbers the next event's clock (events in input order, each once). The leading names
    /// that equal the previous clock's at their places (usually all of them) are counted first,
    /// each compared by its precomputed key; their entries are then copied in one sized pass
    /// with no lookup and no capacity test. The names after the first difference are compared
    /// one by one the same way, and looked up (out of line) where they differ. Notes whether the
    /// clock lists exactly the previous clock's names ([`NumberedClocks::repeats_previous`]).
    #[inline]
    pub(crate) fn push(&mut self, clock: &'a [(String, u64)]) {
        if clock.is_empty() {
            // No clock (every event of a derived trace): nothing to compare or allocate, and
            // no call (this part is inlined into the program order's pass).
            self.clocks.push(Vec::new());
            self.repeats.push(false);
            self.previous_len = 0;
            return;
        }
        self.push_entries(clock);
    }

    /// [`NumberedClocks::push`] of a clock with at least one entry.
    #[inline(never)]
    fn push_entries(&mut self, clock: &'a [(String, u64)]) {
        // Plain index loops over slices: the iterator adapters (zip, take_while) compiled to
        // about twice the instructions per entry.
        let recent = self.recent.as_slice();
        let comparable = clock.len().min(recent.len());
        let (mut same, mut zeros) = (0, false);
        while same < comparable && recent[same].key.matches(&clock[same].0) {
            zeros |= clock[same].1 == 0;
            same += 1;
        }
        let mut entries: Vec<(u32, u64)> = Vec::with_capacity(clock.len());
        let (known, rest) = clock.split_at(same);
        entries.extend(
            recent[..same]
                .iter()
                .zip(known)
                .map(|(recent, (_, counter))| (recent.number, *counter)),
        );
        for (place, (component, counter)) in (same..).zip(rest) {
            let number = match self.recent.get(place) {
                Some(recent) if recent.key.matches(component) => recent.number,
                _ => self.look_up(place, component),
            };
            zeros |= *counter == 0;
            entries.push((number, *counter));
        }
        self.repeats
            .push(same == clock.len() && clock.len() == self.previous_len);
        self.previous_len = clock.len();
        self.zeros |= zeros;
        self.any = true;
        self.clocks.push(entries);
    }

    /// The number of `component` by its text (a new number for a new name), remembered as the
    /// name at `place`.
    #[inline(never)]
    fn look_up(&mut self, place: usize, component: &'a str) -> u32 {
        let names = &mut self.names;
        let number = *self.numbers.entry(component).or_insert_with(|| {
            names.push(component);
            (names.len() - 1) as u32
        });
        let recent = Recent {
            key: KeyedText::of(component),
            number,
        };
        match self.recent.get_mut(place) {
            Some(slot) => *slot = recent,
            None => self.recent.push(recent),
        }
        number
    }

    /// The clock of input index `index`, as sent, its names numbered.
    pub(crate) fn of(&self, index: usize) -> &[(u32, u64)] {
        self.clocks.get(index).map_or(&[], Vec::as_slice)
    }

    /// Takes the clock of input index `index` (empty afterwards).
    pub(crate) fn take(&mut self, index: usize) -> Vec<(u32, u64)> {
        self.clocks
            .get_mut(index)
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// True when the clock of input index `index` lists the same names in the same order as
    /// that of `index - 1` (both non-empty).
    pub(crate) fn repeats_previous(&self, index: usize) -> bool {
        self.repeats.get(index).copied().unwrap_or(false)
    }

    /// The name numbered `number`.
    pub(crate) fn name(&self, number: u32) -> &'a str {
        self.names.get(number as usize).copied().unwrap_or_default()
    }

    /// Every name, by number.
    pub(crate) fn names(&self) -> &[&'a str] {
        &self.names
    }

    /// True when some event carries a clock with at least one component.
    pub(crate) fn any(&self) -> bool {
        self.any
    }

    /// True when some event lists a component with a zero counter.
    pub(crate) fn zeros(&self) -> bool {
        self.zeros
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Numbers name each distinct name once, whatever place it is met at, and every clock
    /// reads back as sent: random clocks over five names, with repeats, zeros and places that
    /// change between events.
    #[test]
    fn every_clock_reads_back_as_sent() {
        use rand::Rng;
        crate::testing::random_rounds(21, 200, |rng, _| {
            let names = ["a", "b", "c", "dd", "e#1/t"];
            let clocks: Vec<Vec<(String, u64)>> = (0..rng.gen_range(0..20))
                .map(|_| {
                    (0..rng.gen_range(0..6))
                        .map(|_| {
                            let name = names[rng.gen_range(0..names.len())];
                            (name.to_string(), rng.gen_range(0..4))
                        })
                        .collect()
                })
                .collect();
            let mut numbered = NumberedClocks::with_capacity(clocks.len());
            for clock in &clocks {
                numbered.push(clock);
            }
            for (index, clock) in clocks.iter().enumerate() {
                let read: Vec<(String, u64)> = numbered
                    .of(index)
                    .iter()
                    .map(|&(number, counter)| (numbered.name(number).to_string(), counter))
                    .collect();
                assert_eq!(&read, clock);
            }
            let mut distinct = numbered.names().to_vec();
            distinct.sort_unstable();
            distinct.dedup();
            assert_eq!(distinct.len(), numbered.names().len());
            assert_eq!(numbered.any(), clocks.iter().any(|c| !c.is_empty()));
            let zeros = clocks.iter().flatten().any(|&(_, counter)| counter == 0);
            assert_eq!(numbered.zeros(), zeros);
            assert!(numbered.of(clocks.len()).is_empty());
            for index in 0..clocks.len() {
                let names = |i: usize| clocks[i].iter().map(|(name, _)| name).collect::<Vec<_>>();
                let repeats =
                    index > 0 && !clocks[index].is_empty() && names(index) == names(index - 1);
                assert_eq!(
                    numbered.repeats_previous(index),
                    repeats,
                    "{clocks:?} at {index}"
                );
            }
        });
    }
}
