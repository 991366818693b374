//! WebSocket connections and subscriptions. A connection item lists the drops it watches, so a
//! disconnect (or a `410 Gone` met by the fan-out) removes every item of the connection.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use serde::Deserialize;

use super::{Store, decode_each, keys, n, s};
use crate::error::Result;
use crate::model::connection::Connection;
use crate::model::push::{PushState, PushWindow, StripeProgress};

/// API Gateway closes a WebSocket connection after two hours; items live a little longer, so a
/// lost `$disconnect` is cleaned by TTL.
const CONNECTION_TTL_SECONDS: i64 = 2 * 3600 + 600;

#[derive(Debug, Clone, Deserialize)]
struct Member {
    connection_id: String,
}

impl Store {
    pub async fn put_connection(&self, connection: &Connection) -> Result<()> {
        let expires = connection.connected_at.timestamp() + CONNECTION_TTL_SECONDS;
        let mut item = super::encode(
            connection,
            keys::ws_connection_key(&connection.connection_id),
        )?;
        item.insert(keys::TTL.into(), n(expires));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await?;
        if let Some(shopper) = &connection.shopper {
            self.put_member(
                keys::ws_shopper_key(shopper, &connection.connection_id),
                &connection.connection_id,
                expires,
            )
            .await?;
        }
        Ok(())
    }

    pub async fn connection(&self, connection_id: &str) -> Result<Option<Connection>> {
        self.get(keys::ws_connection_key(connection_id), true).await
    }

    /// Adds a drop to what a connection watches; `false` if the connection is gone.
    pub async fn watch(&self, connection_id: &str, drop_id: &str) -> Result<bool> {
        let Some(connection) = self.connection(connection_id).await? else {
            return Ok(false);
        };
        let expires = connection.connected_at.timestamp() + CONNECTION_TTL_SECONDS;
        let (pk, sk) = keys::ws_connection_key(connection_id);
        let watched = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .update_expression("SET drops = list_append(if_not_exists(drops, :empty), :drop)")
            .condition_expression("attribute_exists(PK) AND NOT contains(drops, :id)")
            .expression_attribute_values(":empty", AttributeValue::L(vec![]))
            .expression_attribute_values(":drop", AttributeValue::L(vec![s(drop_id)]))
            .expression_attribute_values(":id", s(drop_id))
            .send()
            .await;
        // Already watching: the condition refuses, nothing to add.
        super::condition_met(watched)?;
        self.put_member(
            keys::ws_watcher_key(drop_id, connection_id),
            connection_id,
            expires,
        )
        .await?;
        Ok(true)
    }

    pub async fn unwatch(&self, connection_id: &str, drop_id: &str) -> Result<()> {
        self.delete(keys::ws_watcher_key(drop_id, connection_id))
            .await?;
        if let Some(connection) = self.connection(connection_id).await? {
            let remaining: Vec<AttributeValue> = connection
                .drops
                .iter()
                .filter(|watched| *watched != drop_id)
                .map(s)
                .collect();
            let (pk, sk) = keys::ws_connection_key(connection_id);
            let updated = self
                .client
                .update_item()
                .table_name(&self.table)
                .key(keys::PK, s(pk))
                .key(keys::SK, s(sk))
                .update_expression("SET drops = :drops")
                .condition_expression("attribute_exists(PK)")
                .expression_attribute_values(":drops", AttributeValue::L(remaining))
                .send()
                .await;
            // Gone meanwhile: nothing left to update.
            super::condition_met(updated)?;
        }
        Ok(())
    }

    /// Removes a connection and everything filed under it.
    pub async fn forget_connection(&self, connection_id: &str) -> Result<()> {
        if let Some(connection) = self.connection(connection_id).await? {
            for drop_id in &connection.drops {
                self.delete(keys::ws_watcher_key(drop_id, connection_id))
                    .await?;
            }
            if let Some(shopper) = &connection.shopper {
                self.delete(keys::ws_shopper_key(shopper, connection_id))
                    .await?;
            }
        }
        self.delete(keys::ws_connection_key(connection_id)).await
    }

    /// Connections watching a drop: every stripe, read in parallel.
    pub async fn watchers(&self, drop_id: &str) -> Result<Vec<String>> {
        let stripes =
            futures::future::try_join_all((0..keys::WATCHER_STRIPES).map(|stripe| {
                self.connection_members(keys::ws_watchers_partition(drop_id, stripe))
            }))
            .await?;
        Ok(stripes.into_iter().flatten().collect())
    }

    /// Up to `limit` watchers of one stripe, in connection-id order, after `after`; and whether
    /// there may be more.
    pub async fn watcher_page(
        &self,
        drop_id: &str,
        stripe: u32,
        after: Option<&str>,
        limit: i32,
    ) -> Result<(Vec<String>, bool)> {
        let partition = keys::ws_watchers_partition(drop_id, stripe);
        let start = after.map(|connection_id| {
            HashMap::from([
                (keys::PK.to_string(), s(&partition)),
                (keys::SK.to_string(), s(connection_id)),
            ])
        });
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s(&partition))
            .set_exclusive_start_key(start)
            .limit(limit)
            .send()
            .await?;
        let more = output.last_evaluated_key.is_some();
        let members = decode_each::<Member>(output.items.unwrap_or_default(), "connection member");
        Ok((members.into_iter().map(|m| m.connection_id).collect(), more))
    }

    /// Where the pushes of a drop stand.
    pub async fn push_state(&self, drop_id: &str) -> Result<Option<PushState>> {
        self.get(keys::push_state_key(drop_id), true).await
    }

    /// Takes the drop's push window for `message_id` if the last message is at least `window_ms`
    /// old (or is this one: a retry of the fan-out that took it).
    pub async fn take_push_window(
        &self,
        drop_id: &str,
        message_id: &str,
        now_ms: i64,
        window_ms: i64,
    ) -> Result<PushWindow> {
        let (pk, sk) = keys::push_state_key(drop_id);
        let taken = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .update_expression("SET pushed_at = :now, message_id = :id REMOVE owed_since, handoff")
            .condition_expression(
                "attribute_not_exists(pushed_at) OR pushed_at <= :window_start OR message_id = :id",
            )
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":id", s(message_id))
            .expression_attribute_values(":window_start", n(now_ms - window_ms))
            .return_values(ReturnValue::UpdatedOld)
            .send()
            .await;
        Ok(match taken {
            Ok(output) => {
                let previous = output
                    .attributes
                    .and_then(|old| old.get("message_id").cloned());
                if previous == Some(s(message_id)) {
                    PushWindow::Retaken
                } else {
                    PushWindow::Taken
                }
            }
            refused => {
                super::condition_met(refused)?;
                PushWindow::Held
            }
        })
    }

    /// Notes that the drop changed after its window's message: a push is owed when the window
    /// ends. Only the first change of a window writes (the write is what brings the fan-out back).
    pub async fn owe_push(&self, drop_id: &str, now_ms: i64) -> Result<()> {
        let (pk, sk) = keys::push_state_key(drop_id);
        let owed = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .update_expression("SET owed_since = :now")
            .condition_expression(
                "attribute_exists(pushed_at) AND attribute_not_exists(owed_since)",
            )
            .expression_attribute_values(":now", n(now_ms))
            .send()
            .await;
        super::condition_met(owed).map(|_| ())
    }

    /// Touches the push state while an owed push waits for its window: the write comes back to
    /// the fan-out through the stream, which is the timer.
    pub async fn wake_push_later(&self, drop_id: &str, now_ms: i64) -> Result<()> {
        let (pk, sk) = keys::push_state_key(drop_id);
        let woken = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .update_expression("SET woken_at = :now")
            .condition_expression("attribute_exists(owed_since)")
            .expression_attribute_values(":now", n(now_ms))
            .send()
            .await;
        super::condition_met(woken).map(|_| ())
    }

    /// Hands the rest of `message_id`'s push to the next fan-out (the write comes back through
    /// the stream; each stripe's progress says where to go on).
    pub async fn hand_off_push(&self, drop_id: &str, message_id: &str, now_ms: i64) -> Result<()> {
        let (pk, sk) = keys::push_state_key(drop_id);
        let handed = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .update_expression("SET handoff = :id, handed_off_at = :now")
            .condition_expression("message_id = :id")
            .expression_attribute_values(":id", s(message_id))
            .expression_attribute_values(":now", n(now_ms))
            .send()
            .await;
        super::condition_met(handed).map(|_| ())
    }

    /// The push of `message_id` reached every stripe: nothing more to hand on.
    pub async fn finish_push(&self, drop_id: &str, message_id: &str) -> Result<()> {
        let (pk, sk) = keys::push_state_key(drop_id);
        let finished = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .update_expression("REMOVE handoff")
            .condition_expression("handoff = :id")
            .expression_attribute_values(":id", s(message_id))
            .send()
            .await;
        super::condition_met(finished).map(|_| ())
    }

    pub async fn stripe_progress(
        &self,
        drop_id: &str,
        stripe: u32,
    ) -> Result<Option<StripeProgress>> {
        self.get(keys::stripe_progress_key(drop_id, stripe), true)
            .await
    }

    pub async fn record_stripe_progress(
        &self,
        drop_id: &str,
        stripe: u32,
        progress: &StripeProgress,
    ) -> Result<()> {
        let (pk, sk) = keys::stripe_progress_key(drop_id, stripe);
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .expression_attribute_values(":id", s(&progress.message_id))
            .expression_attribute_values(
                ":missed",
                AttributeValue::L(progress.missed.iter().map(s).collect()),
            )
            .expression_attribute_values(":done", AttributeValue::Bool(progress.done))
            .expression_attribute_values(
                ":ttl",
                n(chrono::Utc::now().timestamp() + CONNECTION_TTL_SECONDS),
            );
        update = match &progress.after {
            Some(after) => update
                .update_expression(
                    "SET message_id = :id, #after = :after, missed = :missed, #done = :done, #ttl = :ttl",
                )
                .expression_attribute_values(":after", s(after)),
            None => update.update_expression(
                "SET message_id = :id, missed = :missed, #done = :done, #ttl = :ttl REMOVE #after",
            ),
        };
        update
            .expression_attribute_names("#after", "after")
            .expression_attribute_names("#done", "done")
            .expression_attribute_names("#ttl", keys::TTL)
            .send()
            .await?;
        Ok(())
    }

    /// A shopper's connections.
    pub async fn shopper_connections(&self, shopper: &str) -> Result<Vec<String>> {
        self.connection_members(keys::ws_shopper_partition(shopper))
            .await
    }

    async fn connection_members(&self, partition: String) -> Result<Vec<String>> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s(partition));
        Ok(
            decode_each::<Member>(self.query_all(query).await?, "connection member")
                .into_iter()
                .map(|member| member.connection_id)
                .collect(),
        )
    }

    async fn put_member(
        &self,
        (pk, sk): keys::Key,
        connection_id: &str,
        expires: i64,
    ) -> Result<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item(keys::PK, s(pk))
            .item(keys::SK, s(sk))
            .item("connection_id", s(connection_id))
            .item(keys::TTL, n(expires))
            .send()
            .await?;
        Ok(())
    }

    async fn delete(&self, (pk, sk): keys::Key) -> Result<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .send()
            .await?;
        Ok(())
    }
}
