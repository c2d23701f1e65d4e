//! The transfer worker (`bank-worker`): applies each transfer of the transfers topic to the
//! ledger. Each message is handled by an actor that continues the publisher's trace from the
//! message headers. In [`Mode::Racy`] it reads the balance, checks it, and writes it back.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use raceway_sdk::propagation::messages::receive;
use raceway_sdk::{with_actor, with_current, Tracer, Var};

use crate::ledger::LedgerClient;
use crate::queue::{Message, TransferQueue, TRANSFERS_TOPIC};
use crate::{balance_variable, BankError, BankOptions, Mode};

/// The worker and what it needs.
pub struct Worker {
    /// The worker's tracer.
    pub tracer: Tracer,
    /// The bank's settings.
    pub options: BankOptions,
    /// The ledger.
    pub ledger: LedgerClient,
    /// The transfers topic.
    pub queue: Arc<dyn TransferQueue>,
    /// Transfers published and not yet applied; decremented here.
    pub in_flight: Arc<AtomicUsize>,
}

impl Worker {
    /// Consumes transfers until the queue closes, each in its own task.
    pub async fn run(self) {
        let worker = Arc::new(self);
        loop {
            let message = match worker.queue.next().await {
                Ok(Some(message)) => message,
                Ok(None) => return,
                Err(error) => {
                    tracing::warn!(%error, "transfers queue failed");
                    continue;
                }
            };
            let worker = worker.clone();
            tokio::spawn(async move {
                if let Err(error) = worker.handle(message).await {
                    tracing::warn!(%error, "transfer not applied");
                }
                worker.in_flight.fetch_sub(1, Ordering::SeqCst);
            });
        }
    }

    async fn handle(&self, message: Message) -> Result<(), BankError> {
        let actor = receive(
            &self.tracer,
            "apply-transfer",
            message.received(TRANSFERS_TOPIC),
            message.header_pairs(),
        );
        let transfer = message.transfer()?;
        let (result, mut actor) = with_actor(actor, self.apply(&transfer)).await;
        if let Err(error) = &result {
            actor.error(error);
        }
        result
    }

    async fn apply(&self, transfer: &crate::queue::Transfer) -> Result<(), BankError> {
        let account = transfer.account.as_str();
        if self.options.mode == Mode::Safe {
            self.ledger.adjust(account, transfer.delta).await?;
            return Ok(());
        }
        // The same bug as the API's: read, check, write back.
        let variable = balance_variable(account);
        let balance = self.ledger.balance(account).await?;
        with_current(|actor| actor.read(Var::shared(&variable), &balance));
        tokio::time::sleep(self.options.think_time).await; // overdraft check
        let new_balance = balance + transfer.delta;
        with_current(|actor| actor.write(Var::shared(&variable), &balance, &new_balance));
        self.ledger.set_balance(account, new_balance).await
    }
}
