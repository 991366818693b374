//! The transaction machinery: a `TransactWriteItems` built action by action, each action with
//! the role of the item it writes, and sent so that a cancellation comes back decoded by role
//! (`TransactOutcome`), never by position. The business transactions that use it are in
//! `ledger`, `drops` and `queue`.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, Put, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};

use super::{Item, Store, keys, s};
use crate::error::{ApiError, Result, StoreError, THROTTLING_CODES};

/// Which item an action of a transaction writes. A cancellation is decoded by the role of the
/// action that refused, never by its position in the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// The shopper's claim record for the drop (`USER#…` / `CLAIM#…`).
    ClaimRecord,
    Reservation,
    /// An inventory shard.
    Shard,
    Order,
    /// The PaymentIntent → order link.
    PaymentLink,
    /// A drop's own item.
    Drop,
    /// A shopper's queue ticket.
    Ticket,
    /// A queue member item (who joined, for the draw or the sequencer).
    Member,
    /// A join fence: the draw of the member's section has not begun.
    Fence,
    /// A queue's state, under its version.
    QueueState,
    /// A page of numbered arrivals.
    ArrivalPage,
    /// A striped counter (never refuses).
    Counter,
}

/// A `TransactWriteItems` being built: each action with its role.
pub(super) struct Transaction {
    name: &'static str,
    actions: Vec<TransactWriteItem>,
    roles: Vec<Role>,
}

impl Transaction {
    pub(super) fn new(name: &'static str) -> Self {
        Self {
            name,
            actions: Vec::new(),
            roles: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, role: Role, action: TransactWriteItem) {
        self.actions.push(action);
        self.roles.push(role);
    }
}

/// How a transaction ended: what DynamoDB did with it.
pub(super) enum TransactOutcome {
    Committed,
    /// Cancelled by contention: another transaction held one of its items, or the partition
    /// was throttled. Retried with backoff.
    Contended,
    /// Cancelled by a condition: the role of the first action that refused, and its reason.
    Refused {
        role: Role,
        reason: CancellationReason,
        reasons: Vec<CancellationReason>,
    },
}

/// One `Update` action, built up fluently.
pub(super) struct UpdateAction {
    key: keys::Key,
    expression: String,
    condition: Option<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
    return_old_on_refusal: bool,
}

impl UpdateAction {
    pub(super) fn new(key: keys::Key, expression: impl Into<String>) -> Self {
        Self {
            key,
            expression: expression.into(),
            condition: None,
            names: HashMap::new(),
            values: HashMap::new(),
            return_old_on_refusal: false,
        }
    }

    pub(super) fn when(mut self, condition: impl Into<String>) -> Self {
        self.condition = Some(condition.into());
        self
    }

    pub(super) fn name(mut self, placeholder: &str, attribute: &str) -> Self {
        self.names.insert(placeholder.into(), attribute.into());
        self
    }

    pub(super) fn value(mut self, placeholder: &str, value: AttributeValue) -> Self {
        self.values.insert(placeholder.into(), value);
        self
    }

    pub(super) fn returning_old_on_refusal(mut self) -> Self {
        self.return_old_on_refusal = true;
        self
    }

    pub(super) fn build(self, table: &str) -> Result<TransactWriteItem> {
        let (pk, sk) = self.key;
        let update = Update::builder()
            .table_name(table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .update_expression(self.expression)
            .set_condition_expression(self.condition)
            .set_expression_attribute_names((!self.names.is_empty()).then_some(self.names))
            .set_expression_attribute_values((!self.values.is_empty()).then_some(self.values))
            .set_return_values_on_condition_check_failure(
                self.return_old_on_refusal
                    .then_some(ReturnValuesOnConditionCheckFailure::AllOld),
            )
            .build()?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    pub(super) fn with_expression(mut self, expression: impl Into<String>) -> Self {
        self.expression = expression.into();
        self
    }
}

impl Store {
    pub(super) async fn transact(
        &self,
        transaction: Transaction,
        token: Option<String>,
    ) -> Result<TransactOutcome> {
        let sent = self
            .client
            .transact_write_items()
            .set_transact_items(Some(transaction.actions))
            .set_client_request_token(token)
            .send()
            .await;
        let reasons = match sent {
            Ok(_) => return Ok(TransactOutcome::Committed),
            Err(err) => match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                    cancelled.cancellation_reasons().to_vec()
                }
                // The same token is still being applied by an earlier try of this attempt.
                Some(TransactWriteItemsError::TransactionInProgressException(_)) => {
                    return Ok(TransactOutcome::Contended);
                }
                _ => return Err(err.into()),
            },
        };
        let contended = reasons.iter().any(|reason| {
            reason.code().is_some_and(|code| {
                code == "TransactionConflict" || THROTTLING_CODES.contains(&code)
            })
        });
        if contended {
            return Ok(TransactOutcome::Contended);
        }
        match reasons
            .iter()
            .position(|reason| reason.code() == Some("ConditionalCheckFailed"))
        {
            Some(index) => Ok(TransactOutcome::Refused {
                role: transaction.roles[index],
                reason: reasons[index].clone(),
                reasons,
            }),
            None => Err(StoreError::Refused {
                transaction: transaction.name,
                role: "no condition".into(),
                reasons: format!("{reasons:?}"),
            }
            .into()),
        }
    }

    /// A transaction that must simply happen: a refusal, or contention that outlasted the SDK's
    /// retries, is an error.
    pub(super) async fn transact_all(&self, transaction: Transaction) -> Result<()> {
        let name = transaction.name;
        match self.transact(transaction, None).await? {
            TransactOutcome::Committed => Ok(()),
            TransactOutcome::Contended => Err(ApiError::Busy),
            TransactOutcome::Refused { role, reasons, .. } => Err(refused(name, role, &reasons)),
        }
    }

    pub(super) fn put_new(&self, item: Item) -> Result<TransactWriteItem> {
        self.put_when(
            item,
            "attribute_not_exists(PK)",
            HashMap::new(),
            HashMap::new(),
        )
    }

    pub(super) fn put_when(
        &self,
        item: Item,
        condition: &str,
        names: HashMap<String, String>,
        values: HashMap<String, AttributeValue>,
    ) -> Result<TransactWriteItem> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_names((!names.is_empty()).then_some(names))
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .build()?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

pub(super) fn refused(
    transaction: &'static str,
    role: Role,
    reasons: &[CancellationReason],
) -> ApiError {
    tracing::error!(
        transaction,
        ?role,
        ?reasons,
        "transaction refused unexpectedly"
    );
    StoreError::Refused {
        transaction,
        role: format!("{role:?}"),
        reasons: format!("{reasons:?}"),
    }
    .into()
}
