//! What every scenario does the same way: size its world, run its actors, check, and package
//! the outcome.

use crate::scenario::{Outcome, Size};
use mmlab_engine::actor::Env;
use mmlab_engine::check::quiescent;
use mmlab_engine::mm::{World, WorldConfig};
use mmlab_engine::protocol::Protocol;
use mmlab_engine::sync::Arc;

/// An actor: a name (printed in traces) and its body.
pub(crate) type Actor = (&'static str, Box<dyn FnOnce() + Send + 'static>);

/// A world for `size` with `cpus` CPUs (one per actor), tweaked by `f`.
pub(crate) fn world(
    size: Size,
    cpus: usize,
    protocol: Protocol,
    f: impl FnOnce(&mut WorldConfig),
) -> Arc<World> {
    let mut cfg = match size {
        Size::Tiny => WorldConfig::tiny(cpus),
        Size::Stress => WorldConfig::stress(cpus),
    };
    f(&mut cfg);
    Arc::new(World::new(cfg, protocol))
}

/// Run the actors, then the quiescent invariants, and collect what fired. Setup done before
/// this call runs on the caller's thread, which is not one of the actors.
pub(crate) fn run(env: &Env, w: &Arc<World>, actors: Vec<Actor>) -> Outcome {
    env.sink.install();
    env.run(actors);
    quiescent::check_world(w);
    let violations = env.sink.take();
    let trace = if violations.is_empty() {
        String::new()
    } else {
        w.trace.render(80)
    };
    Outcome {
        violations,
        trace,
        ops: Vec::new(),
    }
}

/// Box an actor body.
pub(crate) fn actor(name: &'static str, f: impl FnOnce() + Send + 'static) -> Actor {
    (name, Box::new(f))
}

/// How many rounds an actor repeats its step at `size` (1 under loom).
pub(crate) fn rounds(size: Size, stress: usize) -> usize {
    match size {
        Size::Tiny => 1,
        Size::Stress => stress,
    }
}

/// A scenario file's `//!` doc comment, as plain text (what `mmlab explain` prints).
pub(crate) fn story(source: &str) -> String {
    source
        .lines()
        .take_while(|l| l.starts_with("//!"))
        .map(|l| {
            l.strip_prefix("//! ")
                .or_else(|| l.strip_prefix("//!"))
                .unwrap_or(l)
        })
        .collect::<Vec<_>>()
        .join("\n")
}
