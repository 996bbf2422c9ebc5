//! Day-2 operations that work on the store and files directly rather than through a server's management API: the
//! secret key, backups, and the database's migrations.

mod backup;
mod migrate;
mod secret_key;

pub(crate) use backup::{backup, restore};
pub(crate) use migrate::migrate;
pub(crate) use secret_key::{secret_key, SecretKeyCommand};
