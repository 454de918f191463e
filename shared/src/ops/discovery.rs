//! Discovery endpoints (RFC 7644 §4): generated from the schema registry and the limits.

use serde_json::{Value, json};

use super::Ctx;
use super::list::LIST_RESPONSE_SCHEMA;
use crate::protocol::error::{ScimError, ScimResult};
use crate::protocol::http::ScimResponse;
use crate::protocol::schema::REGISTRY;

const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

fn list_response(resources: &[Value]) -> ScimResponse {
    ScimResponse::json(
        200,
        json!({
            "schemas": [LIST_RESPONSE_SCHEMA],
            "totalResults": resources.len(),
            "startIndex": 1,
            "itemsPerPage": resources.len(),
            "Resources": resources,
        }),
    )
}

/// GET /ServiceProviderConfig: states only what this service does.
pub fn service_provider_config(ctx: &Ctx<'_>) -> ScimResponse {
    ScimResponse::json(
        200,
        json!({
            "schemas": [SPC_SCHEMA],
            "documentationUri": "https://github.com/scim-serverless/scim-serverless#readme",
            "patch": {"supported": true},
            "bulk": {
                "supported": true,
                "maxOperations": ctx.limits.max_bulk_operations,
                "maxPayloadSize": ctx.limits.max_payload_bytes,
            },
            "filter": {"supported": true, "maxResults": ctx.limits.max_results},
            "changePassword": {"supported": false},
            "sort": {"supported": true},
            // RFC 9865 §5: both paging methods; cursors last cursorTimeout seconds.
            "pagination": {
                "cursor": true,
                "index": true,
                "defaultPaginationMethod": "index",
                "defaultPageSize": 100,
                "maxPageSize": ctx.limits.max_results,
                "cursorTimeout": super::cursor::CURSOR_TIMEOUT_SECONDS,
            },
            "etag": {"supported": true},
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "In an 'Authorization: Bearer' header: the tenant's Secret Token, or an access token of the OAuth 2.0 token endpoint /oauth/token beside /scim/v2 (client credentials with a client secret, or a client assertion: RFC 6749 §4.4, RFC 7523).",
                "primary": true,
            }],
            "meta": {
                "resourceType": "ServiceProviderConfig",
                "location": format!("{}/ServiceProviderConfig", ctx.base_url),
            },
        }),
    )
}

/// GET /Schemas
pub fn schemas(ctx: &Ctx<'_>) -> ScimResponse {
    list_response(
        &REGISTRY
            .all_schemas()
            .map(|s| REGISTRY.schema_resource(s, ctx.base_url)),
    )
}

/// GET /Schemas/{id}
pub fn schema(ctx: &Ctx<'_>, id: &str) -> ScimResult<ScimResponse> {
    let s = REGISTRY
        .schema(id)
        .ok_or_else(|| ScimError::NotFound(format!("schema '{id}' not found")))?;
    Ok(ScimResponse::json(
        200,
        REGISTRY.schema_resource(s, ctx.base_url),
    ))
}

/// GET /ResourceTypes
pub fn resource_types(ctx: &Ctx<'_>) -> ScimResponse {
    list_response(
        &REGISTRY
            .resource_types()
            .map(|r| r.to_resource(ctx.base_url)),
    )
}

/// GET /ResourceTypes/{id}
pub fn resource_type(ctx: &Ctx<'_>, id: &str) -> ScimResult<ScimResponse> {
    let rt = REGISTRY
        .resource_types()
        .into_iter()
        .find(|r| r.name.eq_ignore_ascii_case(id))
        .ok_or_else(|| ScimError::NotFound(format!("resource type '{id}' not found")))?;
    Ok(ScimResponse::json(200, rt.to_resource(ctx.base_url)))
}
