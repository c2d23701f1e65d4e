//! What a lost update lost, when the recorded values are numbers.
//!
//! # Rule
//!
//! A lost update is a read-modify-write (read `old`, wrote `new`) racing another write of the
//! same variable. Each update's *delta* is `new - old`: for the read-modify-write, its read value
//! to its written value; for the other write, its recorded `old_value` to its value. Applied one
//! after the other, starting from the value before the earlier of the two writes, they give
//! `start + delta1 + delta2`; what the variable holds is the later write's value. The difference
//! is what was lost. For the demo: both transfers read 100, one wrote 70 (-30), the other 95
//! (-5); the balance ends at 95 where a serial order gives 65: 30 lost.
//!
//! Nothing is claimed when a value is missing or is not a finite number (a string, an object,
//! an other side that only read): the explanation then says only that an update can be lost.

use raceway_schemas::{Access, AccessType};

/// The arithmetic of one lost update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LostUpdateImpact {
    /// What the variable holds after both writes: the later write's value.
    pub final_value: f64,
    /// What applying both updates one after the other gives.
    pub serial_value: f64,
    /// `|serial_value - final_value|`.
    pub lost: f64,
}

/// The impact of the read-modify-write `rmw` (which read `read_value`) racing the write
/// `other`, or `None` when the values are not numbers or `other` records no old value.
pub fn lost_update_impact(
    rmw: &Access,
    read_value: &str,
    other: &Access,
) -> Option<LostUpdateImpact> {
    if !matches!(
        other.access_type,
        AccessType::Write | AccessType::AtomicWrite
    ) {
        return None;
    }
    let rmw_old = number(read_value)?;
    let rmw_new = number(&rmw.value)?;
    let other_old = number(other.old_value.as_deref()?)?;
    let other_new = number(&other.value)?;
    let rmw_first = (rmw.timestamp_ns, rmw.event_id) <= (other.timestamp_ns, other.event_id);
    let (start, final_value) = if rmw_first {
        (rmw_old, other_new)
    } else {
        (other_old, rmw_new)
    };
    let serial_value = start + (rmw_new - rmw_old) + (other_new - other_old);
    Some(LostUpdateImpact {
        final_value,
        serial_value,
        lost: (serial_value - final_value).abs(),
    })
}

/// A recorded value (JSON text) as a finite number.
fn number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

/// A number as people write it: `95`, `12.5`.
pub fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{n:.0}")
    } else {
        format!("{n}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::access;

    fn write(n: u128, ts: i64, old: Option<&str>, value: &str) -> Access {
        let mut access = access(n, &format!("t{n}"), ts, AccessType::Write, &[]);
        access.value = value.into();
        access.old_value = old.map(Into::into);
        access
    }

    #[test]
    fn the_demo_loses_thirty() {
        // Both read 100: the transfer wrote 70 first, the fee wrote 95 after it.
        let transfer = write(1, 10, Some("100"), "70");
        let fee = write(2, 20, Some("100"), "95");
        let impact = lost_update_impact(&transfer, "100", &fee).expect("numbers");
        assert_eq!(impact.final_value, 95.0);
        assert_eq!(impact.serial_value, 65.0);
        assert_eq!(impact.lost, 30.0);
        // Seen from the other side, the same arithmetic.
        let impact = lost_update_impact(&fee, "100", &transfer).expect("numbers");
        assert_eq!(
            (impact.final_value, impact.serial_value, impact.lost),
            (95.0, 65.0, 30.0)
        );
    }

    #[test]
    fn no_claim_without_numbers_or_an_old_value() {
        let rmw = write(1, 10, Some("100"), "70");
        assert_eq!(
            lost_update_impact(&rmw, "100", &write(2, 20, None, "95")),
            None
        );
        assert_eq!(
            lost_update_impact(&rmw, "\"a\"", &write(2, 20, Some("1"), "2")),
            None
        );
        let mut read = write(2, 20, Some("100"), "100");
        read.access_type = AccessType::Read;
        assert_eq!(lost_update_impact(&rmw, "100", &read), None);
        assert_eq!(number_text(12.5), "12.5");
        assert_eq!(number_text(-30.0), "-30");
    }
}
