//! The `mmlab` binary: its contract with users and scripts. Every bad input exits 2 with a
//! message on stderr, never a panic and never a half-written file; `list --json` and
//! `run --json` parse and keep their fields. (The runner's judgement is tested with the
//! library's own scenarios in `runner.rs`; these tests hold for any catalog, empty or full.)
#![cfg(not(mmlab_loom))]

use std::path::Path;
use std::process::{Command, Output};

fn mmlab(args: &[&str]) -> Output {
    mmlab_env(args, &[])
}

fn mmlab_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mmlab"));
    cmd.args(args).env_remove("MMLAB_HANG_AFTER");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the mmlab binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `args` is bad usage: exit 2, `needle` in the message, no panic.
#[track_caller]
fn refused(args: &[&str], needle: &str) -> Output {
    let o = mmlab(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "mmlab {args:?}: {err}");
    assert!(
        err.contains(needle),
        "mmlab {args:?}: expected {needle:?} in {err}"
    );
    assert!(!err.contains("panicked"), "mmlab {args:?} panicked: {err}");
    o
}

fn files_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn unknown_names_are_refused() {
    refused(
        &["run", "no-such-scenario"],
        "unknown scenario 'no-such-scenario'",
    );
    refused(
        &["run", "all", "--variant", "no-such-variant"],
        "unknown variant",
    );
    refused(&["explain", "no-such-scenario"], "unknown scenario");
    refused(&["contention", "no-such-scenario"], "unknown scenario");
    refused(&["frobnicate"], "unrecognized subcommand");
}

#[test]
fn bad_durations_and_counts_are_refused() {
    refused(&["run", "--duration", "0s"], "zero duration");
    refused(&["run", "--duration", "0"], "zero duration");
    refused(&["run", "--duration", "fast"], "not a duration");
    refused(&["run", "--duration", "-1s"], "");
    refused(&["run", "--iterations", "0"], "zero iterations");
    refused(&["run", "--iterations", "lots"], "not an iteration count");
    refused(&["run", "--threads", "0"], "expected 1 to 1024");
    refused(&["run", "--threads", "1025"], "expected 1 to 1024");
    refused(&["run", "--threads", "many"], "not a thread count");
    refused(&["run", "--seed", "lucky"], "not a seed");
    refused(&["contention", "x", "--duration", "0ms"], "zero duration");
}

#[test]
fn bad_shards_are_refused() {
    refused(&["run", "--shard", "0/4"], "shards are numbered from 1");
    refused(&["run", "--shard", "5/4"], "K must be between 1 and 4");
    refused(&["run", "--shard", "1/0"], "at least 1");
    for malformed in ["4", "a/b", "1/2/3", "/", ""] {
        refused(&["run", "--shard", malformed], "K/N");
    }
}

#[test]
fn conflicting_flags_are_refused() {
    refused(
        &["run", "--duration", "1s", "--iterations", "3"],
        "cannot be used with",
    );
}

#[test]
fn a_bad_watchdog_bound_in_the_environment_is_refused() {
    let o = mmlab_env(&["run"], &[("MMLAB_HANG_AFTER", "soon")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("MMLAB_HANG_AFTER=soon"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_unwritable_json_path_is_refused_before_running() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing").join("out.json");
    refused(
        &["run", "--json", missing.to_str().unwrap()],
        "cannot write --json",
    );
    refused(
        &["run", "--json", dir.path().to_str().unwrap()],
        "is a directory",
    );
    refused(
        &["contention", "x", "--json", missing.to_str().unwrap()],
        "",
    );
    assert!(
        files_in(dir.path()).is_empty(),
        "{:?}",
        files_in(dir.path())
    );
}

#[test]
fn bad_usage_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.json");
    let out = out.to_str().unwrap();
    refused(&["run", "--json", out, "--shard", "5/4"], "K must be");
    refused(
        &["run", "no-such-scenario", "--json", out],
        "unknown scenario",
    );
    assert!(
        files_in(dir.path()).is_empty(),
        "{:?}",
        files_in(dir.path())
    );
}

#[test]
fn help_and_version_exit_zero() {
    for args in [&["--help"][..], &["run", "--help"], &["--version"]] {
        let o = mmlab(args);
        assert_eq!(o.status.code(), Some(0), "mmlab {args:?}");
        assert!(!o.stdout.is_empty());
    }
}

#[test]
fn list_json_keeps_its_contract() {
    let o = mmlab(&["list", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("list --json parses");
    for s in doc.as_array().expect("an array of scenarios") {
        for key in ["name", "title", "commit"] {
            assert!(s[key].is_string(), "{key} in {s}");
        }
        for v in s["variants"].as_array().expect("variants") {
            assert!(v["name"].is_string(), "{v}");
            let e = v["expected"].as_str().unwrap_or_default();
            assert!(e == "clean" || e == "race", "{v}");
        }
    }
    assert_eq!(mmlab(&["list"]).status.code(), Some(0));
}

#[test]
fn run_json_is_written_whole_and_keeps_its_contract() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run.json");
    let o = mmlab(&[
        "run",
        "all",
        "--iterations",
        "1",
        "--seed",
        "7",
        "--json",
        out.to_str().unwrap(),
    ]);
    // With a catalog, one iteration may well miss a race: 1 is an honest answer here.
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{:?}: {}",
        o.status,
        stderr(&o)
    );
    assert_eq!(
        files_in(dir.path()),
        vec!["run.json"],
        "no temporary file left"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).expect("run --json parses");
    assert_eq!(doc["seed"], 7);
    for r in doc["results"].as_array().expect("results") {
        for key in [
            "scenario",
            "variant",
            "expected",
            "observed",
            "iterations",
            "elapsed_s",
            "first_violation_s",
            "verdict",
            "violations",
        ] {
            assert!(r.get(key).is_some(), "{key} in {r}");
        }
        let verdict = r["verdict"].as_str().unwrap_or_default();
        assert!(["OK", "MISSED", "UNEXPECTED"].contains(&verdict), "{r}");
    }
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("OK,") && stdout.contains("MISSED,"),
        "summary line: {stdout}"
    );
}
