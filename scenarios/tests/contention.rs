//! `mmlab contention`: lock_stat for one variant, as a table and as the JSON of the contract.
#![cfg(not(mmlab_loom))]

use mmlab_engine::actor::Env;
use mmlab_engine::check::Oracle;
use mmlab_engine::sync::{LockClass, SpinLock};
use mmlab_scenarios::scenario::{Expect, Outcome, Scenario, Size, Variant};
use mmlab_scenarios::stress::Pair;
use mmlab_scenarios::stress::contention::{self, ContentionConfig};
use std::sync::Arc;
use std::time::Duration;

type Actors = Vec<(&'static str, Box<dyn FnOnce() + Send>)>;

const CLASS: &str = "contention-test-lock";

/// Two actors hammer one spinlock.
struct Hammer;

impl Scenario for Hammer {
    fn name(&self) -> &'static str {
        "hammer"
    }
    fn title(&self) -> &'static str {
        "two actors, one lock"
    }
    fn commit(&self) -> &'static str {
        ""
    }
    fn story(&self) -> String {
        "".to_string()
    }
    fn variants(&self) -> &'static [Variant] {
        &[
            Variant {
                name: "old",
                expected: Expect::Race,
                summary: "listed first",
            },
            Variant {
                name: "fixed",
                expected: Expect::Clean,
                summary: "what contention measures by default",
            },
        ]
    }
    fn oracles(&self) -> &'static [Oracle] {
        &[]
    }
    fn run(&self, _variant: &str, _size: Size, env: &Env) -> Outcome {
        let lock = Arc::new(SpinLock::new(LockClass::Named(CLASS), 0u64));
        let actors: Actors = (0..2)
            .map(|_| {
                let lock = lock.clone();
                let body: Box<dyn FnOnce() + Send> = Box::new(move || {
                    for _ in 0..2000 {
                        *lock.lock() += 1;
                    }
                });
                ("hammer", body)
            })
            .collect();
        env.run(actors);
        Outcome {
            violations: env.sink.take(),
            ..Outcome::default()
        }
    }
}

#[test]
fn contention_reports_each_class_in_the_contract_shape() {
    let variant = contention::default_variant(&Hammer).expect("a variant");
    assert_eq!(variant.name, "fixed");
    let pair = Pair {
        scenario: &Hammer,
        variant,
    };
    let mut cfg = ContentionConfig::new(5);
    cfg.duration = Duration::from_millis(300);
    cfg.threads = 2;
    let r = contention::measure(&pair, &cfg);
    assert!(r.iterations >= 1);
    let class = r
        .classes
        .iter()
        .find(|c| c.class.name() == CLASS)
        .expect("the hammered class is reported");
    assert_eq!(class.acquisitions, 4000 * r.iterations);
    assert!(class.contentions <= class.acquisitions);

    let table = contention::table(&r);
    assert!(table.contains(CLASS), "{table}");
    assert!(
        table.contains("wait total") && table.contains("hold max"),
        "{table}"
    );

    let doc = contention::to_json(&r);
    assert_eq!(doc["scenario"], "hammer");
    assert_eq!(doc["variant"], "fixed");
    assert!(doc["elapsed_s"].is_f64());
    let c = doc["classes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["class"] == CLASS)
        .expect("class in JSON");
    for key in [
        "acquisitions",
        "contentions",
        "wait_total_ns",
        "wait_max_ns",
        "hold_total_ns",
        "hold_max_ns",
    ] {
        assert!(c[key].is_u64(), "{key} in {c}");
    }
}
