//! `mmlab contention`: lock_stat per variant, as a table, as the JSON of the contract and as
//! an SVG of the wait histograms — through the library with a scenario of its own, and through
//! the `mmlab` binary with the real catalog's `munlock-exit`.
#![cfg(not(mmlab_loom))]

use mmlab_engine::actor::Env;
use mmlab_engine::sync::{LockClass, SpinLock};
use mmlab_scenarios::scenario::{
    About, AnyScenario, Outcome, Scenario, ScenarioVariant, Size, VariantInfo,
};
use mmlab_scenarios::stress::Pair;
use mmlab_scenarios::stress::contention::{self, ContentionConfig};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

type Actors = Vec<mmlab_scenarios::kit::Actor>;

const CLASS: &str = "contention-test-lock";

/// Two actors hammer one spinlock.
struct Hammer;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HammerVariant {
    Old,
    Fixed,
}

impl ScenarioVariant for HammerVariant {
    const ALL: &'static [Self] = &[HammerVariant::Old, HammerVariant::Fixed];
    fn info(self) -> VariantInfo {
        match self {
            HammerVariant::Old => VariantInfo::race("old", "listed first"),
            HammerVariant::Fixed => {
                VariantInfo::clean("fixed", "what contention measures by default")
            }
        }
    }
}

impl Scenario for Hammer {
    type Variant = HammerVariant;
    const ABOUT: About = About {
        name: "hammer",
        title: "two actors, one lock",
        commit: "",
        source: "",
        oracles: &[],
        long_running: false,
    };
    fn run(&self, _variant: HammerVariant, _size: Size, env: &Env) -> Outcome {
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

#[test]
fn variant_all_reports_each_variant_and_draws_them_side_by_side() {
    let mut cfg = ContentionConfig::new(9);
    cfg.duration = Duration::from_millis(100);
    cfg.threads = 2;
    let reports: Vec<_> = Hammer
        .variants()
        .into_iter()
        .map(|variant| {
            contention::measure(
                &Pair {
                    scenario: &Hammer,
                    variant,
                },
                &cfg,
            )
        })
        .collect();
    let doc = contention::to_json_all(&reports);
    assert_eq!(doc["scenario"], "hammer");
    assert_eq!(doc["seed"], 9);
    let variants = doc["variants"].as_array().expect("variants");
    let names: Vec<_> = variants.iter().map(|v| v["variant"].clone()).collect();
    assert_eq!(names, ["old", "fixed"]);
    for (v, r) in variants.iter().zip(&reports) {
        assert_eq!(
            v,
            &contention::to_json(r),
            "each element is the single-variant document"
        );
    }

    let compared = contention::comparison(&reports);
    assert!(compared.contains(CLASS) && compared.contains("old") && compared.contains("fixed"));

    let svg = mmlab_scenarios::stress::contention_svg::render(&reports).expect("drawn");
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    for name in ["old:", "fixed:"] {
        assert!(svg.contains(name), "a panel per variant: {name}");
    }
}

// ---------------------------------------------------------------------------------------------
// The binary, with the real catalog.

fn mmlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mmlab"))
        .args(args)
        .env_remove("MMLAB_HANG_AFTER")
        .output()
        .expect("the mmlab binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn munlock_exit_json_names_the_i_mmap_rwsem() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c.json");
    let o = mmlab(&[
        "contention",
        "munlock-exit",
        "--duration",
        "1s",
        "--seed",
        "4",
        "--json",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(files_in(dir.path()), ["c.json"], "no temporary file left");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).expect("parses");
    assert_eq!(doc["scenario"], "munlock-exit");
    assert_eq!(doc["variant"], "mlock-count", "the default variant");
    assert!(doc["elapsed_s"].as_f64().unwrap() > 0.0);
    let classes = doc["classes"].as_array().expect("classes");
    assert!(
        classes
            .iter()
            .any(|c| c["class"] == "&mapping->i_mmap_rwsem"),
        "{classes:?}"
    );
    for c in classes {
        for key in [
            "class",
            "acquisitions",
            "contentions",
            "wait_total_ns",
            "wait_max_ns",
            "hold_total_ns",
            "hold_max_ns",
        ] {
            assert!(c.get(key).is_some(), "{key} in {c}");
        }
    }
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("&mapping->i_mmap_rwsem") && table.contains("setup"),
        "{table}"
    );
}

#[test]
fn munlock_exit_variant_all_writes_json_and_svg_whole() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("all.json");
    let svg = dir.path().join("all.svg");
    let o = mmlab(&[
        "contention",
        "munlock-exit",
        "--variant",
        "all",
        "--duration",
        "300ms",
        "--json",
        json.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(files_in(dir.path()), ["all.json", "all.svg"]);
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).expect("parses");
    assert_eq!(doc["scenario"], "munlock-exit");
    let variants: Vec<_> = doc["variants"]
        .as_array()
        .expect("variants")
        .iter()
        .map(|v| v["variant"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(variants, ["mlock-count", "page-mlock"]);
    let drawn = std::fs::read_to_string(&svg).unwrap();
    assert!(drawn.starts_with("<svg") && drawn.trim_end().ends_with("</svg>"));
    assert!(drawn.contains("page-mlock:") && drawn.contains("mlock-count:"));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("per variant"),
        "the side-by-side totals: {stdout}"
    );
}

#[test]
fn bad_contention_usage_exits_2_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out.json");
    let svg = dir.path().join("out.svg");
    let missing = dir.path().join("missing").join("out.svg");
    let (json, svg, missing, here) = (
        json.to_str().unwrap(),
        svg.to_str().unwrap(),
        missing.to_str().unwrap(),
        dir.path().to_str().unwrap(),
    );
    let cases: [(&[&str], &str); 8] = [
        (
            &["no-such-scenario", "--json", json, "--svg", svg],
            "unknown scenario",
        ),
        (
            &["munlock-exit", "--variant", "nope", "--json", json],
            "unknown variant",
        ),
        (
            &["munlock-exit", "--duration", "0s", "--svg", svg],
            "zero duration",
        ),
        (
            &["munlock-exit", "--duration", "soon", "--svg", svg],
            "not a duration",
        ),
        (&["munlock-exit", "--json", missing], "cannot write --json"),
        (
            &["munlock-exit", "--json", json, "--svg", missing],
            "cannot write --svg",
        ),
        (&["munlock-exit", "--svg", here], "is a directory"),
        (&["munlock-exit", "--svg", ""], "a value is required"),
    ];
    for (args, needle) in cases {
        let mut full = vec!["contention"];
        full.extend_from_slice(args);
        let o = mmlab(&full);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "mmlab {full:?}: {err}");
        assert!(
            err.contains(needle),
            "mmlab {full:?}: expected {needle:?} in {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
        assert!(
            o.stdout.is_empty(),
            "nothing ran: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        assert!(
            files_in(dir.path()).is_empty(),
            "{:?}",
            files_in(dir.path())
        );
    }
}
