//! `keymanager apps`: applications.

use clap::Subcommand;
use keymanager::api::dto::{ApplicationDto, CreateApplicationDto, ListDto};

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
        /// Its owner [default: $USER, else admin].
        #[arg(long)]
        owner: Option<String>,
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
        AppsCommand::Create { name, owner } => {
            let owner = owner
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "admin".into());
            let app: ApplicationDto = api
                .post("/api/applications", &CreateApplicationDto { name, owner })
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
