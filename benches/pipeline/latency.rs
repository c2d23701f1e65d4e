//! The latency from an event accepted to its race queryable, step by step, from the processors'
//! histograms: the bus's wait per topic (`raceway_record_wait_seconds`, produce to poll), the
//! trace stage's completion steps from a trace's last event consumed
//! (`raceway_trace_completion_seconds`) and the race stage's batches
//! (`raceway_batch_processing_seconds`, poll to findings stored and committed).

use crate::common::scenario_run::metric_sum;

/// Count, mean and quantiles (interpolated within the histogram's buckets) of the histogram
/// `metric` over every process's metrics page, restricted to the samples whose labels contain
/// `label_part`.
struct Summary {
    count: f64,
    mean: f64,
    p50: f64,
    p99: f64,
}

impl Summary {
    fn of(pages: &[String], metric: &str, label_part: &str) -> Summary {
        let sum = |name: &str| -> f64 {
            pages
                .iter()
                .map(|page| metric_sum(page, name, label_part))
                .sum()
        };
        let count = sum(&format!("{metric}_count"));
        let total = sum(&format!("{metric}_sum"));
        // Cumulative bucket counts by upper bound, summed over the pages.
        let mut buckets: Vec<(f64, f64)> = Vec::new();
        let bucket_name = format!("{metric}_bucket{{");
        for line in pages.iter().flat_map(|page| page.lines()) {
            let Some(rest) = line.strip_prefix(&bucket_name) else {
                continue;
            };
            if !rest.contains(label_part) {
                continue;
            }
            let bound = rest
                .split_once("le=\"")
                .and_then(|(_, le)| le.split_once('"'))
                .and_then(|(le, _)| le.parse::<f64>().ok());
            let value = line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok());
            let (Some(bound), Some(value)) = (bound, value) else {
                continue;
            };
            match buckets.iter_mut().find(|(b, _)| *b == bound) {
                Some((_, n)) => *n += value,
                None => buckets.push((bound, value)),
            }
        }
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        let quantile = |q: f64| -> f64 {
            let rank = q * count;
            let mut below = (0.0, 0.0);
            for &(bound, n) in &buckets {
                if n >= rank {
                    if !bound.is_finite() {
                        return below.0;
                    }
                    let share = if n > below.1 {
                        (rank - below.1) / (n - below.1)
                    } else {
                        1.0
                    };
                    return below.0 + (bound - below.0) * share;
                }
                below = (bound, n);
            }
            below.0
        };
        Summary {
            count,
            mean: if count > 0.0 { total / count } else { 0.0 },
            p50: quantile(0.5),
            p99: quantile(0.99),
        }
    }

    fn line(&self, step: &str) -> String {
        format!(
            "  {step:<58} mean {:>6.0} ms, p50 {:>6.0} ms, p99 {:>6.0} ms ({:.0} observed)",
            self.mean * 1000.0,
            self.p50 * 1000.0,
            self.p99 * 1000.0,
            self.count
        )
    }
}

/// Prints the chain's steps, each as its own histogram, from the processors' metrics pages.
pub fn print_breakdown(pages: &[String]) {
    println!("  accepted -> race queryable, by step (processors' histograms):");
    let steps: [(&str, &str, &str); 8] = [
        (
            "events produced by the gateway -> polled by the trace stage",
            "raceway_record_wait_seconds",
            "raceway.events\"",
        ),
        (
            "a trace's last event polled -> found due (idle timeout in)",
            "raceway_trace_completion_seconds",
            "step=\"found due\"",
        ),
        (
            "  -> its events written (completion starts)",
            "raceway_trace_completion_seconds",
            "step=\"events written\"",
        ),
        (
            "  -> its race inputs produced (after its accesses stored)",
            "raceway_trace_completion_seconds",
            "step=\"inputs forwarded\"",
        ),
        (
            "  -> analyses and accesses stored",
            "raceway_trace_completion_seconds",
            "step=\"stored\"",
        ),
        (
            "  -> race inputs and notices produced",
            "raceway_trace_completion_seconds",
            "step=\"forwarded\"",
        ),
        (
            "race inputs produced -> polled by the race stage",
            "raceway_record_wait_seconds",
            "raceway.accesses\"",
        ),
        (
            "race stage: poll -> findings stored and committed (per poll)",
            "raceway_batch_processing_seconds",
            "raceway-race\"",
        ),
    ];
    for (step, metric, label) in steps {
        println!("{}", Summary::of(pages, metric, label).line(step));
    }
}

/// Prints where one processor's loop iterations went: per stage, its steps (poll returned ->
/// step done, `raceway_batch_processing_seconds`) and its store calls by operation
/// (`raceway_store_write_seconds`); the bus calls are printed beside them.
pub fn print_loop_steps(page: &str) {
    let pages = [page.to_string()];
    for group in ["raceway-trace", "raceway-race"] {
        let label = format!("{group}\"");
        let step = format!("{group}: one step after its poll");
        println!(
            "{}",
            Summary::of(&pages, "raceway_batch_processing_seconds", &label).line(&step)
        );
    }
    let prefix = "raceway_store_write_seconds_count{";
    for line in page.lines() {
        let Some((labels, _)) = line
            .strip_prefix(prefix)
            .and_then(|rest| rest.split_once('}'))
        else {
            continue;
        };
        let summary = Summary::of(&pages, "raceway_store_write_seconds", labels);
        println!("{}", summary.line(&format!("store call {labels}")));
    }
}

/// Prints how long the gateway's produces took (`raceway_gateway_produce_seconds`, one per
/// `POST /events` until its records are durable) from the metrics page of the process that
/// served the posts: with a fixed number of clients, it bounds the rate they can post at.
pub fn print_gateway_produces(page: &str) {
    let pages = [page.to_string()];
    let summary = Summary::of(&pages, "raceway_gateway_produce_seconds", "");
    println!(
        "{}",
        summary.line("gateway: one request's produce until durable")
    );
}
