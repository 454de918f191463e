//! The command line of `scimctl`: its clap definitions, whose doc comments are the help text
//! (`scimctl --help`, `scimctl <command> --help`). Each command runs in [`crate::commands`].

use std::net::SocketAddr;

use clap::{Parser, Subcommand};
use scim_shared::tenant;
use scimctl::server;
use scimctl::store_url::StoreUrl;

#[derive(Debug, Parser)]
#[command(
    name = "scimctl",
    version,
    about = "Multi-tenant SCIM 2.0 service: local server and administration"
)]
pub struct Cli {
    /// Where data lives: a directory for the embedded file store, or `memory`.
    #[arg(long, global = true, env = "SCIM_STORE", default_value = "./scim-data")]
    pub store: StoreUrl,
    /// Manage a deployed stack (or a `scimctl serve`) through its management API instead of a
    /// store: the URL before /admin/v1 (the stack's ManagementApiUrl output). Requests are
    /// signed with SigV4 from the standard AWS credential chain (profiles, SSO,
    /// credential_process, environment), or carry SCIM_OPERATOR_TOKEN when it is set. For the
    /// tenant, token, log and events commands.
    #[arg(long, global = true, env = "SCIM_API_URL", value_name = "URL")]
    pub api: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Serve the SCIM API under /scim/v2.
    Serve {
        #[arg(long, env = "SCIM_ADDR", default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// Public base URL of the API, if not http://<Host header>/scim/v2.
        #[arg(long, env = "SCIM_PUBLIC_URL")]
        public_url: Option<String>,
        /// File whose first line is the token of the operator API (/admin/...). The token may
        /// come from the environment variable SCIM_OPERATOR_TOKEN instead, never from the
        /// command line, where every user of the machine sees it (`ps`). When neither is set, a
        /// random token is generated and printed.
        #[arg(long, value_name = "PATH", env = "SCIM_OPERATOR_TOKEN_FILE")]
        operator_token_file: Option<std::path::PathBuf>,
        /// Seconds a Secret Token's authorization is kept, as API Gateway caches its
        /// authorizer's answers: a revoked token or changed settings take effect within it.
        /// 0 reads the token on every request.
        #[arg(long, env = "SCIM_AUTH_CACHE_TTL", default_value_t = server::DEFAULT_AUTH_CACHE_TTL.as_secs())]
        auth_cache_ttl: u64,
    },
    /// Deactivate a user and remove its group memberships at once, and deliver the emergency
    /// leaver event to the tenant's webhook before returning.
    EmergencyLogout { tenant: String, user: String },
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage a tenant's Secret Tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage a tenant's OAuth clients: the client credentials grant at /oauth/token (secret
    /// clients) and Workload Identity Federation (federated clients).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage the DynamoDB table (for emulators; on AWS the table comes from template.yaml).
    #[command(subcommand)]
    Table(TableCommand),
    /// Print a tenant's audit log: one line per provisioning request (names, never values).
    Log {
        tenant: String,
        /// From when: an RFC 3339 time, a day (2026-11-23) or an age (30m, 12h, 7d).
        #[arg(long, default_value = "1d")]
        since: String,
        /// Only requests that failed (status 400 and above).
        #[arg(long)]
        failed: bool,
        /// One JSON record per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Lifecycle events of the local outbox.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Manage a tenant's webhook: `serve` POSTs its events there, signed with HMAC-SHA256.
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Role-based provisioning: rules granting application roles to the members of a group.
    #[command(subcommand)]
    Roles(RolesCommand),
    /// Import users and groups from a JSONL or CSV file, idempotently and resumably (README,
    /// "Import").
    Import(scimctl::import::ImportArgs),
}

#[derive(Debug, Clone, Subcommand)]
pub enum RolesCommand {
    /// Grant roles to the members of a group (its id or displayName), replacing the group's
    /// rule; members whose effective roles change get a `mover` event.
    Set {
        tenant: String,
        group: String,
        /// A role to grant; repeat for several.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
    },
    /// List a tenant's rules; with --user, that user's effective roles.
    List {
        tenant: String,
        #[arg(long)]
        user: Option<String>,
    },
    /// Remove the rule of a group (its id or displayName).
    Delete { tenant: String, group: String },
}

#[derive(Debug, Clone, Subcommand)]
pub enum WebhookCommand {
    /// Set the webhook URL (http:// or https://) and print its new signing secret, once.
    Set { tenant: String, url: String },
    /// Print the webhook URL (never the secret).
    Show { tenant: String },
    /// Stop delivering to a webhook.
    Delete { tenant: String },
}

#[derive(Debug, Clone, Subcommand)]
pub enum EventsCommand {
    /// Print a tenant's events, oldest first; with --follow, keep printing new ones.
    Tail {
        tenant: String,
        /// From when: an RFC 3339 time, a day or an age (30m, 12h, 7d).
        #[arg(long, default_value = "1d")]
        since: String,
        /// Poll for new events every 500 ms until interrupted.
        #[arg(long)]
        follow: bool,
        /// The events as JSON, one per line (with attribute values).
        #[arg(long)]
        json: bool,
    },
    /// Send the events of a time window to the event publisher again, with their ids (on AWS
    /// the EventBridge bus, through --api; locally the tenant's webhook): the redrive of events
    /// their consumer never got, e.g. after the events failure queue's alarm
    /// (docs/operations.md#events-failure-queue).
    Republish {
        /// The tenant; every tenant when absent.
        tenant: Option<String>,
        /// From when: an RFC 3339 time, a day or an age (30m, 12h, 7d).
        #[arg(long)]
        since: String,
        /// Until when (default: now); at most 92 days after --since.
        #[arg(long)]
        until: Option<String>,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum TableCommand {
    /// Create the table named by `--store dynamodb://TABLE` with the key schema, index, stream
    /// and TTL that template.yaml declares.
    Create,
}

#[derive(Debug, Clone, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant.
    Create { tenant: String },
    /// List tenants.
    List,
    /// Delete a tenant and everything keyed by it: tokens, users, groups, memberships, counters,
    /// audit log, events, role rules and webhook. Resumable: run it again if it was interrupted.
    Delete { tenant: String },
    /// Change a tenant's settings (they reach its tokens at once; a Lambda authorizer's cache
    /// picks them up within its TTL).
    Set {
        tenant: String,
        /// `auto` rewrites what identity providers really send into strict RFC 7644 form
        /// (docs/dialects.md); `strict` answers anything else with a SCIM error.
        #[arg(long, value_enum)]
        dialect: Option<DialectArg>,
        /// Days the audit log keeps each record (default 90).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
        log_retention_days: Option<u16>,
        /// `emergency` treats an identity provider's deactivation of a user as an Emergency
        /// Logout (the leaver is marked emergency and delivered before the answer); `leaver`
        /// (the default) delivers it like any event.
        #[arg(long, value_enum)]
        deactivation: Option<DeactivationArg>,
    },
}

/// The `--deactivation` values of `tenant set`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DeactivationArg {
    Leaver,
    Emergency,
}

impl From<DeactivationArg> for tenant::Deactivation {
    fn from(d: DeactivationArg) -> Self {
        match d {
            DeactivationArg::Leaver => tenant::Deactivation::Leaver,
            DeactivationArg::Emergency => tenant::Deactivation::Emergency,
        }
    }
}

/// The `--dialect` values of `tenant set`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DialectArg {
    Auto,
    Strict,
}

impl From<DialectArg> for tenant::Dialect {
    fn from(d: DialectArg) -> Self {
        match d {
            DialectArg::Auto => tenant::Dialect::Auto,
            DialectArg::Strict => tenant::Dialect::Strict,
        }
    }
}

#[derive(Debug, Clone, Subcommand)]
pub enum TokenCommand {
    /// Issue a Secret Token: printed once on stdout, stored only as a hash.
    Issue { tenant: String },
    /// List a tenant's tokens (ids and creation times, never the secrets).
    List { tenant: String },
    /// Revoke a token by its id.
    Revoke { tenant: String, token_id: String },
}

#[derive(Debug, Clone, Subcommand)]
pub enum ClientCommand {
    /// Create an OAuth client. Prints its Client ID on the first line of stdout and, unless
    /// federated, its secret (shown only this once) on the second; the Token URL is /oauth/token
    /// on the host of the Tenant URL.
    Create {
        tenant: String,
        /// A federated client: no secret; the token endpoint takes JWTs that the issuer signs
        /// (Microsoft Entra's Workload Identity Federation: paste the four values Entra shows).
        #[arg(long, requires_all = ["issuer", "jwks_url", "subject", "audience"])]
        federated: bool,
        /// The assertions' issuer (`iss`), e.g. https://login.microsoftonline.com/<tenant id>/v2.0.
        #[arg(long, requires = "federated")]
        issuer: Option<String>,
        /// Where the issuer publishes its signing keys (https://).
        #[arg(long, requires = "federated")]
        jwks_url: Option<String>,
        /// The assertions' subject (`sub`).
        #[arg(long, requires = "federated")]
        subject: Option<String>,
        /// The assertions' audience (`aud`).
        #[arg(long, requires = "federated")]
        audience: Option<String>,
    },
    /// List a tenant's OAuth clients (ids, kinds, secret ids; never a secret).
    List { tenant: String },
    /// Revoke a client: no new access token, and its live ones are refused from the next
    /// authorization on.
    Revoke { tenant: String, client_id: String },
    /// Manage a secret client's secrets (two may be live, for rotation).
    #[command(subcommand)]
    Secret(ClientSecretCommand),
}

#[derive(Debug, Clone, Subcommand)]
pub enum ClientSecretCommand {
    /// Add a second secret for rotation; printed once on stdout.
    Add { tenant: String, client_id: String },
    /// Revoke a secret by its id (as `client list` shows it); the last one cannot be.
    Revoke {
        tenant: String,
        client_id: String,
        secret_id: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operator_token_is_not_taken_from_the_command_line() {
        assert!(Cli::try_parse_from(["scimctl", "serve", "--operator-token", "op_x"]).is_err());
        let cli = Cli::try_parse_from(["scimctl", "serve", "--operator-token-file", "/run/op"])
            .expect("a file is accepted");
        assert!(matches!(
            cli.command,
            Command::Serve { operator_token_file: Some(p), .. } if p.as_os_str() == "/run/op"
        ));
    }
}
