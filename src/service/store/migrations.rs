//! The key service's schema migrations, one list per dialect (forward only; `keymanager migrate --check` reads them).

use crate::sql::{self, Migrations};

/// This component's migrations, for `keymanager migrate --check`.
pub const MIGRATIONS: sql::MigrationSet = sql::MigrationSet {
    component: "key service",
    sqlite: SQLITE,
    postgres: POSTGRES,
};

pub(super) const SQLITE: Migrations = &[
    (
        1_000_001,
        "key service",
        include_str!("../migrations/sqlite/1000001_key_service.sql"),
    ),
    (
        1_000_002,
        "revocation log",
        include_str!("../migrations/sqlite/1000002_revocation_log.sql"),
    ),
    (
        1_000_003,
        "one holder per client",
        include_str!("../migrations/sqlite/1000003_one_holder_per_client.sql"),
    ),
    (
        1_000_004,
        "admin tokens",
        include_str!("../migrations/sqlite/1000004_admin_tokens.sql"),
    ),
    (
        1_000_005,
        "audit trail",
        include_str!("../migrations/sqlite/1000005_audit.sql"),
    ),
    (
        1_000_006,
        "application description",
        include_str!("../migrations/sqlite/1000006_application_description.sql"),
    ),
    (
        1_000_007,
        "application attributes",
        include_str!("../migrations/sqlite/1000007_application_attributes.sql"),
    ),
    (
        1_000_008,
        "secret descriptions",
        include_str!("../migrations/sqlite/1000008_secret_descriptions.sql"),
    ),
    (
        1_000_009,
        "key managers",
        include_str!("../migrations/sqlite/1000009_key_managers.sql"),
    ),
    (
        1_000_010,
        "admin token names unique in any case",
        include_str!("../migrations/sqlite/1000010_admin_token_names.sql"),
    ),
    (
        1_000_011,
        "gateway events",
        include_str!("../migrations/sqlite/1000011_gateway_events.sql"),
    ),
    (
        1_000_012,
        "gateway DPoP proofs",
        include_str!("../migrations/sqlite/1000012_gateway_dpop_proofs.sql"),
    ),
];
pub(super) const POSTGRES: Migrations = &[
    (
        1_000_001,
        "key service",
        include_str!("../migrations/postgres/1000001_key_service.sql"),
    ),
    (
        1_000_002,
        "revocation log",
        include_str!("../migrations/postgres/1000002_revocation_log.sql"),
    ),
    (
        1_000_003,
        "one holder per client",
        include_str!("../migrations/postgres/1000003_one_holder_per_client.sql"),
    ),
    (
        1_000_004,
        "admin tokens",
        include_str!("../migrations/postgres/1000004_admin_tokens.sql"),
    ),
    (
        1_000_005,
        "audit trail",
        include_str!("../migrations/postgres/1000005_audit.sql"),
    ),
    (
        1_000_006,
        "application description",
        include_str!("../migrations/postgres/1000006_application_description.sql"),
    ),
    (
        1_000_007,
        "application attributes",
        include_str!("../migrations/postgres/1000007_application_attributes.sql"),
    ),
    (
        1_000_008,
        "secret descriptions",
        include_str!("../migrations/postgres/1000008_secret_descriptions.sql"),
    ),
    (
        1_000_009,
        "key managers",
        include_str!("../migrations/postgres/1000009_key_managers.sql"),
    ),
    (
        1_000_010,
        "admin token names unique in any case",
        include_str!("../migrations/postgres/1000010_admin_token_names.sql"),
    ),
    (
        1_000_011,
        "gateway events",
        include_str!("../migrations/postgres/1000011_gateway_events.sql"),
    ),
    (
        1_000_012,
        "gateway DPoP proofs",
        include_str!("../migrations/postgres/1000012_gateway_dpop_proofs.sql"),
    ),
];
