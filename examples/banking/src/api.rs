//! The public API (`bank-api`): `POST /withdrawals {account, amount}`.
//!
//! A withdrawal charges the bank's fee by publishing a transfer to the transfers topic (the
//! worker applies it), then takes the amount out of the ledger. In [`Mode::Racy`] it does so by
//! reading the balance, checking it, and writing back the balance minus the amount: the fee the
//! worker applies meanwhile is lost.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use raceway_sdk::propagation::messages::send_headers;
use raceway_sdk::{with_current, RacewayLayer, Tracer, Var};
use serde::Deserialize;

use crate::ledger::LedgerClient;
use crate::queue::{Transfer, TransferQueue, TRANSFERS_TOPIC};
use crate::{balance_variable, BankError, BankOptions, Mode, WithdrawalReceipt};

/// What the API's handlers share.
#[derive(Clone)]
pub struct ApiState {
    /// The bank's settings.
    pub options: BankOptions,
    /// The ledger.
    pub ledger: LedgerClient,
    /// The transfers topic.
    pub queue: Arc<dyn TransferQueue>,
    /// Transfers published and not yet applied.
    pub in_flight: Arc<AtomicUsize>,
}

/// A withdrawal request.
#[derive(Debug, Deserialize)]
pub struct Withdrawal {
    /// The account.
    pub account: String,
    /// The amount.
    pub amount: i64,
}

/// The API's routes, traced with `tracer`.
pub fn router(tracer: Tracer, state: ApiState) -> Router {
    Router::new()
        .route("/withdrawals", post(withdraw))
        .with_state(state)
        .layer(RacewayLayer::new(tracer))
}

async fn withdraw(
    State(state): State<ApiState>,
    Json(request): Json<Withdrawal>,
) -> Result<Json<WithdrawalReceipt>, (StatusCode, String)> {
    let trace_id = with_current(|actor| actor.trace_id()).unwrap_or_default();
    withdraw_traced(&state, &request)
        .await
        .map(|balance| Json(WithdrawalReceipt { trace_id, balance }))
        .map_err(|error| {
            with_current(|actor| actor.error(&error));
            (StatusCode::BAD_GATEWAY, error.to_string())
        })
}

async fn withdraw_traced(state: &ApiState, request: &Withdrawal) -> Result<i64, BankError> {
    let account = request.account.as_str();
    // The fee goes through the worker, asynchronously.
    let fee = Transfer {
        account: account.to_string(),
        delta: -state.options.fee,
        reason: "withdrawal fee".to_string(),
    };
    let headers = with_current(|actor| send_headers(actor, TRANSFERS_TOPIC, Some(account)))
        .unwrap_or_default();
    state.in_flight.fetch_add(1, Ordering::SeqCst);
    if let Err(error) = state.queue.publish(&fee, headers).await {
        state.in_flight.fetch_sub(1, Ordering::SeqCst);
        return Err(error);
    }

    if state.options.mode == Mode::Safe {
        return state.ledger.adjust(account, -request.amount).await;
    }
    // The bug: read, check, write back, in three steps.
    let variable = balance_variable(account);
    let balance = state.ledger.balance(account).await?;
    with_current(|actor| actor.read(Var::shared(&variable), &balance));
    tokio::time::sleep(state.options.think_time).await; // fraud check
    let new_balance = balance - request.amount;
    with_current(|actor| actor.write(Var::shared(&variable), &balance, &new_balance));
    state.ledger.set_balance(account, new_balance).await?;
    Ok(new_balance)
}
