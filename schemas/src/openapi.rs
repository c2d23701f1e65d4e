//! OpenAPI schemas of the shapes the HTTP APIs exchange that this crate defines: the Raceway JSON
//! wire format of an event ([`WireEvent`], what `POST /events` takes and the query API returns)
//! and vector clocks as `[[component, counter], ...]` ([`clock_pairs`]).
//!
//! The wire format is produced by hand in [`crate::json`] (it must accept every SDK's variant),
//! so these types only describe it: the query API's schema tests validate real answers against
//! them, which is what keeps the two in step.

use utoipa::openapi::schema::{Array, ArrayItems, Object, Schema, Type};
use utoipa::ToSchema;

/// A vector clock: `[[component, counter], ...]`, each pair a two-item array.
pub fn clock_pairs() -> Array {
    let pair = Array::builder()
        .prefix_items([
            Schema::Object(Object::with_type(Type::String)),
            Schema::Object(
                Object::builder()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .build(),
            ),
        ])
        .items(ArrayItems::False)
        .min_items(Some(2))
        .max_items(Some(2))
        .build();
    Array::new(pair)
}

/// One event in the Raceway JSON wire format.
#[derive(ToSchema)]
#[allow(dead_code)] // Describes JSON written by `crate::json`; never built.
pub struct WireEvent {
    /// The event's id (UUID).
    id: String,
    /// The trace it belongs to (UUID).
    trace_id: String,
    /// The event that caused it, if any.
    parent_id: Option<String>,
    /// RFC 3339.
    timestamp: String,
    /// Externally tagged: `{"StateChange": {...}}`, `{"FunctionCall": {...}}`, ...
    #[schema(value_type = Object)]
    kind: serde_json::Value,
    metadata: WireMetadata,
    /// The clock the SDK sent (empty when it sent none).
    #[schema(schema_with = clock_pairs)]
    causality_vector: Vec<(String, u64)>,
    /// Locks the SDK says were held (the existing SDKs send `[]`).
    lock_set: Vec<String>,
}

/// An event's `metadata` in the wire format.
#[derive(ToSchema)]
#[allow(dead_code)] // Describes JSON written by `crate::json`; never built.
pub struct WireMetadata {
    thread_id: String,
    process_id: u32,
    service_name: String,
    environment: String,
    tags: std::collections::BTreeMap<String, String>,
    duration_ns: Option<u64>,
    instance_id: Option<String>,
    distributed_span_id: Option<String>,
    upstream_span_id: Option<String>,
}
