//! `POST /events` against a real embedded bus (SQLite log): what the gateway accepts, rejects,
//! redacts and produces.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{
    assert_grouped_per_partition, fixture, harness, harness_with_auth, harness_with_keys,
    many_traces, TOPIC,
};
use raceway_auth::{ApiKey, AuthConfig, Tenant};
use raceway_bus::{Bus, KafkaBus};
use raceway_gateway::{GatewayConfig, GatewayMetrics, GatewayState};
use raceway_schemas::EventKind;
use serde_json::json;
use tower::ServiceExt;

#[tokio::test]
async fn the_fixture_is_accepted_and_produced_as_one_batch_keyed_by_trace() {
    let h = harness(|_| {}).await;
    let (status, answer) = h.post(fixture().to_string().into_bytes(), &[]).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer,
        json!({"success": true, "accepted": 3, "rejected": []})
    );
    let batches = h.produced().await;
    assert_eq!(batches.len(), 1);
    assert_eq!(
        batches[0].trace_id.to_string(),
        "aaaaaaaa-aaaa-4aaa-aaaa-aaaaaaaaaaaa"
    );
    assert_eq!(batches[0].events.len(), 3);
}

#[tokio::test]
async fn a_request_of_many_traces_is_one_record_per_partition_with_each_trace_in_its_own() {
    let h = harness(|_| {}).await;
    let (body, expected) = many_traces(60, 3);
    let (status, answer) = h.post(body.to_string().into_bytes(), &[]).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["accepted"], 180);
    assert_grouped_per_partition(&h.records().await, &expected);
}

#[tokio::test]
async fn a_bad_event_is_rejected_with_its_field_and_the_rest_goes_on() {
    let h = harness(|_| {}).await;
    let mut body = fixture();
    body["events"][2]["kind"] = json!({"StateChange": {"variable": "balance"}});
    body["events"][0]["id"] = json!("nope");
    let (status, answer) = h.post(body.to_string().into_bytes(), &[]).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["accepted"], 1);
    let rejected = answer["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2);
    assert_eq!(rejected[0]["index"], 0);
    assert!(rejected[0]["field"].as_str().unwrap().contains("id"));
    assert_eq!(rejected[1]["index"], 2);
    assert!(rejected[1]["field"]
        .as_str()
        .unwrap()
        .contains("StateChange"));
    assert!(!rejected[1]["reason"].as_str().unwrap().is_empty());
    assert_eq!(h.produced_events().await, 1);
}

/// Each request's produce is timed once, until durable; a request with nothing valid produces
/// nothing and is not timed.
#[tokio::test]
async fn each_produce_is_timed_until_durable() {
    const PRODUCES: &str = "raceway_gateway_produce_seconds_count";
    let h = harness(|_| {}).await;
    let (status, answer) = h.post(fixture().to_string().into_bytes(), &[]).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(h.metric(PRODUCES, ""), 1.0);
    let mut invalid = fixture();
    for event in invalid["events"].as_array_mut().unwrap() {
        event["id"] = json!("nope");
    }
    let (status, answer) = h.post(invalid.to_string().into_bytes(), &[]).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["accepted"], 0);
    assert_eq!(
        h.metric(PRODUCES, ""),
        1.0,
        "nothing produced, nothing timed"
    );
    let (body, _) = many_traces(60, 3);
    h.post(body.to_string().into_bytes(), &[]).await;
    assert_eq!(h.metric(PRODUCES, ""), 2.0, "one produce per request");
    assert!(h.metric("raceway_gateway_produce_seconds_sum", "") > 0.0);
}

#[tokio::test]
async fn a_body_that_is_not_an_event_list_is_a_400() {
    let h = harness(|_| {}).await;
    for body in ["not json", "[1,2]", "{\"events\": 3}", "{}"] {
        let (status, answer) = h.post(body.as_bytes().to_vec(), &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert!(!answer["error"].as_str().unwrap().is_empty());
    }
    assert!(h.produced().await.is_empty());
}

#[tokio::test]
async fn api_keys_are_enforced_when_configured() {
    let h = harness_with_keys(&["k1"], |_| {}).await;
    let body = fixture().to_string().into_bytes();
    let (status, _) = h.post(body.clone(), &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = h.post(body.clone(), &[("x-raceway-key", "wrong")]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = h
        .post(body.clone(), &[("authorization", "Bearer k1")])
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = h.post(body, &[("x-raceway-key", "k1")]).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn only_json_bodies_are_accepted() {
    let h = harness(|_| {}).await;
    let body = fixture().to_string();
    for (content_type, expected) in [
        (Some("text/plain"), StatusCode::UNSUPPORTED_MEDIA_TYPE),
        (
            Some("application/x-www-form-urlencoded"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (None, StatusCode::UNSUPPORTED_MEDIA_TYPE),
        (Some("application/json; charset=utf-8"), StatusCode::OK),
        (Some("Application/JSON"), StatusCode::OK),
    ] {
        let mut request = Request::post("/events");
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let request = request.body(Body::from(body.clone())).unwrap();
        let response = h.router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), expected, "{content_type:?}");
    }
    assert_eq!(h.produced_events().await, 6, "the two JSON posts");
}

#[tokio::test]
async fn a_tenant_writes_only_its_environments() {
    let mut auth = AuthConfig {
        keys: vec![
            ApiKey::parse("acme:ingest:a1:acme").unwrap(),
            ApiKey::parse("ops:ingest:o1").unwrap(),
        ],
        ..AuthConfig::default()
    };
    let acme = Tenant::parse("acme=prod").unwrap();
    auth.tenants.insert(acme.name.clone(), acme);
    let h = harness_with_auth(auth, |_| {}).await;
    // The fixture's events are in environment `test`.
    let body = fixture().to_string().into_bytes();
    let (status, answer) = h.post(body.clone(), &[("x-raceway-key", "a1")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("acme"),
        "{answer}"
    );
    let (status, _) = h.post(body.clone(), &[("x-raceway-key", "o1")]).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a key without tenant writes anywhere"
    );
    let mut prod = fixture();
    for event in prod["events"].as_array_mut().unwrap() {
        event["metadata"]["environment"] = json!("prod");
    }
    let (status, answer) = h
        .post(prod.to_string().into_bytes(), &[("x-raceway-key", "a1")])
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

#[tokio::test]
async fn credentials_in_recorded_http_headers_are_redacted_before_storage() {
    let h = harness(|_| {}).await;
    let mut body = fixture();
    body["events"][0]["kind"] = json!({"HttpRequest": {
        "method": "POST", "url": "http://bank/transfer",
        "headers": {"Authorization": "Bearer secret-token", "Cookie": "session=abc", "Accept": "*/*"},
        "body": null
    }});
    let (status, answer) = h.post(body.to_string().into_bytes(), &[]).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let batches = h.produced().await;
    let request = batches[0]
        .events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::HttpRequest(r) => Some(r.clone()),
            _ => None,
        })
        .expect("the HTTP request event");
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    assert_eq!(header("Authorization").as_deref(), Some("[REDACTED]"));
    assert_eq!(header("Cookie").as_deref(), Some("[REDACTED]"));
    assert_eq!(header("Accept").as_deref(), Some("*/*"));
}

#[tokio::test]
async fn a_trace_too_big_for_one_record_is_split_across_records() {
    let h = harness(|c| c.max_record_bytes = 600).await;
    let (status, answer) = h.post(fixture().to_string().into_bytes(), &[]).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let batches = h.produced().await;
    assert!(batches.len() > 1, "split into {} records", batches.len());
    let events: usize = batches.iter().map(|b| b.events.len()).sum();
    assert_eq!(events, 3);
}

#[tokio::test]
async fn a_missing_topic_is_a_500_that_says_to_migrate() {
    let h = harness(|c| c.events_topic = "missing-topic".into()).await;
    let (status, answer) = h.post(fixture().to_string().into_bytes(), &[]).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("raceway migrate"),
        "{answer}"
    );
}

#[tokio::test]
async fn when_the_broker_is_down_the_answer_is_503_with_retry_after() {
    // A Kafka bus whose broker does not exist: nothing can become durable.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    let bus: Arc<dyn Bus> = Arc::new(KafkaBus::new(&addr).unwrap());
    let mut config = GatewayConfig::new(TOPIC);
    config.produce_timeout = Duration::from_millis(500);
    let metrics = GatewayMetrics::register(&prometheus::Registry::new()).unwrap();
    let router = raceway_gateway::router(GatewayState::new(config, bus, metrics))
        .split_for_parts()
        .0;
    let response = router
        .oneshot(
            Request::post("/events")
                .header("content-type", "application/json")
                .body(Body::from(fixture().to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "1");
}
