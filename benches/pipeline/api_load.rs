//! The query API under load: after a large-trace part has stored its workload, the trace list,
//! the race list and one whole trace are read by one client, then by 20 concurrent clients, and
//! each route's p50 and p99 latency is reported, per store.

use std::time::Instant;

use uuid::Uuid;

use crate::table::Figures;

/// Requests per route per client.
const ONE_CLIENT_REQUESTS: usize = 100;
const CONCURRENT_CLIENTS: usize = 20;
const CONCURRENT_REQUESTS: usize = 25;

/// The path of a route's `n`th request.
type PathOf<'a> = Box<dyn Fn(usize) -> String + Sync + 'a>;

/// The routes measured: the two lists and one trace (a different one each request).
fn routes(ids: &[Uuid]) -> Vec<(&'static str, PathOf<'_>)> {
    vec![
        ("traces", Box::new(|_| "/api/traces?limit=50".to_string())),
        ("races", Box::new(|_| "/api/races?limit=50".to_string())),
        (
            "one trace",
            Box::new(move |n| format!("/api/traces/{}", ids[n % ids.len()])),
        ),
    ]
}

/// Latencies (ms) of `requests` GETs of `path(n)` by each of `clients` threads.
fn latencies(
    base: &str,
    clients: usize,
    requests: usize,
    path: &(dyn Fn(usize) -> String + Sync),
) -> Vec<f64> {
    let mut all: Vec<f64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|client| {
                scope.spawn(move || {
                    let http = reqwest::blocking::Client::new();
                    (0..requests)
                        .map(|n| {
                            let url = format!("{base}{}", path(client * requests + n));
                            let started = Instant::now();
                            let response = http.get(&url).send().expect("GET");
                            assert!(response.status().is_success(), "GET {url}");
                            response.bytes().expect("body");
                            started.elapsed().as_secs_f64() * 1000.0
                        })
                        .collect::<Vec<f64>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("client thread"))
            .collect()
    });
    all.sort_by(f64::total_cmp);
    all
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(rank).copied().unwrap_or(f64::NAN)
}

/// Measures every route at the API at `base`, where `stored` events of the traces `ids` are
/// stored in `store`; reports under `api-one` and `api-twenty`.
pub fn measure(store: &str, base: &str, ids: &[Uuid], stored: usize, figures: &mut Figures) {
    let routes = routes(ids);
    let mut one = Vec::new();
    let mut twenty = Vec::new();
    for (name, path) in &routes {
        latencies(base, 1, 5, path.as_ref()); // warm up
        let single = latencies(base, 1, ONE_CLIENT_REQUESTS, path.as_ref());
        one.push(format!(
            "{name} {:.1}/{:.1}",
            percentile(&single, 0.5),
            percentile(&single, 0.99)
        ));
        let many = latencies(base, CONCURRENT_CLIENTS, CONCURRENT_REQUESTS, path.as_ref());
        twenty.push(format!(
            "{name} {:.0}/{:.0}",
            percentile(&many, 0.5),
            percentile(&many, 0.99)
        ));
    }
    figures.report(
        "api-one",
        format!("{store}, {stored} events: p50/p99 ms {}", one.join(", ")),
    );
    figures.report(
        "api-twenty",
        format!(
            "{store}, {stored} events, {CONCURRENT_CLIENTS} clients: p50/p99 ms {}",
            twenty.join(", ")
        ),
    );
}
