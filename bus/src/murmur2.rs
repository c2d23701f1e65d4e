//! Kafka's murmur2 hash and the default (Java) partitioner built on it.
//!
//! The Java client's `DefaultPartitioner` / `BuiltInPartitioner` and librdkafka's
//! `murmur2_random` partitioner put a keyed record on partition
//! `(murmur2(key) & 0x7fffffff) % partitions`. The embedded bus uses the same function, so a key
//! lands on the same partition number whichever bus carries it.

/// Kafka's seed for murmur2.
const SEED: u32 = 0x9747_b28c;
const M: u32 = 0x5bd1_e995;
const R: u32 = 24;

/// Kafka's 32-bit murmur2 hash of `data` (as `org.apache.kafka.common.utils.Utils.murmur2`,
/// returned as the same signed 32-bit value Java returns).
pub fn murmur2(data: &[u8]) -> i32 {
    let length = data.len();
    // Java computes `seed ^ length` on an int: lengths wrap modulo 2^32 there too.
    let mut h: u32 = SEED ^ (length as u32);

    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }

    let tail = chunks.remainder();
    if tail.len() == 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }

    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition Kafka's default partitioner (and librdkafka's `murmur2_random`) assigns to a
/// record with this key: `(murmur2(key) & 0x7fffffff) % partitions`.
///
/// `partitions` must be positive; for `partitions <= 0` this returns 0 rather than panicking.
pub fn partition_for(key: &[u8], partitions: i32) -> i32 {
    if partitions <= 0 {
        return 0;
    }
    (murmur2(key) & 0x7fff_ffff) % partitions
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vectors from Apache Kafka's `UtilsTest.testMurmur2`
    /// (clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java).
    #[test]
    fn matches_java_client_vectors() {
        let cases: &[(&[u8], i32)] = &[
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            (b"abc", 479_470_107),
        ];
        for (key, expected) in cases {
            assert_eq!(
                murmur2(key),
                *expected,
                "murmur2({:?})",
                String::from_utf8_lossy(key)
            );
        }
    }

    /// Vectors from librdkafka's `unittest_murmur2` (src/rdmurmur2.c), which were themselves
    /// produced with the Java client; they cover every tail length and the empty key.
    #[test]
    fn matches_librdkafka_vectors() {
        let short_unaligned = "1234";
        let unaligned = "PreAmbleWillBeRemoved,ThePrePartThatIs";
        let cases: &[(&str, u32)] = &[
            ("kafka", 0xd067_cf64),
            ("giberish123456789", 0x8f55_2b0c),
            (short_unaligned, 0x9fc9_7b14),
            (&short_unaligned[1..], 0xe7c0_09ca),
            (&short_unaligned[2..], 0x8739_30da),
            (&short_unaligned[3..], 0x5a4b_5ca1),
            (unaligned, 0x7842_4f1c),
            (&unaligned[1..], 0x4a62_b377),
            (&unaligned[2..], 0xe0e4_e09e),
            (&unaligned[3..], 0x62b8_b43f),
            ("", 0x106e_08d9),
        ];
        for (key, expected) in cases {
            assert_eq!(
                murmur2(key.as_bytes()),
                *expected as i32,
                "murmur2({key:?})"
            );
        }
    }

    #[test]
    fn partition_is_positive_hash_modulo_count() {
        // murmur2("21") is negative: the sign bit is masked off, not the absolute value taken.
        let h = murmur2(b"21");
        assert!(h < 0);
        assert_eq!(partition_for(b"21", 8), (h & 0x7fff_ffff) % 8);
        assert_eq!(
            partition_for(b"21", 8),
            ((-973_932_308i32) & 0x7fff_ffff) % 8
        );
        for n in 1..20 {
            let p = partition_for(b"some-trace-id", n);
            assert!((0..n).contains(&p));
        }
        assert_eq!(partition_for(b"x", 1), 0);
        assert_eq!(partition_for(b"x", 0), 0);
        assert_eq!(partition_for(b"x", -3), 0);
    }
}
