//! The `--store` option: where data lives.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use scim_shared::store::{DynamoStore, EmbeddedStore, Store};

use crate::store_socket::RemoteStore;

/// File name of the embedded database inside the store directory.
pub const DB_FILE: &str = "scim.redb";

/// A parsed `--store` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// The embedded file store in this directory.
    Dir(PathBuf),
    /// The embedded store in memory only.
    Memory,
    /// A DynamoDB table, reached through the standard AWS environment (region, credentials,
    /// `AWS_ENDPOINT_URL`).
    DynamoDb(String),
}

impl std::str::FromStr for StoreUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(table) = s.strip_prefix("dynamodb://") {
            let valid = (3..=255).contains(&table.len())
                && table
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
            return if valid {
                Ok(StoreUrl::DynamoDb(table.to_string()))
            } else {
                Err(format!("'{table}' is not a valid DynamoDB table name"))
            };
        }
        match s {
            "memory" | "memory:" => Ok(StoreUrl::Memory),
            "" => Err("the store must be a directory, 'memory' or dynamodb://TABLE".into()),
            other => Ok(StoreUrl::Dir(PathBuf::from(
                other.strip_prefix("file://").unwrap_or(other),
            ))),
        }
    }
}

impl StoreUrl {
    /// Opens the store for a command, creating the directory if needed. An embedded store that a
    /// running `scimctl serve` holds is reached through that server ([`crate::store_socket`]).
    /// Makes no network call.
    pub async fn open(&self) -> anyhow::Result<Arc<dyn Store>> {
        match self {
            StoreUrl::Dir(dir) => match self.open_exclusive().await {
                Ok(store) => Ok(store),
                Err(held) => match RemoteStore::connect(dir).await {
                    Ok(remote) => Ok(Arc::new(remote)),
                    Err(_) => Err(held),
                },
            },
            _ => self.open_exclusive().await,
        }
    }

    /// Opens the store for this process alone (`scimctl serve`): an embedded store another
    /// process holds is an error.
    pub async fn open_exclusive(&self) -> anyhow::Result<Arc<dyn Store>> {
        match self {
            StoreUrl::Memory => Ok(Arc::new(EmbeddedStore::in_memory()?)),
            StoreUrl::DynamoDb(table) => Ok(Arc::new(DynamoStore::from_env(table.clone()).await)),
            StoreUrl::Dir(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                let file = dir.join(DB_FILE);
                let store = EmbeddedStore::open(&file).with_context(|| {
                    format!(
                        "opening {} (is another scimctl using this store?)",
                        file.display()
                    )
                })?;
                Ok(Arc::new(store))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_store_form() {
        assert_eq!("memory".parse(), Ok(StoreUrl::Memory));
        assert_eq!("./data".parse(), Ok(StoreUrl::Dir(PathBuf::from("./data"))));
        assert_eq!(
            "dynamodb://scim-table".parse(),
            Ok(StoreUrl::DynamoDb("scim-table".into()))
        );
        assert!("dynamodb://a".parse::<StoreUrl>().is_err());
        assert!("dynamodb://bad/name".parse::<StoreUrl>().is_err());
    }
}
