//! One row against the service, as an identity provider would send it: look the resource up by
//! its unique attributes (userName, then externalId; a group's displayName), then create it
//! (POST), replace it (PUT) when some attribute differs, or leave it alone when nothing would
//! change. Every request goes through [`Service::handle`], so validation, dialect rules, audit
//! records and lifecycle events are those of any SCIM request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;

use scim_shared::protocol::http::{Method, ScimRequest};
use scim_shared::protocol::schema::{ResourceKind, ResourceType};
use scim_shared::reconcile;
use scim_shared::service::{Caller, Outcome, Service};
use scim_shared::tenant::TenantSettings;

use super::summary::Done;

/// Prefix of a group member given by the member's userName instead of its id.
pub const USER_NAME_PREFIX: &str = "userName:";

/// How often a request answered 503 (a concurrent change of the same item) is sent again.
const ATTEMPTS: u32 = 5;

/// Why a row failed: the SCIM error the service answered, or a problem found before sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub status: Option<u16>,
    pub scim_type: Option<String>,
    pub detail: String,
}

impl RowError {
    fn new(detail: impl Into<String>) -> RowError {
        RowError {
            status: None,
            scim_type: None,
            detail: detail.into(),
        }
    }

    fn of(outcome: &Outcome) -> RowError {
        let body = outcome.response.body.as_ref();
        let text = |k: &str| body.and_then(|b| b.get(k)).and_then(Value::as_str);
        RowError {
            status: Some(outcome.response.status),
            scim_type: text("scimType").map(str::to_string),
            detail: text("detail")
                .unwrap_or("the service answered an error")
                .to_string(),
        }
    }
}

/// The tenant an import writes to, and what it learnt on the way.
#[derive(Debug)]
pub struct Target {
    service: Arc<Service>,
    tenant: String,
    settings: TenantSettings,
    dry_run: bool,
    /// Ids of users by lower-case userName, as this run created or found them (for members
    /// given as `userName:NAME`).
    user_ids: Mutex<HashMap<String, String>>,
}

impl Target {
    pub fn new(
        service: Arc<Service>,
        tenant: String,
        settings: TenantSettings,
        dry_run: bool,
    ) -> Target {
        Target {
            service,
            tenant,
            settings,
            dry_run,
            user_ids: Mutex::default(),
        }
    }

    fn caller(&self) -> Caller<'_> {
        Caller {
            tenant: &self.tenant,
            settings: self.settings,
        }
    }

    /// Sends a request; 503 answers are retried with a growing pause.
    async fn send(&self, req: &ScimRequest) -> Outcome {
        let mut attempt = 1;
        loop {
            let outcome = self.service.handle(self.caller(), req).await;
            if outcome.response.status != 503 || attempt == ATTEMPTS {
                return outcome;
            }
            tokio::time::sleep(Duration::from_millis(10 << attempt)).await;
            attempt += 1;
        }
    }

    /// The resource whose `attribute` equals `value` (a key lookup), as the service serves it.
    async fn find(
        &self,
        kind: ResourceKind,
        attribute: &str,
        value: &str,
    ) -> Result<Option<Value>, RowError> {
        let mut req = ScimRequest::new(Method::Get, ResourceType::of(kind).endpoint, "");
        let literal = Value::from(value).to_string();
        req.query = vec![("filter".into(), format!("{attribute} eq {literal}"))];
        let outcome = self.send(&req).await;
        if outcome.response.status != 200 {
            return Err(RowError::of(&outcome));
        }
        let found = outcome
            .response
            .body
            .and_then(|mut b| b.get_mut("Resources").map(Value::take));
        match found {
            Some(Value::Array(mut items)) if items.len() == 1 => Ok(Some(items.swap_remove(0))),
            // externalId is not unique (RFC 7643 section 3.1): a row cannot tell which to update.
            Some(Value::Array(items)) if items.len() > 1 => Err(RowError::new(format!(
                "{} resources have {attribute} {literal}: the row matches none of them",
                items.len()
            ))),
            _ => Ok(None),
        }
    }

    /// The existing resource a row stands for: by each unique attribute the row has, in turn.
    async fn existing(&self, kind: ResourceKind, doc: &Value) -> Result<Option<Value>, RowError> {
        let keys: &[&str] = match kind {
            ResourceKind::User => &["userName", "externalId"],
            ResourceKind::Group => &["displayName", "externalId"],
        };
        for key in keys {
            if let Some(value) = string_attribute(doc, key)
                && let Some(found) = self.find(kind, key, value).await?
            {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// Imports one user or group.
    pub async fn upsert(&self, kind: ResourceKind, mut doc: Value) -> Result<Done, RowError> {
        if kind == ResourceKind::Group {
            self.resolve_members(&mut doc).await?;
        }
        let done = match self.existing(kind, &doc).await? {
            None => self.create(kind, &doc).await?,
            Some(served) => self.replace(kind, served, &doc).await?,
        };
        Ok(done)
    }

    async fn create(&self, kind: ResourceKind, doc: &Value) -> Result<Done, RowError> {
        if self.dry_run {
            reconcile::check(kind, self.settings.dialect, doc).map_err(scim_error)?;
            self.remember(kind, doc, None);
            return Ok(Done::Created);
        }
        let mut req = ScimRequest::new(Method::Post, ResourceType::of(kind).endpoint, "");
        req.body = doc.to_string().into_bytes();
        let outcome = self.send(&req).await;
        match outcome.response.status {
            201 => {
                let id = outcome
                    .response
                    .body
                    .as_ref()
                    .and_then(|b| b.get("id"))
                    .and_then(Value::as_str);
                self.remember(kind, doc, id);
                Ok(Done::Created)
            }
            // Another row of this import (a duplicate) created it meanwhile: update that one.
            409 => match self.existing(kind, doc).await? {
                Some(served) => self.replace(kind, served, doc).await,
                None => Err(RowError::of(&outcome)),
            },
            _ => Err(RowError::of(&outcome)),
        }
    }

    async fn replace(
        &self,
        kind: ResourceKind,
        served: Value,
        doc: &Value,
    ) -> Result<Done, RowError> {
        let id = string_attribute(&served, "id")
            .ok_or_else(|| RowError::new("the service served a resource without id"))?
            .to_string();
        let endpoint = ResourceType::of(kind).endpoint;
        // A list response carries no members: a group is compared as GET /Groups/{id} serves it.
        let served = match kind {
            ResourceKind::User => served,
            ResourceKind::Group => {
                let req = ScimRequest::new(Method::Get, format!("{endpoint}/{id}"), "");
                let outcome = self.send(&req).await;
                match (outcome.response.status, outcome.response.body) {
                    (200, Some(body)) => body,
                    _ => return Err(RowError::new(format!("group {id} could not be read"))),
                }
            }
        };
        self.remember(kind, doc, Some(&id));
        if reconcile::replace_changes_nothing(kind, self.settings.dialect, &served, doc) {
            return Ok(Done::Unchanged);
        }
        if self.dry_run {
            reconcile::check(kind, self.settings.dialect, doc).map_err(scim_error)?;
            return Ok(Done::Updated);
        }
        let mut req = ScimRequest::new(Method::Put, format!("{endpoint}/{id}"), "");
        req.body = doc.to_string().into_bytes();
        let outcome = self.send(&req).await;
        match outcome.response.status {
            200 if outcome.changes.is_empty() => Ok(Done::Unchanged),
            200 => Ok(Done::Updated),
            _ => Err(RowError::of(&outcome)),
        }
    }

    /// Keeps a user's id by userName for members named `userName:NAME` (a placeholder in a dry
    /// run, where the user is not created).
    fn remember(&self, kind: ResourceKind, doc: &Value, id: Option<&str>) {
        if kind != ResourceKind::User {
            return;
        }
        if let Some(name) = string_attribute(doc, "userName") {
            self.user_ids
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(
                    name.to_lowercase(),
                    id.unwrap_or("(created by this import)").to_string(),
                );
        }
    }

    /// Replaces each member value `userName:NAME` by that user's id.
    async fn resolve_members(&self, doc: &mut Value) -> Result<(), RowError> {
        let Some(Value::Array(members)) = doc
            .as_object_mut()
            .and_then(|o| {
                o.iter_mut()
                    .find(|(k, _)| k.eq_ignore_ascii_case("members"))
            })
            .map(|(_, v)| v)
        else {
            return Ok(());
        };
        for (i, member) in members.iter_mut().enumerate() {
            let Some(name) = member
                .get("value")
                .and_then(Value::as_str)
                .and_then(|v| v.strip_prefix(USER_NAME_PREFIX))
                .map(str::to_string)
            else {
                continue;
            };
            let known = self
                .user_ids
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&name.to_lowercase())
                .cloned();
            let id = match known {
                Some(id) => id,
                None => self
                    .find(ResourceKind::User, "userName", &name)
                    .await?
                    .as_ref()
                    .and_then(|u| string_attribute(u, "id"))
                    .map(str::to_string)
                    .ok_or_else(|| {
                        RowError::new(format!("members[{i}]: no user has the userName '{name}'"))
                    })?,
            };
            member["value"] = Value::from(id);
        }
        Ok(())
    }
}

fn scim_error(e: scim_shared::ScimError) -> RowError {
    let body = e.to_body();
    RowError {
        status: Some(e.status()),
        scim_type: body
            .get("scimType")
            .and_then(Value::as_str)
            .map(str::to_string),
        detail: body
            .get("detail")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    }
}

/// A top-level string attribute, its name compared case-insensitively as SCIM does.
fn string_attribute<'a>(doc: &'a Value, name: &str) -> Option<&'a str> {
    doc.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_str())
        .filter(|s| !s.is_empty())
}
