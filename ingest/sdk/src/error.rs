//! [`SdkError`]: what can go wrong in the SDK.

/// Errors of the SDK. Recording never returns one: a recording call that cannot queue its event
/// drops it and counts it instead.
#[derive(Debug, thiserror::Error)]
pub enum SdkError {
    /// The background delivery thread or its runtime could not be started.
    #[error("cannot start the delivery thread: {0}")]
    Start(#[source] std::io::Error),
    /// The tracer was shut down, or its delivery thread stopped.
    #[error("the tracer is shut down")]
    ShutDown,
    /// The HTTP client could not be built or the request could not be sent.
    #[cfg(feature = "http")]
    #[error("HTTP transport error: {0}")]
    Http(#[from] reqwest::Error),
    /// The gateway answered with an error status.
    #[error("gateway answered {status}: {body}")]
    Status {
        /// HTTP status code.
        status: u16,
        /// Start of the response body, for diagnosis.
        body: String,
    },
    /// Kafka refused or failed to deliver a record (feature `kafka`).
    #[cfg(feature = "kafka")]
    #[error("Kafka delivery failed: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// The broker failed recently; batches are dropped until the sink tries again.
    #[error("the Kafka broker failed recently; batch dropped without trying")]
    BrokerUnavailable,
    /// A batch could not be encoded as the gateway's JSON (feature `http`).
    #[cfg(feature = "http")]
    #[error("cannot encode the batch as JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A batch could not be encoded as Avro records.
    #[error("cannot encode the batch: {0}")]
    Encode(#[from] raceway_schemas::avro::SplitError),
    /// A propagation header could not be read.
    #[error("malformed {header} header: {reason}")]
    Header {
        /// The header's name.
        header: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// A sink gave up on a batch after retrying.
    #[error("batch dropped after {attempts} attempts: {last}")]
    GaveUp {
        /// How many times delivery was tried.
        attempts: u32,
        /// The last error.
        last: Box<SdkError>,
    },
}

impl SdkError {
    /// True when trying the same delivery again later may succeed: connection problems,
    /// timeouts and the statuses 429, 502, 503 and 504.
    pub fn is_retryable(&self) -> bool {
        match self {
            #[cfg(feature = "http")]
            SdkError::Http(error) => error.is_connect() || error.is_timeout() || error.is_request(),
            SdkError::Status { status, .. } => matches!(status, 429 | 502 | 503 | 504),
            _ => false,
        }
    }
}
