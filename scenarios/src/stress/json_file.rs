//! Writing `--json FILE` whole or not at all: an [`OutputFile`] that serialises a value.
//!
//! The file is a contract that scripts parse, so a reader must never see half of one; see
//! [`super::output_file`] for how (prepared before the run, committed by one rename).

use super::output_file::OutputFile;
use super::usage::UsageError;
use std::io::{self, Write};
use std::path::Path;

pub use super::output_file::remove_pending;

/// A `--json` target, prepared.
#[derive(Debug)]
pub struct JsonFile(OutputFile);

impl JsonFile {
    /// Check that `target` can be written, by creating the temporary file beside it.
    pub fn prepare(target: &Path) -> Result<Self, UsageError> {
        OutputFile::prepare("--json", target).map(JsonFile)
    }

    /// Where it will be written.
    pub fn target(&self) -> &Path {
        self.0.target()
    }

    /// Write `value` (pretty-printed, newline-terminated) and move it into place.
    pub fn commit(self, value: &impl serde::Serialize) -> io::Result<()> {
        self.0.commit(|w| {
            serde_json::to_writer_pretty(&mut *w, value)?;
            w.write_all(b"\n")
        })
    }
}
