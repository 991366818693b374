//! WebSocket connections and subscriptions. A connection item lists the drops it watches, so a
//! disconnect (or a `410 Gone` met by the fan-out) removes every item of the connection.

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Deserialize;

use super::{Store, decode_each, keys, n, s};
use crate::error::Result;
use crate::model::connection::Connection;

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

    /// Connections watching a drop.
    pub async fn watchers(&self, drop_id: &str) -> Result<Vec<String>> {
        self.connection_members(keys::ws_watchers_partition(drop_id))
            .await
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
