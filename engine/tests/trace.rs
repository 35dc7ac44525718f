//! A failure's trace tells the story: the violation is marked at the step where it was found,
//! with the caller's site, and the rendering shows every actor's steps around it — not the
//! setup, and not one chatty helper's output crowding the actors out.
#![cfg(not(mmlab_loom))]

use mmlab_engine::check::{self, Oracle, Sink};
use mmlab_engine::trace::{Trace, set_actor};

#[test]
fn a_stress_trace_shows_each_actor_around_the_marked_violation() {
    Sink::new().install();
    let t = Trace::default();
    set_actor("main", 0);
    for i in 0..40 {
        t.record("mmap: setup", format_args!("vma {i}"), "");
    }
    // A chatty helper runs all along; the two actors make a few steps each, early.
    for i in 0..400 {
        set_actor("writeback", 2);
        t.record("folio_mkclean", format_args!("pfn {}", i % 7), "");
        match i {
            100 => {
                set_actor("migrator", 0);
                t.record("try_to_migrate_one: set migration entry", "va 0x0", "pfn 3");
            }
            150 => {
                set_actor("writer", 1);
                t.record("store: through a stale TLB entry", "va 0x0", "42");
            }
            200 => {
                set_actor("migrator", 0);
                t.record("move_to_new_folio", "pfn 3", "pfn 5");
            }
            _ => {}
        }
    }
    set_actor("writer", 1);
    let line = line!() + 1;
    check::violation(Oracle::LostStore, "the store of 42 is not in the new page");
    for i in 0..30 {
        set_actor("writeback", 2);
        t.record("folio_mkclean", format_args!("pfn {i}"), "after");
    }
    set_actor("main", 0);

    let story = t.render(80);
    for step in [
        "try_to_migrate_one: set migration entry",
        "store: through a stale TLB entry",
        "move_to_new_folio",
    ] {
        assert!(story.contains(step), "{step} is missing:\n{story}");
    }
    assert!(
        story.contains("*** VIOLATION") && story.contains("[lost-store]"),
        "the violation is not marked:\n{story}"
    );
    assert!(
        story.contains(&format!("tests/trace.rs:{line}")),
        "the mark does not give the caller's site:\n{story}"
    );
    assert!(
        story.contains("setup events of thread main elided")
            && story.contains("events of thread writeback elided"),
        "elisions are not counted:\n{story}"
    );
    assert!(story.lines().count() < 110, "{story}");
}

#[test]
fn the_steps_before_a_violation_survive_a_long_run_after_it() {
    Sink::new().install();
    let t = Trace::default();
    set_actor("migrator", 0);
    t.record("try_to_migrate_one: set migration entry", "va 0x0", "pfn 3");
    set_actor("writer", 1);
    t.record("store: through a stale TLB entry", "va 0x0", "42");
    check::violation(Oracle::I3FreeBeforeFlush, "pfn 3 freed while cpu1 maps it");
    // The run goes on: a writer hammering long after the violation.
    for i in 0..(2 * Trace::CAPACITY) {
        t.record("store", format_args!("va {i:#x}"), i);
    }
    let story = t.render(80);
    for step in [
        "try_to_migrate_one: set migration entry",
        "store: through a stale TLB entry",
        "[I3-free-before-flush]",
    ] {
        assert!(story.contains(step), "{step} is missing:\n{story}");
    }
    assert!(story.contains("later events were not kept"), "{story}");
}
