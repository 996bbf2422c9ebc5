//! Reading a configuration: each section interpolated and read into its type, the checks within and across
//! sections (every problem reported, not only the first), and the warnings for what is valid but probably not meant.

use super::*;
use interpolate::interpolate;

impl Config {
    /// What is valid but probably not meant, one sentence each (printed by `config check` and at start).
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let g = &self.gateway;
        if g.default == UncoveredPaths::Authenticated && !g.route.is_empty() {
            out.push(
                "gateway.default = \"authenticated\" with route rules: a path no rule covers passes with any valid \
                 token; `deny` closes what the rules forgot"
                    .to_owned(),
            );
        }
        if g.proxy.is_some() && g.default == UncoveredPaths::Deny && g.route.is_empty() {
            out.push(
                "gateway.default = \"deny\" and no [[gateway.route]]: /gateway/auth refuses every request".to_owned(),
            );
        }
        out
    }

    /// Load a file, reading `${VAR}` from the process environment.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new(format!("cannot read the file: {e}")).in_file(path))?;
        Config::from_toml_str(&text, Some(path))
    }

    /// Parse TOML text, reading `${VAR}` from the process environment.
    pub fn from_toml_str(text: &str, source: Option<&Path>) -> Result<Config, ConfigError> {
        Config::from_toml_str_with_env(text, source, |k| std::env::var(k).ok())
    }

    /// Parse TOML text, reading `${VAR}` through `env`: the first problem, if any (see
    /// [`parse_collecting`](Self::parse_collecting) for all of them).
    pub fn from_toml_str_with_env(
        text: &str,
        source: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let (config, problems) = Config::parse_collecting(text, source, env);
        match problems.into_iter().next() {
            Some(first) => Err(first),
            None => Ok(config),
        }
    }

    /// Parse TOML text, reading `${VAR}` through `env`, and check it: the configuration read (a section or key
    /// manager with a problem left at its default or out) and **every** problem, whatever section it is in, each
    /// naming the file, the key manager and the field. `config check` lists them all; `serve` refuses the first.
    pub fn parse_collecting(
        text: &str,
        source: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> (Config, Vec<ConfigError>) {
        let with_file = |e: ConfigError| match source {
            Some(p) => e.in_file(p),
            None => e,
        };
        let mut problems: Vec<ConfigError> = Vec::new();
        let mut config = Config {
            source: source.map(Path::to_path_buf),
            ..Config::default()
        };
        let mut table: toml::Table = match text.parse() {
            Ok(t) => t,
            Err(e) => {
                let e: toml::de::Error = e;
                problems.push(with_file(
                    ConfigError::new(format!("invalid TOML: {}", e.message().trim())).at_toml_span(text, e.span()),
                ));
                return (config, problems);
            }
        };
        for key in table.keys() {
            if !["database", "server", "portal", "gateway", "key_manager"].contains(&key.as_str()) {
                problems.push(with_file(
                    ConfigError::new(
                        "unknown field; expected `database`, `server`, `portal`, `gateway` or `key_manager`",
                    )
                    .at_field(key),
                ));
            }
        }
        /// One section: interpolated, then read into its type; a problem is recorded and the default kept.
        fn section<T: serde::de::DeserializeOwned + Default>(
            table: &mut toml::Table,
            name: &str,
            env: &dyn Fn(&str) -> Option<String>,
            problems: &mut Vec<ConfigError>,
            with_file: &dyn Fn(ConfigError) -> ConfigError,
        ) -> T {
            let Some(mut value) = table.remove(name) else {
                return T::default();
            };
            if let Err(e) = interpolate(&mut value, name, &env) {
                problems.push(with_file(e));
                return T::default();
            }
            match value.try_into() {
                Ok(v) => v,
                Err(e) => {
                    let e: toml::de::Error = e;
                    problems.push(with_file(
                        ConfigError::new(e.message().trim().to_owned()).at_field(name),
                    ));
                    T::default()
                }
            }
        }
        config.database = section(&mut table, "database", &env, &mut problems, &with_file);
        config.server = section(&mut table, "server", &env, &mut problems, &with_file);
        config.portal = section(&mut table, "portal", &env, &mut problems, &with_file);
        config.gateway = section(&mut table, "gateway", &env, &mut problems, &with_file);
        let list = match table.remove("key_manager") {
            None => Vec::new(),
            Some(toml::Value::Array(list)) => list,
            Some(_) => {
                problems.push(with_file(
                    ConfigError::new("must be an array of tables: write [[key_manager]]").at_field("key_manager"),
                ));
                Vec::new()
            }
        };
        let mut names = HashSet::new();
        for (i, item) in list.into_iter().enumerate() {
            let toml::Value::Table(mut t) = item else {
                problems.push(with_file(
                    ConfigError::new("must be a table").at_field(format!("key_manager[{i}]")),
                ));
                continue;
            };
            // Name first, so that every later problem can name the key manager.
            let label = format!("#{}", i + 1);
            let name = match t.remove("name") {
                Some(mut v) => {
                    if let Err(e) = interpolate(&mut v, "name", &env) {
                        problems.push(with_file(e.in_key_manager(&label)));
                        continue;
                    }
                    match v {
                        toml::Value::String(s) if !s.trim().is_empty() => s,
                        _ => {
                            problems.push(with_file(
                                ConfigError::new("must be a non-empty string")
                                    .at_field("name")
                                    .in_key_manager(&label),
                            ));
                            continue;
                        }
                    }
                }
                None => {
                    problems.push(with_file(
                        ConfigError::new("is required").at_field("name").in_key_manager(&label),
                    ));
                    continue;
                }
            };
            let err = |field: &str, msg: &str| with_file(ConfigError::new(msg).at_field(field).in_key_manager(&name));
            if !names.insert(name.clone()) {
                problems.push(err("name", "duplicate key manager name; names must be unique"));
                continue;
            }
            let kind = match t.remove("type") {
                Some(toml::Value::String(s)) if !s.trim().is_empty() => s,
                Some(_) => {
                    problems.push(err("type", "must be a non-empty string"));
                    continue;
                }
                None => {
                    problems.push(err("type", "is required"));
                    continue;
                }
            };
            let allow_insecure_http = match t.remove("allow_insecure_http") {
                None => false,
                Some(toml::Value::Boolean(b)) => b,
                Some(_) => {
                    problems.push(err("allow_insecure_http", "must be true or false"));
                    false
                }
            };
            let mut rest = toml::Value::Table(t);
            if let Err(e) = interpolate(&mut rest, "", &env) {
                problems.push(with_file(e.in_key_manager(&name)));
                continue;
            }
            let settings = match serde_json::to_value(&rest) {
                Ok(serde_json::Value::Object(m)) => m,
                _ => {
                    problems.push(err("", "cannot be represented as JSON"));
                    continue;
                }
            };
            config.key_managers.push(KeyManagerConfig {
                name,
                kind,
                allow_insecure_http,
                settings,
                source: source.map(Path::to_path_buf),
            });
        }
        problems.extend(config.problems().into_iter().map(with_file));
        (config, problems)
    }

    /// Check `[database]` and `[server]` as `keymanager serve` will use them: a pool size from 1 to
    /// `MAX_DATABASE_CONNECTIONS`, a `sqlite:` or `postgres:` URL, a listen address `HOST:PORT`, a public URL
    /// that is `http(s)` with a host, an admin token of at least `MIN_ADMIN_TOKEN_LENGTH` characters, and TLS
    /// certificate and key together. Parsing runs it, so `config check` fails exactly when `serve` would.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.problems().into_iter().next() {
            Some(first) => Err(first),
            None => Ok(()),
        }
    }

    /// Every problem [`validate`](Self::validate) finds, in file order.
    pub fn problems(&self) -> Vec<ConfigError> {
        let mut out: Vec<ConfigError> = Vec::new();
        let db = &self.database;
        if let Some(n) = db.max_connections {
            if n == 0 || n > MAX_DATABASE_CONNECTIONS {
                out.push(
                    ConfigError::new(format!("must be from 1 to {MAX_DATABASE_CONNECTIONS}"))
                        .at_field("database.max_connections"),
                );
            }
        }
        if let Some(url) = &db.url {
            if let Err(e) = check_database_url(url).map_err(|m| ConfigError::new(m).at_field("database.url")) {
                out.push(e);
            }
        }
        let server = &self.server;
        if let Some(listen) = &server.listen {
            if let Err(e) = check_listen_address(listen).map_err(|m| ConfigError::new(m).at_field("server.listen")) {
                out.push(e);
            }
        }
        if let Some(listen) = &server.metrics_listen {
            if let Err(e) =
                check_listen_address(listen).map_err(|m| ConfigError::new(m).at_field("server.metrics_listen"))
            {
                out.push(e);
            }
            if server.metrics == Some(false) {
                out.push(
                    ConfigError::new("metrics_listen needs metrics on; remove one of them")
                        .at_field("server.metrics_listen"),
                );
            }
        }
        if let Some(url) = &server.public_url {
            if let Err(e) = check_public_url(url).map_err(|m| ConfigError::new(m).at_field("server.public_url")) {
                out.push(e);
            }
        }
        for (field, value) in [
            ("server.api_write_burst", server.api_write_burst),
            ("server.api_writes_per_second", server.api_writes_per_second),
        ] {
            if value.is_some_and(|v| v == 0 || v > 100_000) {
                out.push(ConfigError::new("must be from 1 to 100000").at_field(field));
            }
        }
        if let Some(token) = &server.admin_token {
            use secrecy::ExposeSecret;
            let t = token.expose_secret();
            if t.chars().count() < MIN_ADMIN_TOKEN_LENGTH || t.chars().any(|c| c.is_control() || c.is_whitespace()) {
                out.push(
                    ConfigError::new(format!(
                        "must be at least {MIN_ADMIN_TOKEN_LENGTH} characters without white space; leave it out to \
                         have one generated into the data directory"
                    ))
                    .at_field("server.admin_token"),
                );
            }
        }
        for (field, value) in [
            ("server.header_read_timeout_seconds", server.header_read_timeout_seconds),
            ("server.request_timeout_seconds", server.request_timeout_seconds),
        ] {
            if value.is_some_and(|v| v == 0 || v > MAX_SERVER_TIMEOUT_SECONDS) {
                out.push(
                    ConfigError::new(format!("must be from 1 to {MAX_SERVER_TIMEOUT_SECONDS} seconds")).at_field(field),
                );
            }
        }
        if server
            .max_connections
            .is_some_and(|n| n == 0 || n > MAX_SERVER_CONNECTIONS)
        {
            out.push(
                ConfigError::new(format!("must be from 1 to {MAX_SERVER_CONNECTIONS}"))
                    .at_field("server.max_connections"),
            );
        }
        if server
            .audit_retention_days
            .is_some_and(|d| d == 0 || d > MAX_AUDIT_RETENTION_DAYS)
        {
            out.push(
                ConfigError::new(format!("must be from 1 to {MAX_AUDIT_RETENTION_DAYS} days"))
                    .at_field("server.audit_retention_days"),
            );
        }
        if self
            .gateway
            .leeway_seconds
            .is_some_and(|s| s > MAX_GATEWAY_LEEWAY_SECONDS)
        {
            out.push(
                ConfigError::new(format!("must be at most {MAX_GATEWAY_LEEWAY_SECONDS} seconds"))
                    .at_field("gateway.leeway_seconds"),
            );
        }
        if let Some(name) = &self.gateway.client_certificate_header {
            if let Err(why) = check_client_certificate_header(name) {
                out.push(ConfigError::new(why).at_field("gateway.client_certificate_header"));
            }
        }
        if let Some(origin) = &self.gateway.public_origin {
            if let Err(why) = check_public_origin(origin) {
                out.push(ConfigError::new(why).at_field("gateway.public_origin"));
            }
        }
        for (i, s) in self.portal.sign_in.iter().enumerate() {
            if !self.key_managers.iter().any(|k| k.name == s.key_manager) {
                out.push(
                    ConfigError::new(format!("no key manager is named `{}`", s.key_manager))
                        .at_field(format!("portal.sign_in[{i}].key_manager")),
                );
            }
            if let Some(bad) = s.scopes.iter().find(|x| !crate::model::is_valid_scope_token(x)) {
                out.push(
                    ConfigError::new(format!("`{bad}` is not a scope token"))
                        .at_field(format!("portal.sign_in[{i}].scopes")),
                );
            }
        }
        for (i, r) in self.gateway.route.iter().enumerate() {
            if let Err(m) = r.check() {
                out.push(ConfigError::new(m).at_field(format!("gateway.route[{i}]")));
            }
        }
        for (i, name) in server.api_identity.iter().flatten().enumerate() {
            if !self.key_managers.iter().any(|k| &k.name == name) {
                out.push(
                    ConfigError::new(format!(
                        "no key manager is named `{name}`; api_identity lists configured key managers"
                    ))
                    .at_field(format!("server.api_identity[{i}]")),
                );
            }
        }
        match (&server.tls_cert, &server.tls_key) {
            (Some(_), None) => {
                out.push(ConfigError::new("tls_cert needs tls_key: set both or neither").at_field("server.tls_key"))
            }
            (None, Some(_)) => {
                out.push(ConfigError::new("tls_key needs tls_cert: set both or neither").at_field("server.tls_cert"))
            }
            _ => {}
        }
        if server.tls_client_certificates && server.tls_cert.is_none() {
            out.push(
                ConfigError::new("client certificates come in a TLS handshake: set tls_cert and tls_key")
                    .at_field("server.tls_client_certificates"),
            );
        }
        if server.tls_client_ca.is_some() && !server.tls_client_certificates {
            out.push(
                ConfigError::new("a client CA is used only when tls_client_certificates = true")
                    .at_field("server.tls_client_ca"),
            );
        }
        out
    }
}

/// The largest `[database] max_connections`.
pub(crate) const MAX_DATABASE_CONNECTIONS: u32 = 1000;

/// The shortest admin token accepted in the configuration (the generated one has 43 characters, 256 bits).
pub(crate) const MIN_ADMIN_TOKEN_LENGTH: usize = 32;

/// A database URL this program can open: `sqlite:…` or `postgres:`/`postgresql:…`.
pub(crate) fn check_database_url(url: &str) -> Result<(), String> {
    let scheme = url.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("sqlite" | "postgres" | "postgresql") => Ok(()),
        _ => Err(format!(
            "`{}` is not a supported database URL; use sqlite://FILE or postgres://…",
            redact_url_password(url)
        )),
    }
}

/// A listen address: `HOST:PORT` (`127.0.0.1:9443`, `[::1]:9443`, `localhost:9443`), port 0 to 65535.
pub fn check_listen_address(listen: &str) -> Result<(), String> {
    if listen.parse::<std::net::SocketAddr>().is_ok() {
        return Ok(());
    }
    let bad = || {
        format!(
            "`{}` is not an address to listen on; write HOST:PORT, such as 127.0.0.1:9443",
            listen.escape_debug()
        )
    };
    let (host, port) = listen.rsplit_once(':').ok_or_else(bad)?;
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    match (host_ok, port.parse::<u16>()) {
        (true, Ok(_)) => Ok(()),
        _ => Err(bad()),
    }
}

/// A public base URL: `http` or `https`, with a host, without query or fragment.
pub(crate) fn check_public_url(text: &str) -> Result<(), String> {
    let url = url::Url::parse(text).map_err(|e| format!("`{}` is not a URL: {e}", text.escape_debug()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(format!(
            "`{}` must be an http:// or https:// URL with a host",
            text.escape_debug()
        ));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(format!(
            "`{}` must not carry a query, fragment or user information",
            text.escape_debug()
        ));
    }
    Ok(())
}

impl ConfigError {
    fn at_toml_span(mut self, text: &str, span: Option<std::ops::Range<usize>>) -> Self {
        if let Some(span) = span {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            self.message = format!("{} (line {line})", self.message);
        }
        self
    }
}
