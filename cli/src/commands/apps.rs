//! `keymanager apps`: applications.

use clap::Subcommand;
use keymanager::api::dto::{ApplicationDto, CreateApplicationDto, ListDto, TransferApplicationDto};

use super::{application, Context};
use crate::client::segment;
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
    /// List applications.
    ///
    /// Example: keymanager --json apps list | jq -r '.list[].name'
    List,
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
        } => {
            let owner = match (owner, api.admin) {
                (Some(o), _) => Some(o),
                (None, true) => Some(std::env::var("USER").unwrap_or_else(|_| "admin".into())),
                (None, false) => None,
            };
            let app: ApplicationDto = api
                .post(
                    "/api/applications",
                    &CreateApplicationDto {
                        name,
                        owner,
                        description,
                    },
                )
                .await?;
            print(ctx.json, &app, |a| {
                fields(&[
                    ("application id", a.application_id.clone()),
                    ("name", a.name.clone()),
                    ("owner", a.owner.clone()),
                    ("created", time(a.created_time)),
                ])
            });
        }
        AppsCommand::List => {
            let apps: ListDto<ApplicationDto> = api.get("/api/applications").await?;
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
