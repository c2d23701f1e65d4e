//! A retained access's value and old value in 16 bytes.
//!
//! Rule: a value of at most [`SHORT`] bytes with no old value (a plain write's or a read's
//! value, the usual case) is kept inline, its length in a byte whose unused values tell the
//! two forms apart; anything else is one heap block holding both strings. Reason: the values
//! are read only to report a finding, yet every retained access carries them, and the retained
//! form must fit two 64-byte lines (see `retained`): two `CompactString`s took 48 bytes.
//! What breaks otherwise: a wider form pushes the retained access past 128 bytes, a third
//! line written at every insertion and read at every eviction.

/// Longest value kept inline.
const SHORT: usize = 15;

/// The length of an inline value: sixteen named values of a byte, so that the other 240 tell
/// the compiler where the heap form's pointer is not (the enum stays 16 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum ShortLen {
    L0,
    L1,
    L2,
    L3,
    L4,
    L5,
    L6,
    L7,
    L8,
    L9,
    L10,
    L11,
    L12,
    L13,
    L14,
    L15,
}

const SHORT_LENS: [ShortLen; SHORT + 1] = [
    ShortLen::L0,
    ShortLen::L1,
    ShortLen::L2,
    ShortLen::L3,
    ShortLen::L4,
    ShortLen::L5,
    ShortLen::L6,
    ShortLen::L7,
    ShortLen::L8,
    ShortLen::L9,
    ShortLen::L10,
    ShortLen::L11,
    ShortLen::L12,
    ShortLen::L13,
    ShortLen::L14,
    ShortLen::L15,
];

/// A value and an old value (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Values(Form);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Form {
    Short { len: ShortLen, bytes: [u8; SHORT] },
    Long(Box<(String, Option<String>)>),
}

impl Values {
    /// The values, taken out of `value` and `old_value` when they go on the heap.
    pub(crate) fn new(value: &mut String, old_value: Option<String>) -> Self {
        match (SHORT_LENS.get(value.len()), old_value) {
            (Some(&len), None) => {
                let mut bytes = [0; SHORT];
                bytes[..value.len()].copy_from_slice(value.as_bytes());
                Values(Form::Short { len, bytes })
            }
            (_, old_value) => Values(Form::Long(Box::new((std::mem::take(value), old_value)))),
        }
    }

    /// The value.
    pub(crate) fn value(&self) -> &str {
        match &self.0 {
            // The bytes were copied from a `str` whole: always valid.
            Form::Short { len, bytes } => {
                std::str::from_utf8(&bytes[..*len as usize]).unwrap_or_default()
            }
            Form::Long(long) => &long.0,
        }
    }

    /// The old value.
    pub(crate) fn old_value(&self) -> Option<&str> {
        match &self.0 {
            Form::Short { .. } => None,
            Form::Long(long) => long.1.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_what_they_were_given_in_sixteen_bytes() {
        assert_eq!(std::mem::size_of::<Values>(), 16);
        let cases = [
            ("", None),
            ("1", None),
            ("fifteen bytes!!", None),
            ("sixteen bytes!!!", None),
            ("é€𝄞", None),
            ("1", Some("0")),
            ("", Some("")),
            ("a much longer value than fits", Some("old")),
        ];
        for (value, old) in cases {
            let mut taken = value.to_string();
            let values = Values::new(&mut taken, old.map(str::to_string));
            assert_eq!(values.value(), value);
            assert_eq!(values.old_value(), old);
            let inline = value.len() <= SHORT && old.is_none();
            assert_eq!(matches!(values.0, Form::Short { .. }), inline, "{value:?}");
        }
    }
}
