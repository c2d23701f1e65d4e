//! Short texts (names of components, variables, locations, lock ids) compared and looked up by
//! their bytes read as integers.
//!
//! # Rule
//!
//! A text of at most 16 bytes is identified exactly by its length and two integers
//! ([`ShortKey`]): its first and last eight bytes (8 to 16 bytes), its first and last four (4 to
//! 7), or its first, middle and last byte (1 to 3); the two reads overlap and together cover
//! every byte, so two texts of the same length are equal exactly when their keys are. Longer
//! texts have no key and are compared as bytes.
//!
//! # Why
//!
//! The race inputs compare and look up the same few names once per event: a component name
//! with the previous clock's, a lock id and lock type with the held ones, a location or variable
//! with the trace's table. As text that was a call per comparison (`memcmp`) and a hash of the
//! bytes per lookup; a key is a few loads and integer comparisons, and a lookup of a recent
//! name ([`RecentNames`]) one multiplication and one slot.

use std::sync::Arc;

use raceway_schemas::SharedNames;

/// The exact key of a text of at most 16 bytes (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ShortKey {
    len: usize,
    head: u64,
    tail: u64,
}

impl ShortKey {
    /// The key of `text`, `None` when it is longer than 16 bytes.
    #[inline]
    pub(crate) fn of(text: &str) -> Option<ShortKey> {
        let bytes = text.as_bytes();
        let len = bytes.len();
        if len > 16 {
            return None;
        }
        let (head, tail) = if let Some(ends) = ends8(bytes) {
            ends
        } else if let Some((head, tail)) = ends4(bytes) {
            (u64::from(head), u64::from(tail))
        } else {
            match (bytes.first(), bytes.get(len / 2), bytes.last()) {
                (Some(&first), Some(&middle), Some(&last)) => (
                    u64::from(first) | u64::from(middle) << 8 | u64::from(last) << 16,
                    0,
                ),
                _ => (0, 0),
            }
        };
        Some(ShortKey { len, head, tail })
    }

    /// True when `text` is the text this key was made of. A text of 8 to 16 bytes (a component
    /// name such as `"service#1/t07"` usually is) costs two loads and two comparisons.
    #[inline]
    pub(crate) fn matches(&self, text: &str) -> bool {
        let bytes = text.as_bytes();
        if bytes.len() != self.len {
            return false;
        }
        match ends8(bytes) {
            Some((head, tail)) => head == self.head && tail == self.tail,
            None => ShortKey::of(text) == Some(*self),
        }
    }

    /// A slot among `1 << bits`, from every bit of the key.
    #[inline]
    fn slot(&self, bits: u32) -> usize {
        let mixed = (self.head ^ self.tail.rotate_left(29) ^ self.len as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (mixed >> (64 - bits)) as usize
    }
}

/// `a == b`, compared as integers (no call) when they have 4 to 16 bytes.
#[inline]
pub(crate) fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    if a.len() <= 16 {
        if let (Some(a), Some(b)) = (ends8(a), ends8(b)) {
            return a == b;
        }
        if let (Some(a), Some(b)) = (ends4(a), ends4(b)) {
            return a == b;
        }
    }
    a == b
}

/// The first and last eight bytes of `bytes` as integers, if it has at least eight.
#[inline]
fn ends8(bytes: &[u8]) -> Option<(u64, u64)> {
    let (head, _) = bytes.split_first_chunk::<8>()?;
    let (_, tail) = bytes.split_last_chunk::<8>()?;
    Some((u64::from_ne_bytes(*head), u64::from_ne_bytes(*tail)))
}

/// The first and last four bytes of `bytes` as integers, if it has at least four.
#[inline]
fn ends4(bytes: &[u8]) -> Option<(u32, u32)> {
    let (head, _) = bytes.split_first_chunk::<4>()?;
    let (_, tail) = bytes.split_last_chunk::<4>()?;
    Some((u32::from_ne_bytes(*head), u32::from_ne_bytes(*tail)))
}

/// A text and its key, for comparing many texts with it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyedText<'a> {
    text: &'a str,
    key: Option<ShortKey>,
}

impl<'a> KeyedText<'a> {
    pub(crate) fn of(text: &'a str) -> Self {
        KeyedText {
            text,
            key: ShortKey::of(text),
        }
    }

    /// True when `other` is this text.
    #[inline]
    pub(crate) fn matches(&self, other: &str) -> bool {
        match self.key {
            Some(key) => key.matches(other),
            None => other == self.text,
        }
    }
}

/// The shared copies of the short names looked up last, in front of a [`SharedNames`] table:
/// one slot per key (64 of them, allocated at the first name), replaced on a miss. A name found
/// in its slot is the table's copy, taken without hashing its text; a long name or a miss goes
/// to the table.
#[derive(Debug, Default)]
pub(crate) struct RecentNames {
    slots: Vec<Option<(ShortKey, Arc<str>)>>,
}

impl RecentNames {
    const BITS: u32 = 6;

    /// The shared copy of `text`, as `names` gives it.
    #[inline]
    pub(crate) fn name(&mut self, names: &mut SharedNames, text: &str) -> Arc<str> {
        let Some(key) = ShortKey::of(text) else {
            return names.name(text);
        };
        if self.slots.is_empty() {
            self.slots = vec![None; 1 << Self::BITS];
        }
        match self.slots.get_mut(key.slot(Self::BITS)) {
            Some(Some((slot_key, shared))) if *slot_key == key => Arc::clone(shared),
            Some(slot) => {
                let shared = names.name(text);
                *slot = Some((key, Arc::clone(&shared)));
                shared
            }
            None => names.name(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXTS: [&str; 24] = [
        "",
        "a",
        "b",
        "ab",
        "ba",
        "abc",
        "axc",
        "abd",
        "abcd",
        "abce",
        "abcdefg",
        "abcxefg",
        "abcdefgh",
        "abcdefgi",
        "bbcdefgh",
        "abcdefghijklmnop",
        "abcdefghijklmnoq",
        "xbcdefghijklmnop",
        "abcdefgXijklmnop",
        "abcdefghijklmnopq",
        "abcdefghijklmnopr",
        "bench#1/t07",
        "bench#1/t08",
        "bench#2/t07",
    ];

    #[test]
    fn texts_match_exactly_when_equal() {
        for a in TEXTS {
            assert_eq!(ShortKey::of(a).is_some(), a.len() <= 16, "{a:?}");
            for b in TEXTS {
                assert_eq!(same(a, b), a == b, "{a:?} {b:?}");
                assert_eq!(KeyedText::of(a).matches(b), a == b, "{a:?} {b:?}");
                if let (Some(ka), Some(kb)) = (ShortKey::of(a), ShortKey::of(b)) {
                    assert_eq!(ka == kb, a == b, "{a:?} {b:?}");
                }
            }
        }
    }

    /// Every text of one to three bytes over a small alphabet (where the key reads single
    /// bytes) has its own key.
    #[test]
    fn the_shortest_texts_have_distinct_keys() {
        let alphabet = ["a", "b", "c"];
        let mut texts: Vec<String> = vec![String::new()];
        for _ in 0..3 {
            let longer: Vec<String> = texts
                .iter()
                .flat_map(|t| alphabet.iter().map(move |c| format!("{t}{c}")))
                .collect();
            texts.extend(longer);
        }
        texts.sort();
        texts.dedup();
        assert_eq!(texts.len(), 1 + 3 + 9 + 27);
        for a in &texts {
            for b in &texts {
                assert_eq!(ShortKey::of(a) == ShortKey::of(b), a == b, "{a:?} {b:?}");
            }
        }
    }

    /// A name from the recent slots is the table's shared copy, whatever names share a slot or
    /// are too long for one.
    #[test]
    fn recent_names_are_the_tables_copies() {
        let mut names = SharedNames::default();
        let mut recent = RecentNames::default();
        for round in 0..3 {
            for text in TEXTS.iter().chain(&["var-1", "var-2", "app.rs:5"]) {
                let shared = recent.name(&mut names, text);
                assert_eq!(&*shared, *text, "round {round}");
                assert!(Arc::ptr_eq(&shared, &names.name(text)), "{text:?}");
            }
        }
    }
}
