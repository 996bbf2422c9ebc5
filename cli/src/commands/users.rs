//! `keymanager users`: the resident key manager's users (who sign in on its login page and use the password grant).

use clap::Subcommand;
use keymanager::api::dto::{CreateUserDto, ListDto, UpdateUserDto, UserDto};

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
    /// Change a user: roles, OpenID Connect claims, or the password (`--password`, read on stdin). A new password or
    /// changed roles end the user's sessions and revoke the tokens of its grants.
    ///
    /// Example: keymanager users update alice --role admin --role auditor
    Update {
        /// Login name.
        username: String,
        /// A role (repeat for several); the roles given replace the user's roles.
        #[arg(long = "role", conflicts_with = "no_roles")]
        roles: Vec<String>,
        /// Take every role away.
        #[arg(long)]
        no_roles: bool,
        /// Full name; with --email and --email-verified it replaces the user's claims.
        #[arg(long)]
        name: Option<String>,
        /// E-mail address.
        #[arg(long)]
        email: Option<String>,
        /// Whether the e-mail address is verified.
        #[arg(long)]
        email_verified: Option<bool>,
        /// Set a new password, read on stdin.
        #[arg(long)]
        password: bool,
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
        UsersCommand::Update {
            username,
            roles,
            no_roles,
            name,
            email,
            email_verified,
            password,
        } => {
            let password = match password {
                true => Some(read_secret("password", None)?),
                false => None,
            };
            let roles = match (no_roles, roles.is_empty()) {
                (true, _) => Some(Vec::new()),
                (false, true) => None,
                (false, false) => Some(roles),
            };
            let change = UpdateUserDto {
                password,
                roles,
                name,
                email,
                email_verified,
            };
            let user: UserDto = api.put(&format!("/api/users/{}", segment(&username)), &change).await?;
            print(ctx.json, &user, |u| {
                format!("changed user {} (roles: {})", u.username, u.roles.join(" "))
            });
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
