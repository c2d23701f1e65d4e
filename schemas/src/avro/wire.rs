//! The Avro binary primitives: zigzag varints, length-prefixed strings, blocked arrays and maps,
//! read strictly (see `binary.rs` for why not apache-avro's) and written.
//!
//! Every length and count is checked against the bytes actually left before anything is
//! allocated for it, and every error carries the byte offset where the datum went wrong, so a
//! corrupt record is refused with a reason instead of aborting the process or decoding as
//! something else. Both the schema-driven codec (`binary.rs`) and the direct event codec
//! (`event_codec.rs`) read and write through these.

use uuid::Uuid;

use crate::error::SchemaError;

pub(crate) fn write_long(n: i64, out: &mut Vec<u8>) {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    while z > 0x7f {
        out.push((z as u8 & 0x7f) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

pub(crate) fn write_str(s: &str, out: &mut Vec<u8>) {
    write_long(s.len() as i64, out);
    out.extend_from_slice(s.as_bytes());
}

/// Reads one datum from the front of `data`; errors name `schema_name` and the byte offset.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pub(super) pos: usize,
    schema_name: &'static str,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `data`. `schema_name` only labels errors (e.g.
    /// `raceway.EventBatch`).
    pub(crate) fn new(data: &'a [u8], schema_name: &'static str) -> Reader<'a> {
        Reader {
            data,
            pos: 0,
            schema_name,
        }
    }

    /// Ends the datum: bytes left over mean it was written with another schema (or corrupt).
    pub(crate) fn finish(&self) -> Result<(), SchemaError> {
        if self.pos == self.data.len() {
            return Ok(());
        }
        Err(self.error(format!(
            "{} unexpected bytes after the end of the datum (written with another schema?)",
            self.data.len() - self.pos
        )))
    }

    pub(crate) fn error(&self, reason: impl Into<String>) -> SchemaError {
        SchemaError::Malformed {
            schema: self.schema_name,
            offset: self.pos,
            reason: reason.into(),
        }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub(crate) fn byte(&mut self) -> Result<u8, SchemaError> {
        let Some(&b) = self.data.get(self.pos) else {
            return Err(self.error("unexpected end of data (truncated record?)"));
        };
        self.pos += 1;
        Ok(b)
    }

    pub(crate) fn boolean(&mut self) -> Result<bool, SchemaError> {
        let start = self.pos;
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            b => {
                self.pos = start;
                Err(self.error(format!("invalid boolean byte {b:#04x}")))
            }
        }
    }

    pub(crate) fn long(&mut self) -> Result<i64, SchemaError> {
        let start = self.pos;
        let mut z: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            let bits = u64::from(b & 0x7f);
            if shift == 63 && bits > 1 {
                self.pos = start;
                return Err(self.error("variable-length integer overflows 64 bits"));
            }
            z |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(((z >> 1) as i64) ^ -((z & 1) as i64));
            }
        }
        self.pos = start;
        Err(self.error("variable-length integer longer than 10 bytes"))
    }

    pub(crate) fn int(&mut self) -> Result<i32, SchemaError> {
        self.converted(Self::long, |n| {
            i32::try_from(n).map_err(|_| format!("{n} does not fit an Avro int"))
        })
    }

    /// A value read by `read`, then converted; a conversion error points at the value's start.
    fn converted<T, U>(
        &mut self,
        read: fn(&mut Self) -> Result<T, SchemaError>,
        convert: impl FnOnce(T) -> Result<U, String>,
    ) -> Result<U, SchemaError> {
        let start = self.pos;
        let value = read(self)?;
        convert(value).map_err(|reason| {
            self.pos = start;
            self.error(reason)
        })
    }

    /// A length (of a string) or a count (of array or map items), checked against the bytes
    /// left: every string byte and every item of our schemas takes at least one byte, so a larger
    /// number can only come from a corrupt record, and is never allocated for.
    pub(crate) fn len(&mut self, what: &str) -> Result<usize, SchemaError> {
        let start = self.pos;
        let n = self.long()?;
        let left = self.remaining();
        match usize::try_from(n) {
            Ok(n) if n <= left => Ok(n),
            _ => {
                self.pos = start;
                Err(self.error(format!("{what} {n} exceeds the {left} bytes left")))
            }
        }
    }

    /// A string, borrowed from the datum.
    pub(crate) fn str(&mut self) -> Result<&'a str, SchemaError> {
        let start = self.pos;
        let len = self.len("string length")?;
        let data: &'a [u8] = self.data;
        let bytes = &data[self.pos..self.pos + len];
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                self.pos += len;
                Ok(s)
            }
            Err(e) => {
                self.pos = start;
                Err(self.error(format!("string is not valid UTF-8: {e}")))
            }
        }
    }

    pub(crate) fn string(&mut self) -> Result<String, SchemaError> {
        self.str().map(str::to_string)
    }

    /// A `logicalType: uuid` string.
    pub(crate) fn uuid(&mut self) -> Result<Uuid, SchemaError> {
        self.converted(Self::str, |text| {
            Uuid::parse_str(text).map_err(|e| format!("invalid UUID {text:?}: {e}"))
        })
    }

    /// The branch index of a union of `branches` branches.
    pub(crate) fn union_index(&mut self, branches: usize) -> Result<usize, SchemaError> {
        let start = self.pos;
        let index = self.long()?;
        self.index_below(start, index, branches, || {
            format!("union index {index} out of range ({branches} branches)")
        })
    }

    /// The symbol index of enum `name`, which has `symbols` symbols.
    pub(crate) fn enum_index(
        &mut self,
        name: &dyn std::fmt::Display,
        symbols: usize,
    ) -> Result<usize, SchemaError> {
        let start = self.pos;
        let index = i64::from(self.int()?);
        self.index_below(start, index, symbols, || {
            format!("enum index {index} out of range for {name} ({symbols} symbols)")
        })
    }

    /// `index` (read from `start`) when it is below `count`, else the error `reason`.
    fn index_below(
        &mut self,
        start: usize,
        index: i64,
        count: usize,
        reason: impl FnOnce() -> String,
    ) -> Result<usize, SchemaError> {
        match usize::try_from(index) {
            Ok(i) if i < count => Ok(i),
            _ => {
                self.pos = start;
                Err(self.error(reason()))
            }
        }
    }

    /// A `["null", T]` union: `None` for the null branch, else `T` read by `read`.
    pub(crate) fn optional<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Result<T, SchemaError>,
    ) -> Result<Option<T>, SchemaError> {
        match self.union_index(2)? {
            0 => Ok(None),
            _ => read(self).map(Some),
        }
    }

    /// Reads the blocks of an array or map up to the empty one, calling `item` once per item.
    pub(crate) fn blocks(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<(), SchemaError>,
    ) -> Result<(), SchemaError> {
        loop {
            let count = self.block_count()?;
            if count == 0 {
                return Ok(());
            }
            for _ in 0..count {
                item(self)?;
            }
        }
    }

    /// The item count of the next block of an array or map; 0 at the end.
    fn block_count(&mut self) -> Result<usize, SchemaError> {
        let start = self.pos;
        let n = self.long()?;
        if n >= 0 {
            self.pos = start;
            return self.len("item count");
        }
        // A negative count is followed by the block's size in bytes, which we do not need.
        let Some(count) = n.checked_neg() else {
            return Err(self.error("invalid block count"));
        };
        let size = self.long()?;
        let left = self.remaining();
        match (usize::try_from(count), usize::try_from(size)) {
            (Ok(count), Ok(size)) if count <= left && size <= left => Ok(count),
            _ => {
                self.pos = start;
                Err(self.error(format!(
                    "block of {count} items exceeds the {left} bytes left"
                )))
            }
        }
    }
}
