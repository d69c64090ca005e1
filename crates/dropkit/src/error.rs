//! The library's one error type. Every message names the thing, the value seen, what was
//! expected and, where there is one, the fix.

use std::path::PathBuf;

/// Everything that can go wrong in dropkit, as a value.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A layer or option got a value outside its domain, e.g. `dropout(1.5)`.
    #[error("{0}")]
    InvalidArgument(String),
    /// Tensor shapes that do not fit together.
    #[error("shape mismatch in {context}: got {got:?}, expected {expected}")]
    Shape { context: String, got: Vec<usize>, expected: String },
    /// A model spec that does not parse.
    #[error("model spec: {0}")]
    Spec(String),
    /// A data file that is not what it claims to be.
    #[error("{path}: {message}")]
    Format { path: String, message: String },
    /// A file or directory that could not be read or written.
    #[error("{path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    /// A data set that cannot be found where the data-directory rules look.
    #[error("{0}")]
    DataNotFound(String),
    /// Downloading failed on every mirror.
    #[error("download failed: {0}")]
    Download(String),
    /// Training diverged or produced non-finite numbers.
    #[error("{0}")]
    Numeric(String),
}

/// Shorthand used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), error: source }
    }

    /// A data-format error for `path`.
    pub fn format(path: impl std::fmt::Display, message: impl Into<String>) -> Self {
        Error::Format { path: path.to_string(), message: message.into() }
    }
}
