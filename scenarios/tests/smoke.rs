//! The stress smoke of the catalog: every `fixed`/clean variant runs briefly on real threads
//! and stays clean; every `race` variant is caught within a generous bound, with race-window
//! injection. A smoke, not a timing test: the bounds are iterations, far above what the
//! variants need (measured figures are in docs/RESULTS.md).
#![cfg(not(mmlab_loom))]

use mmlab_engine::actor::Env;
use mmlab_scenarios::catalog;
use mmlab_scenarios::scenario::{Expect, Size};

const CLEAN_ITERATIONS: u64 = 150;
const RACE_BOUND: u64 = 20_000;

#[test]
fn every_clean_variant_stays_clean_and_every_race_variant_is_caught() {
    let mut report = Vec::new();
    for s in catalog::all() {
        for v in s.variants() {
            let budget = if v.expected == Expect::Clean {
                CLEAN_ITERATIONS
            } else {
                RACE_BOUND
            };
            let mut caught = None;
            let mut iterations = 0;
            for i in 0..budget {
                iterations = i + 1;
                let mut env = Env::new(0x5eed ^ i);
                env.inject = true;
                let out = env.play(|| s.run_variant(v, Size::Stress, &env));
                if !out.violations.is_empty() {
                    caught = Some(out);
                    break;
                }
            }
            let line = format!(
                "{} {}: {} after {iterations}",
                s.name(),
                v.name,
                if caught.is_some() { "race" } else { "clean" }
            );
            match (v.expected, &caught) {
                (Expect::Clean, Some(out)) => panic!(
                    "{line}: UNEXPECTED\n{}\n{}",
                    out.violations
                        .iter()
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                        .join("\n"),
                    out.trace
                ),
                (Expect::Race, None) => panic!("{line}: MISSED"),
                (Expect::Race, Some(out)) => {
                    let fired: Vec<_> = out.violations.iter().map(|v| v.oracle).collect();
                    assert!(
                        fired.iter().any(|o| s.oracles().contains(o)),
                        "{line}: caught by {fired:?}, not the scenario's oracle"
                    );
                }
                _ => {}
            }
            report.push(line);
        }
    }
    eprintln!("{}", report.join("\n"));
}
