//! A small bank with a real distributed race, instrumented with the Raceway SDK.
//!
//! - [`ledger`]: the ledger service, holding balances behind an HTTP API (service `bank-ledger`).
//! - [`api`]: the public API (service `bank-api`): `POST /withdrawals` charges a fee through the
//!   transfers topic and withdraws the amount from the ledger.
//! - [`worker`]: consumes the transfers topic and applies each transfer to the ledger (service
//!   `bank-worker`).
//!
//! The bug: the API and the worker both update a balance by reading it from the ledger, working
//! a little, and writing it back (two HTTP calls). Each call is atomic in the ledger, the whole
//! update is not: when a fee and a withdrawal of the same account overlap, one overwrites the
//! other (a lost update, across two services). With [`Mode::Safe`] both ask the ledger to apply
//! the change under its lock instead (`POST /accounts/{id}/adjust`), and nothing is lost.
//!
//! The transfers topic is a [`queue::TransferQueue`]: an in-process queue
//! ([`queue::InProcessQueue`]) or a Kafka topic ([`queue::KafkaQueue`], feature `kafka`); both
//! carry the trace context in message headers with the SDK's Kafka header helpers.

pub mod api;
pub mod ledger;
pub mod queue;
pub mod worker;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use raceway_sdk::{SdkError, Tracer, TracerStats};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::queue::TransferQueue;

/// The shared variable of an account's balance (a row of the ledger).
pub fn balance_variable(account: &str) -> String {
    format!("account:{account}.balance")
}

/// How the API and the worker update balances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Read the balance, work, write it back: loses updates.
    Racy,
    /// Ask the ledger to apply the change atomically.
    Safe,
}

/// Settings of the bank.
#[derive(Debug, Clone)]
pub struct BankOptions {
    /// Racy or safe updates.
    pub mode: Mode,
    /// Time between reading a balance and writing it back (the "fraud check"); the window in
    /// which updates get lost.
    pub think_time: Duration,
    /// The fee the API charges per withdrawal, as a transfer through the worker.
    pub fee: i64,
    /// Opening balances.
    pub accounts: Vec<(String, i64)>,
}

impl Default for BankOptions {
    fn default() -> BankOptions {
        BankOptions {
            mode: Mode::Racy,
            think_time: Duration::from_millis(100),
            fee: 5,
            accounts: vec![("alice".to_string(), 100), ("bob".to_string(), 50)],
        }
    }
}

/// Why the bank failed.
#[derive(Debug, thiserror::Error)]
pub enum BankError {
    /// A tracer could not be created or flushed.
    #[error("raceway SDK: {0}")]
    Sdk(#[from] SdkError),
    /// A service could not listen.
    #[error("cannot listen: {0}")]
    Io(#[from] std::io::Error),
    /// A call between services failed.
    #[error("HTTP call failed: {0}")]
    Http(#[from] reqwest::Error),
    /// A service answered with an error.
    #[error("{service} answered {status}: {body}")]
    Status {
        /// The answering service.
        service: &'static str,
        /// Its status code.
        status: u16,
        /// Its answer.
        body: String,
    },
    /// The transfers queue failed.
    #[error("transfers queue: {0}")]
    Queue(String),
    /// A message or answer was not the expected JSON.
    #[error("bad JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// The three services running in this process, each with its own tracer.
pub struct Bank {
    /// Where the API listens.
    pub api_addr: SocketAddr,
    /// Where the ledger listens.
    pub ledger_addr: SocketAddr,
    tracers: Vec<Tracer>,
    tasks: Vec<JoinHandle<()>>,
    http: reqwest::Client,
    /// Transfers published and not yet applied by the worker.
    in_flight: Arc<AtomicUsize>,
}

/// The answer of `POST /withdrawals`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct WithdrawalReceipt {
    /// The trace the withdrawal was recorded in.
    pub trace_id: Uuid,
    /// The balance the API wrote (or the ledger computed, in safe mode).
    pub balance: i64,
}

impl Bank {
    /// Starts the ledger, the API and the worker on free local ports. `tracer_for(service)`
    /// creates each service's tracer (its sink decides where events go).
    pub async fn start(
        options: BankOptions,
        tracer_for: impl Fn(&str) -> Result<Tracer, SdkError>,
        queue: Arc<dyn TransferQueue>,
    ) -> Result<Bank, BankError> {
        let (ledger_tracer, api_tracer, worker_tracer) = (
            tracer_for("bank-ledger")?,
            tracer_for("bank-api")?,
            tracer_for("bank-worker")?,
        );
        let (ledger_addr, ledger_task) =
            serve(ledger::router(ledger_tracer.clone(), &options.accounts)).await?;
        let ledger = ledger::LedgerClient::new(format!("http://{ledger_addr}"));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let state = api::ApiState {
            options: options.clone(),
            ledger: ledger.clone(),
            queue: queue.clone(),
            in_flight: in_flight.clone(),
        };
        let (api_addr, api_task) = serve(api::router(api_tracer.clone(), state)).await?;
        let worker = worker::Worker {
            tracer: worker_tracer.clone(),
            options: options.clone(),
            ledger,
            queue,
            in_flight: in_flight.clone(),
        };
        let ready = worker.queue.clone();
        let worker_task = tokio::spawn(worker.run());
        ready.ready(Duration::from_secs(30)).await?;
        Ok(Bank {
            api_addr,
            ledger_addr,
            tracers: vec![api_tracer, worker_tracer, ledger_tracer],
            tasks: vec![ledger_task, api_task, worker_task],
            http: reqwest::Client::new(),
            in_flight,
        })
    }

    /// A customer withdraws `amount` from `account` through the API.
    pub async fn withdraw(
        &self,
        account: &str,
        amount: i64,
    ) -> Result<WithdrawalReceipt, BankError> {
        let response = self
            .http
            .post(format!("http://{}/withdrawals", self.api_addr))
            .json(&serde_json::json!({ "account": account, "amount": amount }))
            .send()
            .await?;
        Ok(expect_success("bank-api", response).await?.json().await?)
    }

    /// The balance the ledger holds now (an untraced read).
    pub async fn balance(&self, account: &str) -> Result<i64, BankError> {
        ledger::LedgerClient::new(format!("http://{}", self.ledger_addr))
            .balance_untraced(account)
            .await
    }

    /// Waits until the worker has applied every transfer published so far (bounded by
    /// `timeout`), so that a trace is complete before the tracers are flushed.
    pub async fn settle(&self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.in_flight.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Delivers every tracer's buffered events, stops the services, and returns each
    /// service's recording counters.
    pub async fn shutdown(self) -> Result<Vec<(String, TracerStats)>, BankError> {
        for task in &self.tasks {
            task.abort();
        }
        let mut stats = Vec::new();
        for tracer in &self.tracers {
            tracer.shutdown().await?;
            stats.push((tracer.config().service.clone(), tracer.stats()));
        }
        Ok(stats)
    }
}

/// Serves `router` on a free local port.
async fn serve(router: axum::Router) -> Result<(SocketAddr, JoinHandle<()>), BankError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "bank service stopped");
        }
    });
    Ok((addr, task))
}

/// The response, or [`BankError::Status`] for an error status.
pub(crate) async fn expect_success(
    service: &'static str,
    response: reqwest::Response,
) -> Result<reqwest::Response, BankError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    Err(BankError::Status {
        service,
        status: status.as_u16(),
        body: response.text().await.unwrap_or_default(),
    })
}
