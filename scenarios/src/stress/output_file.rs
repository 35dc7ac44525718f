//! Writing an output file (`--json FILE`, `--svg FILE`) whole or not at all.
//!
//! These files are read by scripts and browsers, so a reader must never see half of one. An
//! [`OutputFile`] is prepared *before* the run: it creates its temporary file in the target's
//! own directory (so an unwritable path is a usage error before any work, and the final rename
//! cannot cross filesystems), and [`OutputFile::commit`] writes, syncs and renames it over the
//! target in one step. If the run ends any other way the temporary file is removed: on drop,
//! or by [`remove_pending`] when a second Ctrl-C exits the process without unwinding.

use super::usage::UsageError;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Temporary files not yet committed, for [`remove_pending`].
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// An output target, prepared.
#[derive(Debug)]
pub struct OutputFile {
    flag: &'static str,
    target: PathBuf,
    temp: PathBuf,
    file: Option<File>,
}

impl OutputFile {
    /// Check that `target` can be written, by creating the temporary file beside it. `flag`
    /// (`--json`, `--svg`) names the option in messages.
    pub fn prepare(flag: &'static str, target: &Path) -> Result<Self, UsageError> {
        let shown = target.display();
        if target.as_os_str().is_empty() {
            return Err(UsageError::new(format!("{flag} needs a file name")));
        }
        if target.is_dir() {
            return Err(UsageError::new(format!(
                "cannot write {flag} {shown}: it is a directory"
            )));
        }
        let Some(name) = target.file_name() else {
            return Err(UsageError::new(format!(
                "cannot write {flag} {shown}: it does not name a file"
            )));
        };
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let temp = dir.join(format!(
            ".{}.{}.{}.tmp",
            name.to_string_lossy(),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(|e| UsageError::new(format!("cannot write {flag} {shown}: {e}")))?;
        if let Ok(mut p) = PENDING.lock() {
            p.push(temp.clone());
        }
        Ok(OutputFile {
            flag,
            target: target.to_path_buf(),
            temp,
            file: Some(file),
        })
    }

    /// Where it will be written.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// The option it was prepared for (`--json`).
    pub fn flag(&self) -> &'static str {
        self.flag
    }

    /// Write the contents with `write` and move the file into place.
    pub fn commit(
        mut self,
        write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
    ) -> io::Result<()> {
        let file = self
            .file
            .take()
            .ok_or_else(|| io::Error::other("already committed"))?;
        let mut w = BufWriter::new(file);
        write(&mut w)?;
        w.flush()?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&self.temp, &self.target)?;
        forget_pending(&self.temp);
        Ok(())
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        // After a successful commit the temp path no longer exists; otherwise remove it.
        if self.file.take().is_some() || self.temp.exists() {
            let _ = std::fs::remove_file(&self.temp);
        }
        forget_pending(&self.temp);
    }
}

fn forget_pending(temp: &Path) {
    if let Ok(mut p) = PENDING.lock() {
        p.retain(|t| t != temp);
    }
}

/// Remove every temporary file not yet committed (a second Ctrl-C calls this before it exits).
pub fn remove_pending() {
    // try_lock: this runs in a signal-handling thread and must never wait on the main thread.
    if let Ok(mut p) = PENDING.try_lock() {
        for t in p.drain(..) {
            let _ = std::fs::remove_file(t);
        }
    }
}
