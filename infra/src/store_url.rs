//! The `--store` option: where data lives.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use scim_shared::store::{EmbeddedStore, Store};

/// File name of the embedded database inside the store directory.
pub const DB_FILE: &str = "scim.redb";

/// A parsed `--store` value: a directory for the embedded file store, or `memory`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    Dir(PathBuf),
    Memory,
}

impl std::str::FromStr for StoreUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "memory" | "memory:" => Ok(StoreUrl::Memory),
            "" => Err("the store must be a directory or 'memory'".into()),
            other => Ok(StoreUrl::Dir(PathBuf::from(
                other.strip_prefix("file://").unwrap_or(other),
            ))),
        }
    }
}

impl StoreUrl {
    /// Opens the store, creating the directory if needed.
    pub fn open(&self) -> anyhow::Result<Arc<dyn Store>> {
        match self {
            StoreUrl::Memory => Ok(Arc::new(EmbeddedStore::in_memory()?)),
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
