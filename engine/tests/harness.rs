//! Where `Env::run` runs actors: a new thread each (`Harness::Spawn`), a crew of long-lived
//! threads (`Harness::Crew`), or one after another on the caller (`Harness::Inline`). Every
//! harness gives actor `i` the same identity, sink and injector; the crew reuses its threads,
//! and replaces one whose actor panicked or never came back. And `World::renew`: a renewed
//! world is a new world, and ids from before it are stale.
#![cfg(not(mmlab_loom))]

use mmlab_engine::actor::{Actor, Crew, Env, Harness};
use mmlab_engine::check::{self, Oracle};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{World, WorldConfig};
use mmlab_engine::ops::access;
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::{race, race_window, trace};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

/// What an actor saw of itself: (name, cpu, injector hits, thread).
type Seen = Arc<Mutex<Vec<(&'static str, usize, u64, ThreadId)>>>;

fn observers(seen: &Seen, names: &[&'static str]) -> Vec<Actor> {
    names
        .iter()
        .map(|&name| {
            let seen = seen.clone();
            let body: Box<dyn FnOnce() + Send> = Box::new(move || {
                for _ in 0..50 {
                    race_window!("harness test window");
                }
                let hits = race::hits();
                let (actor, cpu) = trace::actor();
                check::violation(Oracle::Bug, format!("{actor} on cpu {cpu}"));
                seen.lock()
                    .unwrap()
                    .push((actor, cpu, hits, std::thread::current().id()));
            });
            (name, body)
        })
        .collect()
}

fn env(harness: &Harness, inject: bool) -> Env {
    let mut env = Env::new(42);
    env.inject = inject;
    env.hang_after = Duration::from_millis(100);
    env.harness = harness.clone();
    env
}

fn sorted(seen: &Seen) -> Vec<(&'static str, usize, u64)> {
    let mut v: Vec<_> = seen
        .lock()
        .unwrap()
        .drain(..)
        .map(|(a, c, h, _)| (a, c, h))
        .collect();
    v.sort();
    v
}

#[test]
fn every_harness_gives_actor_i_the_same_identity_sink_and_injector() {
    let harnesses = [Harness::Spawn, Harness::Crew(Crew::new()), Harness::Inline];
    for inject in [true, false] {
        let mut expected = None;
        for h in &harnesses {
            let seen: Seen = Arc::default();
            let env = env(h, inject);
            env.run(observers(&seen, &["zap", "split", "fault"]));
            let got = sorted(&seen);
            assert_eq!(
                got.iter().map(|g| (g.0, g.1)).collect::<Vec<_>>(),
                vec![("fault", 2), ("split", 1), ("zap", 0)],
                "{h:?}"
            );
            assert!(
                got.iter().all(|g| (g.2 > 0) == inject),
                "{h:?}: injector installed iff injecting: {got:?}"
            );
            let mut reported: Vec<String> =
                env.sink.take().into_iter().map(|v| v.message).collect();
            reported.sort();
            assert_eq!(
                reported,
                vec!["fault on cpu 2", "split on cpu 1", "zap on cpu 0"],
                "{h:?}: every report lands in the env's sink"
            );
            match &expected {
                None => expected = Some(got),
                Some(e) => assert_eq!(&got, e, "{h:?}"),
            }
        }
    }
    // The inline harness gave the caller its identity back.
    assert_eq!(trace::actor(), ("main", 0));
}

#[test]
fn a_crew_keeps_its_threads_from_one_iteration_to_the_next() {
    let crew = Crew::new();
    let h = Harness::Crew(crew.clone());
    let mut threads = Vec::new();
    for _ in 0..3 {
        let seen: Seen = Arc::default();
        env(&h, true).run(observers(&seen, &["a", "b"]));
        let mut v = seen.lock().unwrap().clone();
        v.sort_by_key(|s| s.1);
        threads.push(v.iter().map(|s| s.3).collect::<Vec<_>>());
    }
    assert_eq!(threads[0], threads[1]);
    assert_eq!(threads[1], threads[2]);
    // The first actor runs on the caller, the others on workers.
    assert_eq!(threads[0][0], std::thread::current().id());
    assert_ne!(threads[0][1], std::thread::current().id());
    assert_eq!(crew.live_workers(), 1);
}

fn thread_of(seen: &Seen, cpu: usize) -> ThreadId {
    seen.lock()
        .unwrap()
        .iter()
        .find(|s| s.1 == cpu)
        .expect("that actor ran")
        .3
}

#[test]
fn a_panicked_actor_is_reported_and_its_worker_replaced() {
    let crew = Crew::new();
    let h = Harness::Crew(crew.clone());
    let before: Seen = Arc::default();
    env(&h, false).run(observers(&before, &["a", "b"]));

    // No hang is under test here. The default panic hook prints a backtrace under a global
    // lock when RUST_BACKTRACE=1, which on a loaded machine outlasts `env`'s 100 ms bound (the
    // watchdog then gives up on the panicking actor before it reports): a patient bound.
    let patient = |h: &Harness| {
        let mut e = env(h, false);
        e.hang_after = Duration::from_secs(10);
        e
    };
    let e = patient(&h);
    let seen: Seen = Arc::default();
    let mut actors = observers(&seen, &["a"]);
    actors.push(("loud", Box::new(|| panic!("boom in a crew"))));
    e.run(actors);
    let violations = e.sink.take();
    assert!(
        violations
            .iter()
            .any(|v| v.oracle == Oracle::Panic && v.message.contains("actor loud panicked")),
        "{violations:?}"
    );
    assert_eq!(
        thread_of(&seen, 0),
        thread_of(&before, 0),
        "the caller plays the first"
    );
    assert!(
        !mmlab_engine::actor::take_unfit(),
        "the caller's actor did not panic"
    );

    let after: Seen = Arc::default();
    env(&h, false).run(observers(&after, &["a", "b"]));
    assert_ne!(thread_of(&after, 1), thread_of(&before, 1), "replaced");

    // A panic in the actor the caller played marks the caller unfit for more.
    let e = patient(&h);
    let actors: Vec<Actor> = vec![("loud", Box::new(|| panic!("boom on the caller")))];
    e.run(actors);
    assert!(e.sink.take().iter().any(|v| v.oracle == Oracle::Panic));
    assert!(mmlab_engine::actor::take_unfit());
    assert!(!mmlab_engine::actor::take_unfit(), "taken");
}

#[test]
fn an_actor_the_watchdog_cannot_unwind_is_abandoned_and_its_worker_replaced() {
    static RELEASE: AtomicBool = AtomicBool::new(false);
    let crew = Crew::new();
    let h = Harness::Crew(crew.clone());
    let before: Seen = Arc::default();
    env(&h, false).run(observers(&before, &["a", "b"]));

    // The sleeper on a worker (the caller plays the first actor; a caller stuck there is the
    // stress runner's to abandon, see scenarios/tests/runner.rs).
    let e = env(&h, false);
    let seen: Seen = Arc::default();
    let mut actors = observers(&seen, &["a"]);
    actors.push((
        "sleeper",
        Box::new(|| {
            while !RELEASE.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
            }
        }),
    ));
    let started = Instant::now();
    e.run(actors);
    assert!(started.elapsed() < Duration::from_secs(5));
    let hang = e.sink.take();
    assert!(
        hang.iter()
            .any(|v| v.oracle == Oracle::Hang && v.message.starts_with("no progress for")),
        "{hang:?}"
    );
    assert_eq!(crew.live_workers(), 0, "the sleeper's worker is retired");

    let after: Seen = Arc::default();
    env(&h, false).run(observers(&after, &["a", "b"]));
    RELEASE.store(true, Ordering::SeqCst);
    assert_ne!(thread_of(&after, 1), thread_of(&before, 1), "replaced");
    assert_eq!(crew.live_workers(), 1);
}

/// Map `pages` anonymous pages in a new mm and store to each: the ids it used.
fn populate(w: &World, pages: u64) -> (mmlab_engine::mm::MmId, Vec<mmlab_engine::mm::Pfn>) {
    let mm = mm_alloc(w).expect("mm");
    mmap(w, mm, 0, pages, MapKind::Anon).expect("mmap");
    let pfns = (0..pages)
        .map(|va| {
            access::store(w, 0, mm, va, va + 1).expect("store");
            w.pte_at(mm, va).and_then(|p| p.pfn()).expect("mapped")
        })
        .collect();
    (mm, pfns)
}

/// The iteration's one sink: `Env::play` makes the Env's sink the scenario thread's for the
/// iteration, every harness's actors report there too, each report lands exactly once, and the
/// thread's own sink is back afterwards — even when the iteration panics.
#[test]
fn an_iteration_reports_once_into_its_env_and_the_thread_gets_its_sink_back() {
    let mine = check::Sink::new();
    mine.install();
    for h in [Harness::Spawn, Harness::Crew(Crew::new()), Harness::Inline] {
        let seen: Seen = Arc::default();
        let env = env(&h, false);
        env.play(|| {
            check::violation(Oracle::Bug, "setup");
            env.run(observers(&seen, &["zap", "split"]));
            check::violation(Oracle::Bug, "quiescent");
        });
        let mut reported: Vec<String> = env.sink.take().into_iter().map(|v| v.message).collect();
        reported.sort();
        assert_eq!(
            reported,
            vec!["quiescent", "setup", "split on cpu 1", "zap on cpu 0"],
            "{h:?}"
        );
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // `resume_unwind`, not `panic!`: no panic hook, so no backtrace printed under a
            // global lock while the other tests' crews watch their actors with 100 ms bounds.
            env.play(|| std::panic::resume_unwind(Box::new("the scenario's own thread panics")))
        }));
        assert!(unwound.is_err());
        check::violation(Oracle::Bug, "after");
        assert_eq!(
            mine.take()
                .into_iter()
                .map(|v| v.message)
                .collect::<Vec<_>>(),
            vec!["after"],
            "{h:?}: the thread's own sink is back, and got nothing of the iteration's"
        );
    }
}

#[test]
fn a_renewed_world_is_a_new_world_and_ids_from_before_are_stale() {
    let kernel = Kernel::default();
    let sink = check::Sink::new();
    sink.install();
    let fresh = World::new(WorldConfig::stress(2), kernel);
    let (fresh_mm, fresh_pfns) = populate(&fresh, 6);

    let mut w = World::new(WorldConfig::stress(2), kernel);
    let (old_mm, old_pfns) = populate(&w, 6);
    assert!(w.renew());
    assert!(!w.mms.is_live(old_mm));
    assert!(old_pfns.iter().all(|&p| !w.pages.is_live(p)));

    // The same work hands out the same slots as in a new world, at a later generation.
    let (mm, pfns) = populate(&w, 6);
    assert_eq!(mm.idx, fresh_mm.idx);
    assert_eq!(
        pfns.iter().map(|p| p.idx).collect::<Vec<_>>(),
        fresh_pfns.iter().map(|p| p.idx).collect::<Vec<_>>()
    );
    assert!(pfns.iter().all(|p| p.generation > old_pfns[0].generation));
    assert!(sink.is_empty(), "{:?}", sink.take());
    assert_eq!(w.file(0).idx, fresh.file(0).idx);

    // An id from before the renewal is a use after free, even though its slot is live again.
    let _ = w.page(old_pfns[0]);
    assert!(
        sink.take()
            .iter()
            .any(|v| v.oracle == Oracle::StaleId && v.message.contains("use after free"))
    );
}

#[test]
fn the_crew_watchdog_watches_every_iteration_running_on_it() {
    // A thread the stress runner abandoned may come back and run an iteration beside the live
    // one: a hang in either must still be reported and given up on.
    static RELEASE: AtomicBool = AtomicBool::new(false);
    let crew = Crew::new();
    let h = Harness::Crew(crew.clone());
    let (tx, rx) = std::sync::mpsc::channel();
    let stalled = env(&h, false);
    let sink = stalled.sink.clone();
    std::thread::spawn(move || {
        let actors: Vec<Actor> = vec![
            ("quick", Box::new(|| {})),
            (
                "staller",
                Box::new(|| {
                    while !RELEASE.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }),
            ),
        ];
        stalled.run(actors);
        let _ = tx.send(());
    });
    std::thread::sleep(Duration::from_millis(20));
    let busy = env(&h, false);
    let progress = busy.clone();
    let actors: Vec<Actor> = vec![
        (
            "ticker",
            Box::new(move || {
                for _ in 0..60 {
                    progress.tick();
                    std::thread::sleep(Duration::from_millis(5));
                }
            }),
        ),
        ("idle", Box::new(|| {})),
    ];
    busy.run(actors);
    let returned = rx.recv_timeout(Duration::from_secs(5));
    RELEASE.store(true, Ordering::SeqCst);
    assert!(
        returned.is_ok(),
        "the stalled iteration was never given up on"
    );
    assert!(sink.take().iter().any(|v| v.oracle == Oracle::Hang));
    assert!(busy.sink.take().is_empty(), "the ticking one made progress");
}
