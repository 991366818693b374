//! The table definition, read from the `Table` resource of `template.yaml` — the one source of
//! truth for AWS and for every local or test table.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};
use serde_yaml::Value;

use crate::error::{ApiError, Result};

/// The template, compiled in so tests and tools need no path to it.
pub const TEMPLATE: &str = include_str!("../../../template.yaml");
const TABLE_RESOURCE: &str = "Table";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDefinition {
    pub attributes: Vec<(String, String)>,
    pub key_schema: Vec<(String, String)>,
    pub indexes: Vec<IndexDefinition>,
    pub ttl_attribute: Option<String>,
    /// `NEW_AND_OLD_IMAGES` etc., when the table has a stream.
    pub stream_view_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDefinition {
    pub name: String,
    pub key_schema: Vec<(String, String)>,
    pub projection: String,
}

impl TableDefinition {
    pub fn from_template(template: &str) -> std::result::Result<Self, String> {
        let root: Value =
            serde_yaml::from_str(template).map_err(|e| format!("template.yaml: {e}"))?;
        let properties = &root["Resources"][TABLE_RESOURCE]["Properties"];
        if properties.is_null() {
            return Err(format!(
                "template.yaml has no Resources.{TABLE_RESOURCE}.Properties"
            ));
        }
        let pairs = |list: &Value,
                     name: &str,
                     value: &str|
         -> std::result::Result<Vec<(String, String)>, String> {
            list.as_sequence()
                .ok_or_else(|| format!("{name} must be a list"))?
                .iter()
                .map(|entry| {
                    let field = |key: &str| {
                        entry[key]
                            .as_str()
                            .map(str::to_string)
                            .ok_or_else(|| format!("{name}: missing {key}"))
                    };
                    Ok((field("AttributeName")?, field(value)?))
                })
                .collect()
        };
        let indexes = properties["GlobalSecondaryIndexes"]
            .as_sequence()
            .map(|list| {
                list.iter()
                    .map(|index| {
                        Ok(IndexDefinition {
                            name: index["IndexName"]
                                .as_str()
                                .ok_or("IndexName missing")?
                                .to_string(),
                            key_schema: pairs(&index["KeySchema"], "KeySchema", "KeyType")?,
                            projection: index["Projection"]["ProjectionType"]
                                .as_str()
                                .ok_or("ProjectionType missing")?
                                .to_string(),
                        })
                    })
                    .collect::<std::result::Result<Vec<_>, String>>()
            })
            .transpose()?
            .unwrap_or_default();
        let ttl = &properties["TimeToLiveSpecification"];
        Ok(Self {
            attributes: pairs(
                &properties["AttributeDefinitions"],
                "AttributeDefinitions",
                "AttributeType",
            )?,
            key_schema: pairs(&properties["KeySchema"], "KeySchema", "KeyType")?,
            indexes,
            ttl_attribute: (ttl["Enabled"].as_bool() == Some(true))
                .then(|| ttl["AttributeName"].as_str().map(str::to_string))
                .flatten(),
            stream_view_type: properties["StreamSpecification"]["StreamViewType"]
                .as_str()
                .map(str::to_string),
        })
    }

    /// The definition `template.yaml` declares.
    pub fn from_compiled_template() -> Self {
        Self::from_template(TEMPLATE).expect("template.yaml declares the table")
    }

    /// Creates the table (on-demand, as in AWS) and turns TTL on. Idempotent: an existing
    /// table is left as it is.
    pub async fn create(&self, client: &Client, table_name: &str) -> Result<()> {
        let existing = client.describe_table().table_name(table_name).send().await;
        if existing.is_ok() {
            return Ok(());
        }
        let mut request = client
            .create_table()
            .table_name(table_name)
            .billing_mode(BillingMode::PayPerRequest)
            .set_key_schema(Some(key_schema(&self.key_schema)?));
        for (name, kind) in &self.attributes {
            request = request.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(ScalarAttributeType::from(kind.as_str()))
                    .build()?,
            );
        }
        for index in &self.indexes {
            request = request.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(&index.name)
                    .set_key_schema(Some(key_schema(&index.key_schema)?))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::from(index.projection.as_str()))
                            .build(),
                    )
                    .build()?,
            );
        }
        if let Some(view) = &self.stream_view_type {
            request = request.stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::from(view.as_str()))
                    .build()?,
            );
        }
        request.send().await?;
        if let Some(attribute) = &self.ttl_attribute {
            client
                .update_time_to_live()
                .table_name(table_name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(attribute)
                        .enabled(true)
                        .build()?,
                )
                .send()
                .await?;
        }
        Ok(())
    }
}

fn key_schema(pairs: &[(String, String)]) -> Result<Vec<KeySchemaElement>> {
    pairs
        .iter()
        .map(|(name, kind)| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(KeyType::from(kind.as_str()))
                .build()
                .map_err(ApiError::from)
        })
        .collect()
}
