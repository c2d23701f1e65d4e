//! The clocks of `raceway.Access` and `raceway.UpdateSpan` records <-> [`CompactClock`].
//!
//! A record lists the component names its clocks use once (`clock_components`, sorted), and each
//! clock as (index, counter) entries: only the names the record's clocks use, so a record is
//! complete on its own and never carries the rest of its trace's table. Decoding shares tables:
//! [`NamesCache`] keeps the table of the previous record and reuses it when the next one lists
//! the same names (the accesses of one trace, or of one actor's trusted clocks, usually do), so
//! a decoded batch allocates each name once and the race detector recognises the table by its
//! pointer. Records of the first schema versions carry (name, counter) pairs instead.

use std::sync::Arc;

use apache_avro::types::Value;

use super::value::Fields;
#[cfg(test)]
use super::value::{field, string};
use crate::compact_clock::{CompactClock, ComponentIndex, ComponentNames};
use crate::error::SchemaError;
use crate::names::SharedNames;

/// Which form a record's clocks take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClockVersion {
    /// `clock` as an array of `{component: string, counter}` (the first schema versions).
    Pairs,
    /// `clock_components` then `clock` as `{component: int, counter}` indices.
    Indexed,
}

#[cfg(test)]
/// The names a record lists and each of its clocks as an array of `{component, counter}`
/// entries over them.
pub(crate) struct RecordTable {
    pub(crate) names: Value,
    pub(crate) clocks: Vec<Value>,
}

#[cfg(test)]
/// The record table of `clocks` as values: the names they use, sorted, and their entries
/// re-indexed (the direct writer's table, `race_write::record_table`).
#[cfg(test)]
pub(crate) fn record_table(clocks: &[&CompactClock]) -> Result<RecordTable, SchemaError> {
    let table = super::race_write::record_table(clocks)?;
    let entries = |clock: Vec<(i32, i64)>| {
        let entry = |(index, counter)| {
            Value::Record(vec![
                field("component", Value::Int(index)),
                field("counter", Value::Long(counter)),
            ])
        };
        Value::Array(clock.into_iter().map(entry).collect())
    };
    Ok(RecordTable {
        names: Value::Array(table.names.into_iter().map(string).collect()),
        clocks: table.entries.into_iter().map(entries).collect(),
    })
}

/// The table of the previous decoded record, shared with the next one when it lists the same
/// names (see the module doc), and the shared copies of the other names the decoded inputs
/// repeat (environments, variables, locations, actors, lock sets: see [`SharedNames`]).
#[derive(Debug, Default)]
pub(crate) struct NamesCache {
    last: Option<ComponentNames>,
    pub(crate) shared: SharedNames,
}

impl NamesCache {
    /// The access clock of record fields `f`: `clock_components` and `clock`, or the pairs of
    /// `clock` for [`ClockVersion::Pairs`].
    pub(crate) fn clock(
        &mut self,
        f: &mut Fields,
        version: ClockVersion,
    ) -> Result<CompactClock, SchemaError> {
        match version {
            ClockVersion::Pairs => Ok(CompactClock::from_pairs(f.clock("clock")?)),
            ClockVersion::Indexed => {
                let listed = f.strings("clock_components")?;
                let names = self.table(&listed.iter().map(String::as_str).collect::<Vec<_>>());
                indexed_clock(f, "clock", names)
            }
        }
    }

    /// The read clock of an update span's read record `f`, whose indices refer to the table of
    /// the span's write (`write`).
    pub(crate) fn read_clock(
        f: &mut Fields,
        version: ClockVersion,
        write: &CompactClock,
    ) -> Result<CompactClock, SchemaError> {
        match version {
            ClockVersion::Pairs => Ok(CompactClock::from_pairs(f.clock("clock")?)),
            ClockVersion::Indexed => indexed_clock(f, "clock", Arc::clone(write.names())),
        }
    }

    /// The table listing `names`: the previous record's when it lists the same.
    pub(crate) fn table(&mut self, names: &[&str]) -> ComponentNames {
        if let Some(last) = &self.last {
            if last.len() == names.len() && last.iter().zip(names).all(|(a, b)| **a == **b) {
                return Arc::clone(last);
            }
        }
        let table: ComponentNames = names.iter().map(|name| Arc::from(*name)).collect();
        self.last = Some(Arc::clone(&table));
        table
    }
}

/// The `{component: int, counter}` array field `name` over `names`.
fn indexed_clock(
    f: &mut Fields,
    name: &str,
    names: ComponentNames,
) -> Result<CompactClock, SchemaError> {
    let entry = |v: Value| -> Result<(ComponentIndex, u64), SchemaError> {
        let mut entry = Fields::of(v)?;
        let index = component_index(entry.int("component")?)?;
        Ok((index, entry.unsigned("counter")?))
    };
    let entries = f
        .array(name)?
        .into_iter()
        .enumerate()
        .map(|(i, v)| entry(v).map_err(|e| e.within(&format!("{name}[{i}]"))))
        .collect::<Result<Vec<_>, _>>()?;
    clock_over(names, entries, name)
}

/// A clock entry's `component`, an index into the record's `clock_components`.
pub(crate) fn component_index(index: i32) -> Result<ComponentIndex, SchemaError> {
    ComponentIndex::try_from(index)
        .map_err(|_| SchemaError::field("component", format!("negative index {index}")))
}

/// The clock of field `name`: its decoded `entries` over `names`, or why they do not fit.
pub(crate) fn clock_over(
    names: ComponentNames,
    entries: Vec<(ComponentIndex, u64)>,
    name: &str,
) -> Result<CompactClock, SchemaError> {
    CompactClock::from_indices(names, entries).ok_or_else(|| {
        SchemaError::field(
            name,
            "a component index is outside clock_components, or clock_components is not sorted \
             without duplicates",
        )
    })
}
