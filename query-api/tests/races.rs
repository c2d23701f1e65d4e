//! `GET /api/races` over a real store seeded through the analysis pipeline: the fixture's race,
//! plus a ledger read concurrent with both of its writes (two cross-trace warnings).

mod common;

use axum::http::StatusCode;
use common::{get, scenario, seeded};
use serde_json::Value;

fn ids(body: &Value) -> Vec<String> {
    common::texts(body, "races", "id")
}

#[tokio::test]
async fn lists_every_finding_newest_first_with_filters() {
    let store = seeded(scenario()).await;
    let (status, all) = get(store.clone(), "/api/races").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(all["total"], 3, "{all}");
    assert_eq!(
        (all["limit"].clone(), all["offset"].clone()),
        (50.into(), 0.into())
    );
    let races = all["races"].as_array().unwrap();
    // The two cross-trace findings end with the ledger read at .003; the fixture's at .002.
    assert_eq!(races[2]["severity"], "critical", "{all}");
    assert_eq!(races[2]["first"]["trace_id"], common::TRACE);
    assert_eq!(races[2]["second"]["trace_id"], common::TRACE);
    for race in &races[..2] {
        assert_eq!(race["severity"], "warning", "{race}");
        assert_eq!(race["kind"], "data_race");
        assert_eq!(race["variable"], "balance");
        let services = [&race["first"]["service"], &race["second"]["service"]];
        assert!(services.contains(&&Value::from("ledger")), "{race}");
    }
    assert!(
        races[0]["id"].as_str() < races[1]["id"].as_str(),
        "ties by id"
    );

    let cases: &[(&str, &[usize])] = &[
        ("kind=data_race", &[0, 1, 2]),
        ("kind=lost_update", &[]),
        ("severity=warning", &[0, 1]),
        ("severity=critical", &[2]),
        ("service=ledger", &[0, 1]),
        ("service=web", &[0, 1, 2]),
        ("variable=balance", &[0, 1, 2]),
        ("variable=account:bob.balance", &[]),
        ("environment=test", &[0, 1, 2]),
        ("environment=prod", &[]),
        // The ledger read is at .003, the fixture's writes at .001 and .002.
        ("from=2024-01-01T12:00:00.0025Z", &[0, 1]),
        (
            "from=2024-01-01T12:00:00.002Z&to=2024-01-01T12:00:00.002Z",
            &[0, 1, 2],
        ),
        ("from=2024-01-01T12:00:01Z", &[]),
        ("severity=warning&service=web&kind=data_race", &[0, 1]),
    ];
    let all_ids = ids(&all);
    for (query, expected) in cases {
        let (status, body) = get(store.clone(), &format!("/api/races?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {body}");
        let want: Vec<String> = expected.iter().map(|&i| all_ids[i].clone()).collect();
        assert_eq!(ids(&body), want, "{query}");
        assert_eq!(body["total"], expected.len(), "{query}");
    }

    // Up to 12:00:00.0015 (in ns): the findings with the fixture's first write (at .001).
    let (_, early) = get(store, "/api/races?to=1704110400001500000").await;
    let with_first_write: Vec<String> = races
        .iter()
        .filter(|r| {
            [&r["first"]["event_id"], &r["second"]["event_id"]]
                .contains(&&Value::from("cccccccc-cccc-4ccc-cccc-cccccccccccc"))
        })
        .map(|r| r["id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(with_first_write.len(), 2, "{all}");
    assert_eq!(ids(&early), with_first_write);
}

#[tokio::test]
async fn pages_through_the_races() {
    let store = seeded(scenario()).await;
    let (_, all) = get(store.clone(), "/api/races").await;
    let all_ids = ids(&all);
    let (_, first) = get(store.clone(), "/api/races?limit=2").await;
    assert_eq!(ids(&first), all_ids[..2].to_vec());
    assert_eq!(
        (first["total"].clone(), first["limit"].clone()),
        (3.into(), 2.into())
    );
    let (_, rest) = get(store.clone(), "/api/races?limit=2&offset=2").await;
    assert_eq!(ids(&rest), all_ids[2..].to_vec());
    assert_eq!(
        (rest["total"].clone(), rest["offset"].clone()),
        (3.into(), 2.into())
    );
    let (status, beyond) = get(store, "/api/races?offset=10").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ids(&beyond).is_empty());
    assert_eq!(beyond["total"], 3);
}

#[tokio::test]
async fn bad_parameters_get_a_400_that_names_them() {
    let store = seeded(scenario()).await;
    common::assert_rejected(
        store,
        "/api/races",
        &[
            ("kind=race", "data_race"),
            ("severity=high", "critical"),
            ("from=yesterday", "from=yesterday"),
            ("to=soon", "to=soon"),
            ("from=2024-01-02T00:00:00Z&to=2024-01-01T00:00:00Z", "after"),
            ("limit=0", "limit"),
            ("limit=1001", "limit"),
            ("limit=ten", "limit"),
            ("offset=-1", "offset"),
        ],
    )
    .await;
}
