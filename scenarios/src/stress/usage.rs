//! Bad usage: the one error kind the command turns into exit status 2.
//!
//! Everything a user can get wrong — an unknown scenario, a zero duration, a malformed shard, an
//! unwritable `--json` path — is found *before* the run starts and reported as a
//! [`UsageError`] with a message that says what was wrong and what would be right. The runner
//! never panics on user input and never leaves a half-written file behind.

use std::fmt;

/// A message for the user about input that cannot be run. Exit status 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl UsageError {
    /// A usage error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        UsageError(message.into())
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}
