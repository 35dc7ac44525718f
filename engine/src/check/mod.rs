//! The oracles that judge a world: the quiescent-state invariants ([`quiescent`]), checked
//! when the actors are done. They sit above `mm`, which they read. The vocabulary every oracle
//! reports in (violations, sinks, the loom payload) is [`crate::report`], below the lock kinds;
//! the world's unmap log, which the lost-store and zap-completion oracles read, is
//! [`crate::mm::unmap_log`]. Both are re-exported here, as scenarios name them.

pub mod anon_vma_tree;
pub mod cow;
pub mod quiescent;

pub use crate::mm::unmap_log as unmapped;

pub use crate::report::{
    Installed, LOOM_TRACE_EVENTS, Oracle, Raised, Sink, Site, Violation, current_sink,
    panic_message, report, set_panic_under_loom, violation, vm_bug_on_not,
};
