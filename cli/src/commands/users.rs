//! `keymanager users`: the resident key manager's users (who sign in on its login page and use the password grant).

use clap::Subcommand;
use keymanager::api::dto::{CreateUserDto, ListDto, UserDto};

use super::{read_secret, Context};
use crate::client::segment;
use crate::output::{line, print, table};
use crate::Failure;

#[derive(Debug, Subcommand)]
pub(crate) enum UsersCommand {
    /// Add a user (password on stdin, hashed with argon2id).
    ///
    /// Example: printf '%s\n' "$PASSWORD" | keymanager users add alice
    Add {
        /// Login name.
        username: String,
        /// A role (repeat for several); `admin` lets the user be granted `keymanager:admin`.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Full name (OpenID Connect `name`, with scope `profile`).
        #[arg(long)]
        name: Option<String>,
        /// E-mail address (OpenID Connect `email`, with scope `email`).
        #[arg(long)]
        email: Option<String>,
        /// The e-mail address is verified.
        #[arg(long)]
        email_verified: bool,
    },
    /// List users and their roles.
    ///
    /// Example: keymanager users list
    List,
    /// Delete a user.
    ///
    /// Example: keymanager users delete alice
    Delete {
        /// Login name.
        username: String,
    },
}

pub(crate) async fn users(ctx: &Context, cmd: UsersCommand) -> Result<(), Failure> {
    let api = ctx.api()?;
    match cmd {
        UsersCommand::Add {
            username,
            roles,
            name,
            email,
            email_verified,
        } => {
            let password = read_secret("password", None)?;
            let user: UserDto = api
                .post(
                    "/api/users",
                    &CreateUserDto {
                        username,
                        password,
                        roles,
                        name,
                        email,
                        email_verified,
                    },
                )
                .await?;
            print(ctx.json, &user, |u| format!("added user {}", u.username));
        }
        UsersCommand::List => {
            let list: ListDto<UserDto> = api.get("/api/users").await?;
            print(ctx.json, &list, |d| {
                let rows: Vec<Vec<String>> = d
                    .list
                    .iter()
                    .map(|u| vec![u.username.clone(), u.roles.join(" ")])
                    .collect();
                table(&["USERNAME", "ROLES"], &rows)
            });
        }
        UsersCommand::Delete { username } => {
            api.delete(&format!("/api/users/{}", segment(&username))).await?;
            if !ctx.json {
                line(&format!("deleted user {username}"));
            }
        }
    }
    Ok(())
}
