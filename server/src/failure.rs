//! What the server's entry points and the operations on its store fail with, and the exit code each maps to in the
//! `keymanager` binary.

/// A failure: a message for the operator, classified.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Bad usage or configuration (the binary exits 2).
    #[error("{0}")]
    Usage(String),
    /// A refused operation (the binary exits 1).
    #[error("{0}")]
    Refused(String),
    /// Bad configuration already reported on stdout (the binary exits 2).
    #[error("the configuration has problems (reported above)")]
    Reported,
}

impl From<keymanager::Error> for Failure {
    fn from(e: keymanager::Error) -> Self {
        match e {
            keymanager::Error::Configuration(c) => Failure::Usage(c.to_string()),
            other => Failure::Refused(other.to_string()),
        }
    }
}

impl From<keymanager::error::ConfigError> for Failure {
    fn from(e: keymanager::error::ConfigError) -> Self {
        Failure::Usage(e.to_string())
    }
}
