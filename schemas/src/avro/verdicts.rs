//! Holding a direct decoder to the schema-driven one (`binary.rs`): on a datum both give the same
//! model value, or both refuse it. Structural errors (truncation, bad lengths, indexes out of
//! range) are found in the same reading order, so they are the same error at the same offset.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::error::SchemaError;

/// Asserts that `direct` and `reference` agree on `datum`.
pub(crate) fn assert_same_verdict<T: PartialEq + std::fmt::Debug>(
    datum: &[u8],
    direct: impl Fn(&[u8]) -> Result<T, SchemaError>,
    reference: impl Fn(&[u8]) -> Result<T, SchemaError>,
) {
    let direct = direct(datum);
    let reference = reference(datum);
    match (&direct, &reference) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(a @ SchemaError::Malformed { .. }), Err(b @ SchemaError::Malformed { .. })) => {
            assert_eq!(a, b)
        }
        (Err(_), Err(_)) => {}
        _ => panic!("direct {direct:?} but schema-driven {reference:?} on {datum:?}"),
    }
}

/// Calls `check` on every proper prefix of `valid` and on `valid` with a byte appended.
pub(crate) fn truncations(valid: &[u8], check: impl Fn(&[u8])) {
    for len in 0..valid.len() {
        check(&valid[..len]);
    }
    let mut longer = valid.to_vec();
    longer.push(0);
    check(&longer);
}

/// Calls `check` on 5,000 copies of `valid` with 1 to 4 bytes overwritten at random, then on
/// 2,000 random byte strings (a fixed seed: the same cases every run).
pub(crate) fn corruptions(valid: &[u8], check: impl Fn(&[u8])) {
    let mut rng = StdRng::seed_from_u64(7);
    for _ in 0..5000 {
        let mut datum = valid.to_vec();
        for _ in 0..rng.gen_range(1..=4) {
            let at = rng.gen_range(0..datum.len());
            datum[at] = rng.gen();
        }
        check(&datum);
    }
    for _ in 0..2000 {
        let len = rng.gen_range(0..300);
        let mut datum = vec![0; len];
        rng.fill(&mut datum[..]);
        check(&datum);
    }
}
