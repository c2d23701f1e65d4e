use super::*;
use crate::trace::fixtures::{at, call, lasting, with_parent, MS};
use crate::trace::trace_tree;
use raceway_schemas::Event;

/// A trace `n`: a checkout of 50 ms whose `charge` step takes `charge_us` microseconds.
fn checkout(n: u128, charge_us: i64) -> TraceTree {
    let trace = Uuid::from_u128(0x1000 + n);
    let mut events = vec![
        lasting(at(1, "main", 0, call("checkout")), 50),
        with_parent(at(2, "main", 1, call("charge")), 1),
    ];
    events[1].metadata.duration_ns = Some((charge_us * 1_000) as u64);
    for event in &mut events {
        event.trace_id = trace;
    }
    trace_tree(&events)
}

/// Deterministic jitter in [-1, 1] ms, in microseconds.
fn jitter_us(i: u128) -> i64 {
    ((i * 7_919) % 21) as i64 * 100 - 1_000
}

fn charge_key() -> BaselineKey {
    BaselineKey {
        service: "web".into(),
        kind: "FunctionCall".into(),
        location: "app::charge".into(),
    }
}

/// Baselines after 30 traces where `charge` takes 10 +/- 1 ms.
fn trained() -> DurationBaselines {
    let mut baselines = DurationBaselines::new(BaselineConfig::default());
    for i in 0..30 {
        assert!(baselines
            .judge_and_update(&checkout(i, 10_000 + jitter_us(i)))
            .is_empty());
    }
    baselines
}

fn charge_anomaly(anomalies: &[DurationAnomaly]) -> Option<&DurationAnomaly> {
    anomalies.iter().find(|a| a.key == charge_key())
}

#[test]
fn six_times_slower_is_critical_and_a_bit_slower_at_most_minor() {
    let baselines = trained();
    let slow = checkout(100, 60_000);
    let anomalies = baselines.judge(&slow);
    let anomaly = charge_anomaly(&anomalies).expect("60 ms flagged");
    assert_eq!(anomaly.severity, AnomalySeverity::Critical);
    assert_eq!(anomaly.actual_ns, 60 * MS as u64);
    assert!((9 * MS as u64..=11 * MS as u64).contains(&anomaly.expected_ns));
    assert_eq!(anomaly.baseline_samples, 30);
    assert_eq!(anomaly.event_id, slow.nodes[1].id);
    assert_eq!(anomaly.flagged_steps, 1);
    assert!(anomaly.deviations > 5.0);

    let slightly = baselines.judge(&checkout(101, 12_000));
    if let Some(anomaly) = charge_anomaly(&slightly) {
        assert_eq!(anomaly.severity, AnomalySeverity::Minor);
    }
    assert!(
        charge_anomaly(&baselines.judge(&checkout(102, 3_000))).is_none(),
        "faster is fine"
    );
}

#[test]
fn severity_grows_with_the_deviation() {
    let baselines = trained();
    let severity_at =
        |us: i64| charge_anomaly(&baselines.judge(&checkout(200, us))).map(|a| a.severity);
    // Scale is 1 ms here (10 % of the median beats the MAD): deviations ~ (us - 10_000) / 1_000.
    assert_eq!(severity_at(12_500), Some(AnomalySeverity::Minor));
    assert_eq!(severity_at(14_000), Some(AnomalySeverity::Warning));
    assert_eq!(severity_at(16_500), Some(AnomalySeverity::Critical));
}

#[test]
fn a_trace_is_never_part_of_its_own_baseline() {
    let mut baselines = trained();
    let slow = checkout(300, 60_000);
    let first = baselines.judge_and_update(&slow);
    assert!(!baselines.update(&slow), "learned once");
    // Re-analysed later: judged again, still against the 30 others only.
    let again = baselines.judge(&slow);
    assert_eq!(charge_anomaly(&first), charge_anomaly(&again));
    assert_eq!(charge_anomaly(&again).unwrap().baseline_samples, 30);
    assert_eq!(baselines.stats(&charge_key()).unwrap().samples, 31);
}

#[test]
fn no_judgement_before_enough_samples() {
    let mut baselines = DurationBaselines::new(BaselineConfig::default());
    for i in 0..5 {
        baselines.update(&checkout(i, 10_000));
    }
    assert!(baselines.judge(&checkout(9, 90_000)).is_empty());
}

#[test]
fn one_trace_cannot_flush_a_baseline() {
    let mut baselines = trained();
    let trace = Uuid::from_u128(0x9999);
    let mut events: Vec<Event> = vec![lasting(at(1, "main", 0, call("batch")), 500)];
    for k in 0..1_000u128 {
        events.push(lasting(
            with_parent(at(10 + k, "main", 1, call("charge")), 1),
            100,
        ));
    }
    for event in &mut events {
        event.trace_id = trace;
    }
    let tree = trace_tree(&events);
    let anomaly = baselines.judge_and_update(&tree);
    assert_eq!(charge_anomaly(&anomaly).unwrap().flagged_steps, 1_000);
    let stats = baselines.stats(&charge_key()).unwrap();
    assert!(stats.median < 11.0 * MS as f64, "16 of 46 samples are slow");
    assert_eq!(stats.samples, 46);
}

#[test]
fn unmeasured_steps_learn_their_self_time() {
    let mut baselines = DurationBaselines::new(BaselineConfig {
        min_samples: 1,
        ..BaselineConfig::default()
    });
    let events = vec![
        at(1, "main", 0, call("a")),
        with_parent(at(2, "main", 4, call("b")), 1),
    ];
    baselines.update(&trace_tree(&events));
    let key = BaselineKey {
        location: "app::a".into(),
        ..charge_key()
    };
    assert_eq!(baselines.stats(&key).unwrap().median, 4.0 * MS as f64);
}

#[test]
fn checkpoints_round_trip_and_continue_identically() {
    let mut original = trained();
    let json = serde_json::to_string(&original.checkpoint()).unwrap();
    let mut restored = DurationBaselines::restore(serde_json::from_str(&json).unwrap());
    assert_eq!(restored.checkpoint(), original.checkpoint());
    for i in 30..40 {
        original.update(&checkout(i, 11_000));
        restored.update(&checkout(i, 11_000));
    }
    let slow = checkout(500, 60_000);
    assert_eq!(original.judge(&slow), restored.judge(&slow));
    assert!(
        !restored.update(&checkout(3, 10_000)),
        "remembers learned traces"
    );
}

#[test]
fn keys_are_bounded_by_evicting_the_stalest() {
    let mut baselines = DurationBaselines::new(BaselineConfig {
        max_keys: 10,
        ..BaselineConfig::default()
    });
    for k in 0..25i64 {
        let mut event = lasting(at(1, "main", k * 1_000, call(&format!("op{k}"))), 1);
        event.trace_id = Uuid::from_u128(k as u128 + 1);
        baselines.update(&trace_tree(&[event]));
        assert!(baselines.len() <= 10);
    }
    let newest = BaselineKey {
        location: "app::op24".into(),
        ..charge_key()
    };
    assert!(baselines.stats(&newest).is_some());
    let oldest = BaselineKey {
        location: "app::op0".into(),
        ..charge_key()
    };
    assert!(baselines.stats(&oldest).is_none());
}
