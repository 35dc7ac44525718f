//! A kernel patch tried against every scenario: entries of the kernel function table replaced
//! in every world that [`kit::world`](crate::kit::world) builds, whatever the variant chose.
//!
//! A kernel developer's change is one function somewhere deep in a path. Written as a `pub fn`
//! of that entry's type, it becomes a [`Patch`]; applied once at the start of a process (the
//! `main!(patch = ...)` form of the command, or the first line of a loom test), every scenario
//! of the catalog and of the crate runs with it — stress and loom alike — so the catalog's
//! fixed variants say whether the patch keeps each protocol, and its race variants whether the
//! historical races are still caught.
//!
//! The patch is applied after the variant's own table: a variant that replaces the same entry
//! (a historical version of the function the patch changes) runs the patch instead.

use mmlab_engine::kernel::Kernel;
use std::sync::OnceLock;

/// A patch of the kernel function table.
#[derive(Debug, Clone, Copy)]
pub struct Patch {
    /// A short name, printed by the command (`zap-no-dirty-flush`).
    pub name: &'static str,
    /// One line: what it changes.
    pub summary: &'static str,
    /// Replace the patched entries of a table (built by the variant) in place.
    pub apply: fn(&mut Kernel),
}

/// The patch this process runs with, if any.
/// Protected by: `OnceLock` (set once, before any world is built; read by every world built).
static APPLIED: OnceLock<Patch> = OnceLock::new();

/// Run every world built from now on with `patch`. A process runs one patch: applying a second,
/// different one is refused (`Err` returns the one in force); applying the same one again is a
/// no-op, so that every test of a loom test binary may apply it first.
pub fn apply(patch: Patch) -> Result<(), Patch> {
    let applied = *APPLIED.get_or_init(|| patch);
    if applied.name == patch.name {
        Ok(())
    } else {
        Err(applied)
    }
}

/// The patch in force, if any.
pub fn applied() -> Option<Patch> {
    APPLIED.get().copied()
}

/// Apply the patch in force (if any) to `kernel`: what [`kit::world`](crate::kit::world) does
/// to every table before it builds a world.
pub fn patch_kernel(kernel: &mut Kernel) {
    if let Some(p) = APPLIED.get() {
        (p.apply)(kernel);
    }
}
