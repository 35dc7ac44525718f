//! The shape of the reduced models that race one path against the migration of one page: the
//! page is isolated in setup, then the path's actor and a migrator (`migrate_pages` with a
//! one-page pool, what did not move put back, as `move_pages(2)` does) run, and every quiescent
//! invariant judges the world they leave.

use mmlab_engine::actor::{Actor, Env};
use mmlab_engine::check::{Violation, quiescent};
use mmlab_engine::mm::{Pfn, World};
use mmlab_engine::ops::migrate::{self, NewPagePool};
use mmlab_engine::sync::Arc;

/// Run `actor` against the migration of `pfn` in `w`, under `env`, then check the world.
/// Returns what the oracles reported and the domain trace, as [`crate::assert_model_clean`]'s
/// models do.
pub fn race_with_migration(
    env: &Env,
    w: &Arc<World>,
    pfn: Pfn,
    actor: Actor,
) -> (Vec<Violation>, String) {
    let pool = NewPagePool::new(w, 1);
    assert!(migrate::isolate_lru_page(w, pfn), "the page is on the LRU");
    let migrator = {
        let w = w.clone();
        move || {
            for p in migrate::migrate_pages(&w, &pool, &[pfn]) {
                migrate::putback_lru_page(&w, p);
            }
        }
    };
    env.run(vec![actor, ("migrate", Box::new(migrator))]);
    quiescent::check_world(w);
    (env.sink.take(), w.trace.render(64))
}
