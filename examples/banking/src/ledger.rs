//! The ledger service (`bank-ledger`): balances behind HTTP, and its client.
//!
//! `GET /accounts/{id}` and `PUT /accounts/{id}` read and write one balance, each under the
//! ledger's lock: every single call is atomic. `POST /accounts/{id}/adjust` applies a change
//! under the lock in one step, recording the read and the write of the balance here: the safe
//! way to update.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use raceway_sdk::{with_current, RacewayLayer, TracedRequest, Tracer, TrackedMutex, Var};
use serde::{Deserialize, Serialize};

use crate::{balance_variable, expect_success, BankError};

/// The ledger's balances, behind a tracked lock (its release -> acquire edges order the
/// handlers that touch the books).
type Books = Arc<TrackedMutex<HashMap<String, i64>>>;

/// A balance, as the ledger's API carries it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Balance {
    /// The amount.
    pub balance: i64,
}

/// A change to apply to a balance.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Adjustment {
    /// Added to the balance (negative to take money out).
    pub delta: i64,
}

/// The ledger's routes, traced with `tracer`, opening `accounts`.
pub fn router(tracer: Tracer, accounts: &[(String, i64)]) -> Router {
    let books: Books = Arc::new(TrackedMutex::new(
        "ledger-books",
        accounts.iter().cloned().collect(),
    ));
    Router::new()
        .route("/accounts/{id}", get(read_balance).put(write_balance))
        .route("/accounts/{id}/adjust", post(adjust_balance))
        .with_state(books)
        .layer(RacewayLayer::new(tracer))
}

async fn read_balance(
    State(books): State<Books>,
    Path(id): Path<String>,
) -> Result<Json<Balance>, StatusCode> {
    let balance = with_books(&books, |books| books.get(&id).copied())?;
    balance
        .map(|balance| Json(Balance { balance }))
        .ok_or(StatusCode::NOT_FOUND)
}

async fn write_balance(
    State(books): State<Books>,
    Path(id): Path<String>,
    Json(new): Json<Balance>,
) -> Result<Json<Balance>, StatusCode> {
    with_books(&books, |books| books.insert(id, new.balance))?;
    Ok(Json(new))
}

async fn adjust_balance(
    State(books): State<Books>,
    Path(id): Path<String>,
    Json(change): Json<Adjustment>,
) -> Result<Json<Balance>, StatusCode> {
    let variable = balance_variable(&id);
    let applied = with_current(|actor| {
        let mut guard = match books.lock(actor) {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let (books, actor) = guard.split();
        let old = *books.get(&id)?;
        actor.read(Var::shared(&variable), &old);
        let new = old + change.delta;
        actor.write(Var::shared(&variable), &old, &new);
        books.insert(id.clone(), new);
        Some(new)
    })
    .ok_or(StatusCode::INTERNAL_SERVER_ERROR)?;
    applied
        .map(|balance| Json(Balance { balance }))
        .ok_or(StatusCode::NOT_FOUND)
}

/// Runs `f` on the books under the lock, as the request's actor.
fn with_books<R>(
    books: &Books,
    f: impl FnOnce(&mut HashMap<String, i64>) -> R,
) -> Result<R, StatusCode> {
    with_current(|actor| {
        let mut guard = match books.lock(actor) {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    })
    .ok_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The ledger's HTTP client, used by the API and the worker; calls carry the trace context.
#[derive(Debug, Clone)]
pub struct LedgerClient {
    http: reqwest::Client,
    base: String,
}

impl LedgerClient {
    /// A client of the ledger at `base` (`http://host:port`).
    pub fn new(base: String) -> LedgerClient {
        LedgerClient {
            http: reqwest::Client::new(),
            base,
        }
    }

    /// `GET /accounts/{id}`, traced with the task's current actor.
    pub async fn balance(&self, account: &str) -> Result<i64, BankError> {
        let request = self.http.get(self.url(account));
        let response = expect_success("bank-ledger", request.send_traced().await?).await?;
        Ok(response.json::<Balance>().await?.balance)
    }

    /// `GET /accounts/{id}` without trace context (for checks from outside the bank).
    pub async fn balance_untraced(&self, account: &str) -> Result<i64, BankError> {
        let response = self.http.get(self.url(account)).send().await?;
        let response = expect_success("bank-ledger", response).await?;
        Ok(response.json::<Balance>().await?.balance)
    }

    /// `PUT /accounts/{id}`, traced.
    pub async fn set_balance(&self, account: &str, balance: i64) -> Result<(), BankError> {
        let request = self.http.put(self.url(account)).json(&Balance { balance });
        expect_success("bank-ledger", request.send_traced().await?).await?;
        Ok(())
    }

    /// `POST /accounts/{id}/adjust`, traced; returns the new balance.
    pub async fn adjust(&self, account: &str, delta: i64) -> Result<i64, BankError> {
        let request = self
            .http
            .post(format!("{}/adjust", self.url(account)))
            .json(&Adjustment { delta });
        let response = expect_success("bank-ledger", request.send_traced().await?).await?;
        Ok(response.json::<Balance>().await?.balance)
    }

    fn url(&self, account: &str) -> String {
        format!("{}/accounts/{account}", self.base)
    }
}
