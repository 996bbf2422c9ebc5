//! `keymanager config check FILE`.

use std::path::Path;

use keymanager::config::Config;

use crate::{setup, Failure};

pub(crate) fn check(file: &Path) -> Result<(), Failure> {
    let config = Config::load(file)?;
    setup::registry().check(&config)?;
    if config.key_managers.is_empty() {
        crate::output::line(&format!("{}: valid, no key managers declared", file.display()));
        return Ok(());
    }
    crate::output::line(&format!(
        "{}: valid, {} key manager(s)",
        file.display(),
        config.key_managers.len()
    ));
    for km in &config.key_managers {
        crate::output::line(&format!("  {}\t(type {})", km.name, km.kind));
    }
    Ok(())
}
