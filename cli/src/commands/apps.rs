//! `keymanager apps`: applications.

use std::collections::BTreeMap;

use clap::Subcommand;
use keymanager::api::dto::{
    ApplicationDto, CreateApplicationDto, GenerateKeysDto, KeyDto, ListDto, MapKeysDto, TransferApplicationDto,
    UpdateApplicationDto,
};
use serde::{Deserialize, Serialize};

use super::{application, Context};
use crate::client::{segment, ApiClient};
use crate::output::{fields, line, print, table, time};
use crate::Failure;

#[derive(Debug, Subcommand)]
pub(crate) enum AppsCommand {
    /// Create an application.
    ///
    /// Example: keymanager apps create orders --owner alice
    Create {
        /// Its name (unique per owner).
        name: String,
        /// Its owner [default: yourself with an access token; $USER, else admin, with an admin token]. Only an
        /// administrator may name another owner.
        #[arg(long)]
        owner: Option<String>,
        /// What it is for.
        #[arg(long)]
        description: Option<String>,
        /// An attribute, KEY=VALUE (repeat for more).
        #[arg(long = "attribute", value_name = "KEY=VALUE")]
        attributes: Vec<String>,
    },
    /// Change an application's name, description or attributes (given attributes replace all of them).
    ///
    /// Example: keymanager apps update orders --description "Takes orders" --attribute tier=gold
    Update {
        /// Application id or name.
        app: String,
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        /// A new description ("" removes it).
        #[arg(long)]
        description: Option<String>,
        /// An attribute, KEY=VALUE (repeat for more); the attributes given replace all the others.
        #[arg(long = "attribute", value_name = "KEY=VALUE")]
        attributes: Vec<String>,
        /// Remove every attribute.
        #[arg(long, conflicts_with = "attributes")]
        clear_attributes: bool,
    },
    /// Write an application, its attributes and its keys' settings (never a secret) as JSON, to move it to another
    /// environment with `apps import`.
    ///
    /// Example: keymanager apps export orders > orders.json
    Export {
        /// Application id or name.
        app: String,
    },
    /// Create an application from `apps export` JSON: its keys mapped to the same clients (administrators), or new
    /// clients generated with the same settings (--generate-keys; their secrets are shown once). If a step fails,
    /// the application is removed again.
    ///
    /// Example: keymanager apps import orders.json --generate-keys
    Import {
        /// The exported file ("-" for stdin).
        file: std::path::PathBuf,
        /// Name it differently.
        #[arg(long)]
        name: Option<String>,
        /// Its owner (administrators).
        #[arg(long)]
        owner: Option<String>,
        /// Generate new clients instead of mapping the exported ones.
        #[arg(long)]
        generate_keys: bool,
    },
    /// Give an application to another owner (administrators only).
    ///
    /// Example: keymanager apps transfer orders --owner bob
    Transfer {
        /// Application id or name.
        app: String,
        /// The new owner.
        #[arg(long)]
        owner: String,
    },
    /// List applications (every page).
    ///
    /// Example: keymanager --json apps list --query ord | jq -r '.list[].name'
    List {
        /// Only those whose name or description contains this (any case).
        #[arg(long)]
        query: Option<String>,
        /// createdTime (default) or name.
        #[arg(long)]
        sort_by: Option<String>,
        /// asc (default) or desc.
        #[arg(long)]
        sort_order: Option<String>,
    },
    /// Show one application: its name, owner, description, attributes and keys.
    ///
    /// Example: keymanager apps show orders
    Show {
        /// Application id or name.
        app: String,
    },
    /// Delete an application and the clients generated for it.
    ///
    /// Example: keymanager apps delete orders
    Delete {
        /// Application id or name.
        app: String,
    },
}

pub(crate) async fn apps(ctx: &Context, cmd: AppsCommand) -> Result<(), Failure> {
    let api = ctx.api()?;
    match cmd {
        AppsCommand::Create {
            name,
            owner,
            description,
            attributes,
        } => {
            let app = create(&api, name, owner, description, pairs(&attributes)?).await?;
            print(ctx.json, &app, show);
        }
        AppsCommand::Update {
            app,
            name,
            description,
            attributes,
            clear_attributes,
        } => {
            let app = application(&api, &app).await?;
            let attributes = match (clear_attributes, attributes.is_empty()) {
                (true, _) => Some(BTreeMap::new()),
                (false, false) => Some(pairs(&attributes)?),
                (false, true) => None,
            };
            let updated: ApplicationDto = api
                .put(
                    &format!("/api/applications/{}", segment(&app.application_id)),
                    &UpdateApplicationDto {
                        name,
                        description,
                        attributes,
                    },
                )
                .await?;
            print(ctx.json, &updated, show);
        }
        AppsCommand::Export { app } => {
            let app = application(&api, &app).await?;
            let keys: Vec<KeyDto> = api
                .get_all(&format!(
                    "/api/applications/{}/oauth-keys",
                    segment(&app.application_id)
                ))
                .await?;
            let file = ExportedApplication::of(&app, &keys);
            // Always JSON: the export is a file format.
            print(true, &file, |_| String::new());
        }
        AppsCommand::Import {
            file,
            name,
            owner,
            generate_keys,
        } => {
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())
            } else {
                std::fs::read_to_string(&file)
            }
            .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", file.display())))?;
            let exported: ExportedApplication = serde_json::from_str(&text)
                .map_err(|e| Failure::Usage(format!("{} is not an `apps export` file: {e}", file.display())))?;
            exported.check()?;
            let imported = import(&api, exported, name, owner, generate_keys).await?;
            print(ctx.json, &imported, |i| {
                let mut out = show(&i.application);
                for k in &i.keys {
                    out.push_str(&format!(
                        "\n{} keys at {}: consumer key {}{}",
                        k.key_type,
                        k.key_manager,
                        k.consumer_key,
                        k.consumer_secret
                            .as_deref()
                            .map(|s| format!(", consumer secret {s} (shown once)"))
                            .unwrap_or_default()
                    ));
                }
                out
            });
        }
        AppsCommand::List {
            query,
            sort_by,
            sort_order,
        } => {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in [("query", query), ("sortBy", sort_by), ("sortOrder", sort_order)] {
                if let Some(v) = v {
                    q.append_pair(k, &v);
                }
            }
            q.append_pair("limit", "500");
            let all: Vec<ApplicationDto> = api.get_all(&format!("/api/applications?{}", q.finish())).await?;
            let apps = ListDto::new(all);
            print(ctx.json, &apps, |d| {
                let rows: Vec<Vec<String>> = d
                    .list
                    .iter()
                    .map(|a| {
                        vec![
                            a.application_id.clone(),
                            a.name.clone(),
                            a.owner.clone(),
                            time(a.created_time),
                        ]
                    })
                    .collect();
                table(&["APPLICATION ID", "NAME", "OWNER", "CREATED"], &rows)
            });
        }
        AppsCommand::Transfer { app, owner } => {
            let app = application(&api, &app).await?;
            let moved: ApplicationDto = api
                .put(
                    &format!("/api/applications/{}/owner", segment(&app.application_id)),
                    &TransferApplicationDto { owner },
                )
                .await?;
            print(ctx.json, &moved, |a| {
                format!("application {} now belongs to {}", a.name, a.owner)
            });
        }
        AppsCommand::Show { app } => {
            let app = application(&api, &app).await?;
            let keys: ListDto<KeyDto> = api
                .get(&format!(
                    "/api/applications/{}/oauth-keys",
                    segment(&app.application_id)
                ))
                .await?;
            #[derive(Serialize)]
            #[serde(rename_all = "camelCase")]
            struct Shown<'a> {
                #[serde(flatten)]
                application: &'a ApplicationDto,
                keys: &'a [KeyDto],
            }
            let shown = Shown {
                application: &app,
                keys: &keys.list,
            };
            print(ctx.json, &shown, |s| {
                let mut out = show(s.application);
                for k in s.keys {
                    out.push_str(&format!(
                        "keys\t{} {} at {} (consumer key {})\n",
                        k.key_type, k.key_mapping_id, k.key_manager, k.consumer_key
                    ));
                }
                out
            });
        }
        AppsCommand::Delete { app } => {
            let app = application(&api, &app).await?;
            api.delete(&format!("/api/applications/{}", segment(&app.application_id)))
                .await?;
            if !ctx.json {
                line(&format!("deleted application {} ({})", app.name, app.application_id));
            }
        }
    }
    Ok(())
}

fn show(a: &ApplicationDto) -> String {
    let mut rows = vec![
        ("application id", a.application_id.clone()),
        ("name", a.name.clone()),
        ("owner", a.owner.clone()),
        ("created", time(a.created_time)),
    ];
    if let Some(d) = &a.description {
        rows.push(("description", d.clone()));
    }
    let attributes: Vec<String> = a.attributes.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if !attributes.is_empty() {
        rows.push(("attributes", attributes.join(", ")));
    }
    fields(&rows)
}

/// `KEY=VALUE` arguments as attributes.
fn pairs(args: &[String]) -> Result<BTreeMap<String, String>, Failure> {
    let mut out = BTreeMap::new();
    for a in args {
        let (k, v) = a
            .split_once('=')
            .ok_or_else(|| Failure::Usage(format!("--attribute {a}: expected KEY=VALUE")))?;
        if out.insert(k.to_owned(), v.to_owned()).is_some() {
            return Err(Failure::Usage(format!("--attribute {k} is given twice")));
        }
    }
    Ok(out)
}

async fn create(
    api: &ApiClient,
    name: String,
    owner: Option<String>,
    description: Option<String>,
    attributes: BTreeMap<String, String>,
) -> Result<ApplicationDto, Failure> {
    let owner = match (owner, api.admin) {
        (Some(o), _) => Some(o),
        (None, true) => Some(std::env::var("USER").unwrap_or_else(|_| "admin".into())),
        (None, false) => None,
    };
    api.post(
        "/api/applications",
        &CreateApplicationDto {
            name,
            owner,
            description,
            attributes,
        },
    )
    .await
}

/// What `apps export` writes: the application and its keys' settings, never a secret.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ExportedApplication {
    /// The file format.
    format: String,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    attributes: BTreeMap<String, String>,
    #[serde(default)]
    keys: Vec<ExportedKeys>,
}

/// One key mapping's settings.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ExportedKeys {
    key_type: String,
    key_manager: String,
    consumer_key: String,
    #[serde(default)]
    supported_grant_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    callback_url: Option<String>,
    #[serde(default)]
    scopes: keymanager::model::Scopes,
    #[serde(default)]
    pkce_mandatory: bool,
    #[serde(default)]
    pkce_support_plain: bool,
    #[serde(default)]
    bypass_client_credentials: bool,
}

/// The format name `apps export` writes and `apps import` reads.
const EXPORT_FORMAT: &str = "keymanager-application/1";

impl ExportedApplication {
    fn of(app: &ApplicationDto, keys: &[KeyDto]) -> Self {
        ExportedApplication {
            format: EXPORT_FORMAT.into(),
            name: app.name.clone(),
            description: app.description.clone(),
            attributes: app.attributes.clone(),
            keys: keys
                .iter()
                .map(|k| ExportedKeys {
                    key_type: k.key_type.clone(),
                    key_manager: k.key_manager.clone(),
                    consumer_key: k.consumer_key.clone(),
                    supported_grant_types: k.supported_grant_types.clone(),
                    callback_url: k.callback_url.clone(),
                    scopes: k.scopes.clone(),
                    pkce_mandatory: k.pkce_mandatory,
                    pkce_support_plain: k.pkce_support_plain,
                    bypass_client_credentials: k.bypass_client_credentials,
                })
                .collect(),
        }
    }

    fn check(&self) -> Result<(), Failure> {
        if self.format != EXPORT_FORMAT {
            return Err(Failure::Usage(format!(
                "the file's format is `{}`; this keymanager reads `{EXPORT_FORMAT}`",
                self.format
            )));
        }
        Ok(())
    }
}

/// What `apps import` made.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Imported {
    application: ApplicationDto,
    keys: Vec<KeyDto>,
}

async fn import(
    api: &ApiClient,
    file: ExportedApplication,
    name: Option<String>,
    owner: Option<String>,
    generate: bool,
) -> Result<Imported, Failure> {
    let app = create(api, name.unwrap_or(file.name), owner, file.description, file.attributes).await?;
    let path = |what: &str| format!("/api/applications/{}/{what}", segment(&app.application_id));
    let mut keys = Vec::new();
    for k in &file.keys {
        let made: Result<KeyDto, Failure> = if generate {
            api.post(
                &path("generate-keys"),
                &GenerateKeysDto {
                    key_type: k.key_type.clone(),
                    key_manager: Some(k.key_manager.clone()),
                    grant_types_to_be_supported: k.supported_grant_types.clone(),
                    callback_url: k.callback_url.clone(),
                    scopes: k.scopes.clone(),
                    validity_time: None,
                    pkce_mandatory: k.pkce_mandatory,
                    pkce_support_plain: k.pkce_support_plain,
                    bypass_client_credentials: k.bypass_client_credentials,
                    additional_properties: Default::default(),
                    generate_token: false,
                },
            )
            .await
        } else {
            api.post(
                &path("map-keys"),
                &MapKeysDto {
                    consumer_key: k.consumer_key.clone(),
                    consumer_secret: None,
                    key_manager: Some(k.key_manager.clone()),
                    key_type: k.key_type.clone(),
                },
            )
            .await
        };
        match made {
            Ok(key) => keys.push(key),
            Err(e) => {
                // Nothing half-imported: the application goes again, with the clients generated for it.
                if let Err(undo) = api
                    .delete(&format!("/api/applications/{}", segment(&app.application_id)))
                    .await
                {
                    tracing::warn!(error = ?undo, "a failed import's application could not be removed");
                }
                return Err(match e {
                    Failure::Refused(m) => Failure::Refused(format!(
                        "importing the {} keys at {} failed, so nothing was imported: {m}",
                        k.key_type, k.key_manager
                    )),
                    other => other,
                });
            }
        }
    }
    Ok(Imported { application: app, keys })
}
