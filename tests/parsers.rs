//! Property tests for every parser of outside input in the core: scope strings, redirect URIs, client specs, secret
//! specs, durations and the configuration. Each must answer with a value or a typed error, never panic. Case
//! counts are bounded so the suite stays fast.

use keymanager::config::Config;
use keymanager::model::*;
use proptest::prelude::*;

fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Strings drawn from what attackers send: printable text, control characters, separators, wildcards, unicode.
fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~]{0,40}",
        "[a-z:/.*#@ \t\r\n\u{1b}\u{0}%?=&-]{0,60}",
        Just(String::new()),
    ]
}

proptest! {
    #![proptest_config(cases(512))]

    #[test]
    fn parse_scope_never_panics_and_returns_valid_distinct_tokens(text in hostile_text()) {
        if let Ok(tokens) = parse_scope(&text) {
            prop_assert!(tokens.len() <= MAX_SCOPES);
            for (i, t) in tokens.iter().enumerate() {
                prop_assert!(is_valid_scope_token(t), "{t:?}");
                prop_assert!(!tokens[..i].contains(t));
            }
            // Round trip: joining the tokens parses to the same list.
            prop_assert_eq!(parse_scope(&tokens.join(" ")).unwrap(), tokens);
        }
    }

    #[test]
    fn redirect_uris_that_pass_have_no_control_characters_wildcards_or_fragments(uri in hostile_text()) {
        if check_redirect_uri(&uri).is_ok() {
            prop_assert!(!uri.chars().any(char::is_control));
            prop_assert!(!uri.contains('*') && !uri.contains('#'));
            prop_assert!(url::Url::parse(&uri).is_ok());
        }
    }

    #[test]
    fn client_specs_with_arbitrary_fields_validate_or_name_a_field(
        name in hostile_text(),
        scopes in proptest::collection::vec(hostile_text(), 0..5),
        uris in proptest::collection::vec(hostile_text(), 0..3),
        grants in proptest::collection::vec(hostile_text(), 0..4),
        access in any::<Option<u64>>(),
        refresh in any::<Option<u64>>(),
        public in any::<bool>(),
    ) {
        let spec = ClientSpec {
            name,
            key_type: KeyType::Production,
            grant_types: grants.iter().map(|g| { let Ok(g) = g.parse::<GrantType>(); g }).collect(),
            redirect_uris: uris.iter().filter_map(|u| u.parse().ok()).collect(),
            scopes: scopes.into(),
            public_client: public,
            pkce: PkcePolicy::default(),
            access_token_lifetime: access,
            refresh_token_lifetime: refresh,
            additional_properties: Default::default(),
        };
        match spec.validate() {
            Ok(()) => {
                prop_assert!(access.is_none_or(|a| (1..=MAX_DURATION_SECONDS).contains(&a)));
                prop_assert!(!spec.name.chars().any(char::is_control));
            }
            Err(keymanager::Error::InvalidRequest { field, .. }) => prop_assert!(field.is_some()),
            Err(other) => prop_assert!(false, "not a field error: {other:?}"),
        }
    }

    #[test]
    fn durations_are_checked_over_the_whole_range(seconds in any::<u64>(), at in any::<i64>()) {
        let ok = check_duration("d", seconds).is_ok();
        prop_assert_eq!(ok, (1..=MAX_DURATION_SECONDS).contains(&seconds));
        match seconds_after("d", at, seconds) {
            Ok(t) => prop_assert_eq!(i128::from(t), i128::from(at) + i128::from(seconds)),
            Err(_) => prop_assert!(
                i128::from(at) + i128::from(seconds) > i128::from(i64::MAX) || seconds > i64::MAX as u64
            ),
        }
    }

    #[test]
    fn secret_specs_validate_or_name_a_field(description in proptest::option::of(hostile_text()), expires in any::<Option<u64>>()) {
        let spec = SecretSpec { description, expires_in: expires };
        if let Err(e) = spec.validate() {
            prop_assert!(matches!(e, keymanager::Error::InvalidRequest { field: Some(_), .. }), "{e:?}");
        }
    }
}

/// A TOML value of any shape, for any field.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        Just("9223372036854775807".to_owned()),
        Just("-1".to_owned()),
        Just("0".to_owned()),
        any::<bool>().prop_map(|b| b.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:?}")),
        hostile_text().prop_map(|s| toml::Value::String(s).to_string()),
        Just("[1, \"a\"]".to_owned()),
        Just("{ a = 1 }".to_owned()),
        Just("\"${KM_SURELY_UNSET_VARIABLE}\"".to_owned()),
    ]
}

proptest! {
    #![proptest_config(cases(512))]

    #[test]
    fn any_value_in_any_server_or_database_field_is_a_typed_answer(
        field in prop::sample::select(vec![
            "server.listen", "server.public_url", "server.data_dir", "server.admin_token", "server.tls_cert",
            "server.tls_key", "database.url", "database.max_connections", "server.unknown",
        ]),
        value in toml_value(),
    ) {
        let (table, key) = field.split_once('.').unwrap();
        let text = format!("[{table}]\n{key} = {value}\n");
        match Config::from_toml_str(&text, None) {
            Ok(c) => {
                prop_assert!(c.database.max_connections.is_none_or(|n| n >= 1));
                if let Some(l) = &c.server.listen { prop_assert!(keymanager::config::check_listen_address(l).is_ok()); }
            }
            Err(e) => prop_assert!(e.field.is_some() || !e.message.is_empty()),
        }
    }
}
