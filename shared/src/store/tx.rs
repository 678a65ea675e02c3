//! `TransactWriteItems` with typed cancellation reasons.
//!
//! DynamoDB cancels a whole transaction when one action's condition fails and says why per
//! action, in order, as a code string. [`Reason`] is that code as a type, and
//! [`TxOutcome::Cancelled`] answers "did action `i` fail its condition?" without indexing
//! strings.

use super::{Store, classify};
use crate::domain::StoreError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::TransactWriteItem;
use std::time::Duration;

/// How often a write is retried when DynamoDB cancels it for a conflicting transaction.
const CONFLICT_RETRIES: u32 = 4;

/// Why one action of a cancelled transaction did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Reason {
    /// The action was fine; another one cancelled the transaction (code `None`).
    Fine,
    /// Its condition expression was false.
    ConditionalCheckFailed,
    /// Another transaction was changing the same item (real DynamoDB only).
    TransactionConflict,
    /// Anything else (throttling, validation, item size), kept as DynamoDB's code.
    Other(String),
}

impl Reason {
    fn from_code(code: Option<&str>) -> Self {
        match code {
            None | Some("None") => Self::Fine,
            Some("ConditionalCheckFailed") => Self::ConditionalCheckFailed,
            Some("TransactionConflict") => Self::TransactionConflict,
            Some(other) => Self::Other(other.to_string()),
        }
    }
}

/// How a transaction ended.
#[derive(Debug)]
pub(super) enum TxOutcome {
    /// Every action was applied.
    Committed,
    /// Cancelled because of conditions: one reason per action, in the order they were sent.
    Cancelled(Vec<Reason>),
}

impl TxOutcome {
    /// True when the transaction was cancelled and action `i` is one whose condition failed.
    pub(super) fn failed(&self, i: usize) -> bool {
        matches!(self, Self::Cancelled(r) if r.get(i) == Some(&Reason::ConditionalCheckFailed))
    }
}

impl Store {
    /// Runs a transaction. Conflicts with other transactions are retried here with a short
    /// jittered backoff (the SDK does not retry them); condition failures come back as
    /// [`TxOutcome::Cancelled`]; anything else is a [`StoreError`].
    pub(super) async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<TxOutcome, StoreError> {
        let mut attempt = 0;
        loop {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(TxOutcome::Committed),
                Err(err) => err,
            };
            let reasons: Option<Vec<Reason>> = match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(e)) => Some(
                    e.cancellation_reasons()
                        .iter()
                        .map(|r| Reason::from_code(r.code()))
                        .collect(),
                ),
                _ => None,
            };
            match reasons {
                Some(r) if r.contains(&Reason::TransactionConflict) => {
                    attempt += 1;
                    if attempt > CONFLICT_RETRIES {
                        return Err(StoreError::Unavailable(
                            "transaction conflict persisted after retries".into(),
                        ));
                    }
                    let jitter = rand::random_range(0..20u64);
                    tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt) + jitter))
                        .await;
                }
                Some(r) if r.contains(&Reason::ConditionalCheckFailed) => {
                    return Ok(TxOutcome::Cancelled(r));
                }
                _ => return Err(classify(err)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancellation_codes_become_reasons() {
        assert_eq!(Reason::from_code(None), Reason::Fine);
        assert_eq!(Reason::from_code(Some("None")), Reason::Fine);
        assert_eq!(
            Reason::from_code(Some("ConditionalCheckFailed")),
            Reason::ConditionalCheckFailed
        );
        assert_eq!(
            Reason::from_code(Some("ItemCollectionSizeLimitExceeded")),
            Reason::Other("ItemCollectionSizeLimitExceeded".into())
        );
    }

    #[test]
    fn failed_names_only_the_actions_whose_condition_failed() {
        let outcome = TxOutcome::Cancelled(vec![Reason::Fine, Reason::ConditionalCheckFailed]);
        assert!(!outcome.failed(0));
        assert!(outcome.failed(1));
        assert!(!outcome.failed(2));
        assert!(!TxOutcome::Committed.failed(0));
    }
}
