//! The engine's layering, checked from its source: which file may import which. This is the
//! check behind "the engine has no import cycle".
//!
//! Rerun it with `cargo test -p mmlab-engine --test layering` (it reads `engine/src` as text and
//! takes well under a second; `cargo test --workspace` runs it too). A failure names each
//! offending import by file, line and path, or each cycle with every import that closes it.
//!
//! How to read it. Every `.rs` file under `engine/src` is read; its paths into the crate
//! (`use crate::..`, `use super::..`, `use child::..` in a `mod.rs`, and inline `crate::a::b` /
//! `super::a::b`) are resolved to the file that *defines* the item — through re-exports
//! (`pub use`, `pub use .. as ..`), so that `crate::check::Violation` counts as an import of
//! `report.rs`, not of `check/mod.rs`, and `crate::ops::ttu::TtuFlags` one of
//! `ops/rmap_types.rs`. A re-export is a name, not a dependency: a file's own `pub use` adds no
//! edge. Comments and string literals are skipped. An edge is a *name*: a path that calls a
//! function through the kernel table (`(w.kernel.rmap.unmap_folio)(w, page)`) or a method of a
//! value it was handed (`item.pte.set_pte_at(..)`) names no file — which is how a low path
//! reaches a higher one without importing it, the way the kernel reaches `rwc->rmap_one`.
//!
//! Three assertions on the resulting file graph:
//!
//! 1. **Floors** ([`FLOORS`]): each file sits on a floor, and no file imports a file on a
//!    higher floor — the sync facade's primitives, then the trace, then the report types,
//!    then the lock kinds, then the kernel objects, then the world, the paths (in five
//!    floors of their own, below), the function table, and the oracles and the harness.
//!    Except the edges in [`SEAMS`], each with its reason.
//! 2. **No cycles between files** (edges of [`SEAMS`] left out). [`KNOWN_CYCLES`] would list a
//!    cycle owned by work in progress, and a listed cycle that no longer exists fails the test
//!    too, so the list only shrinks; it is empty: no two engine files import each other,
//!    directly or around a longer loop. The one loop left is [`SEAMS`]' by design: the world
//!    carries the function table (`mm/world.rs` → `kernel.rs`), whose entries are paths that
//!    take the world.
//! 3. **The reader sees what it must** (`the_reader_resolves_through_re_exports`): known
//!    re-exports resolve to their defining file, and known imports are found.
//!
//! The paths, lowest first, as the kernel layers them (a floor may import its own and lower
//! ones; a new path file lands on the top one until it is placed):
//!
//! 1. *page and PTE primitives*: the errno (`ops/mod.rs`), the locked PTE and page
//!    (`pgtable_generic`, `pagemap`), one page's PTE found under its PTL (`pvmw`), the
//!    include/linux/rmap.h flags (`rmap_types`), the mmu notifiers (`notifier`), a page's mlock
//!    state (`mlock`: `mlock_folio`, `clear_page_mlock`, ...), the page allocator
//!    (`page_alloc`), the locked PMD (`pmd_lock`),
//!    the per-VMA lock helpers (`vma_lock`: `vma_start_write`, ...);
//! 2. *rmap add and remove*: `page_add_*_rmap` / `page_remove_rmap` (`rmap`), VMAs linked into
//!    the rmap trees (`mmap`: `mmap_region`; `anon_vma`: `anon_vma_prepare`, `anon_vma_fork`)
//!    and out of them (`pgtable`: `free_pgtables`; `anon_vma`: `unlink_anon_vmas`), the mmu_gather that removes rmaps late and flushes (`tlb`), reclaim's deferred flushes
//!    (`tlb_ubc`);
//! 3. *faults*: `handle_mm_fault` and its handlers (`fault`), `lock_vma_under_rcu`
//!    (`lock_vma`), and hugetlb (`hugetlb`), whose
//!    fault allocates through `fault`'s `pte_alloc` — `handle_mm_fault` reaches
//!    `hugetlb_fault` through the table — and whose `huge_pmd_unshare` the unmappers call;
//!    and the THP paths at the PMD level (`huge_memory`), whose fault `handle_mm_fault` calls
//!    and whose zap and split the unmappers reach through the table;
//! 4. *rmap walks*: `rmap_walk` and its `anon_lock`s, `try_to_unmap` / `try_to_migrate`
//!    (`ttu`), `folio_mkclean` (`mkclean`);
//! 5. *syscalls, zap, reclaim and migration*: `zap`, `munmap`, `exit`, `access`, `munlock`
//!    (mlock(2), munlock(2), `page_mlock`), `reclaim`, `migrate`, `split` (which remaps with
//!    migration's `remove_migration_ptes`).
//!
//! The table's `Default` impls — the modern kernel, naming functions of every path file — are
//! in `kernel.rs`, on the floor above the paths, so that no path file imports the files whose
//! functions fill its table.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Floors, lowest first: `(floor name, file prefixes relative to engine/src)`. A file is on the
/// floor of the longest prefix that matches it.
const FLOORS: &[(&str, &[&str])] = &[
    // Atomics, threads, thread-locals and ObserverMutex, chosen between loom and std.
    ("facade", &["sync/mod.rs", "lib.rs"]),
    // Observer instruments that kernel paths call: the domain trace and race windows.
    ("instruments", &["trace.rs", "race.rs"]),
    // What a violation is and where it goes.
    ("report", &["report.rs"]),
    // The kernel's lock kinds, lockdep and lock_stat.
    ("locks", &["sync/"]),
    // Kernel objects and their arenas.
    ("objects", &["mm/"]),
    // The world that holds them.
    ("world", &["mm/world.rs", "mm/renew.rs"]),
    // Kernel paths, in five floors (the module doc): a path file not listed below is on the
    // top one.
    (
        "paths: page and PTE primitives",
        &[
            "ops/mod.rs",
            "ops/pgtable_generic.rs",
            "ops/pagemap.rs",
            "ops/pvmw.rs",
            "ops/rmap_types.rs",
            "ops/notifier.rs",
            "ops/mlock.rs",
            "ops/page_alloc.rs",
            "ops/pmd_lock.rs",
            "ops/vma_lock.rs",
            "ops/swapfile.rs",
            "ops/page_io.rs",
        ],
    ),
    (
        "paths: rmap add and remove",
        &[
            "ops/rmap.rs",
            "ops/mmap.rs",
            "ops/anon_vma.rs",
            "ops/pgtable.rs",
            "ops/tlb.rs",
            "ops/swap_state.rs",
            "ops/free_swap.rs",
            "ops/tlb_ubc.rs",
        ],
    ),
    (
        "paths: faults",
        &[
            "ops/fault.rs",
            "ops/hugetlb.rs",
            "ops/huge_memory.rs",
            "ops/lock_vma.rs",
            "ops/split_huge_pmd.rs",
        ],
    ),
    (
        "paths: rmap walks",
        &["ops/rmap_walk.rs", "ops/ttu.rs", "ops/mkclean.rs"],
    ),
    ("paths: syscalls, zap, reclaim and migration", &["ops/"]),
    // The function table, whose entries are paths.
    ("table", &["kernel.rs"]),
    // Oracles that judge a world, and the actors' harness.
    ("oracles", &["check/", "actor.rs"]),
];

/// Upward imports that are the design, not a mistake: `(from, to, why)`.
const SEAMS: &[(&str, &str, &str)] = &[
    (
        "mm/world.rs",
        "kernel.rs",
        "the world carries the function table (`World::kernel`), whose entries are paths",
    ),
    (
        "mm/renew.rs",
        "kernel.rs",
        "renewing a world keeps (or replaces) its function table",
    ),
];

/// Import cycles between files that exist today and are owned by work in progress:
/// `[file, file, ...]` as the cycle's files, sorted. Remove an entry when its cycle is gone.
/// Empty: the engine has no import cycle (the last one, among the rmap, migration and fault
/// paths, went when the table's defaults moved to `kernel.rs` and `TtuFlags` to
/// `ops/rmap_types.rs`).
const KNOWN_CYCLES: &[&[&str]] = &[];

/// The engine's source root.
fn src_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, as paths relative to the source root.
fn rust_files(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read engine/src")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(root, &p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            let rel = p.strip_prefix(root).expect("under root");
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}

/// A token of the source, comments and literals removed.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// `::`
    Path,
    Punct(char),
}

/// Tokens with the line each starts on.
type Tokens = Vec<(Tok, usize)>;

/// The tokens of `src`.
fn tokenize(src: &str) -> Tokens {
    let b: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if b[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if c == '"' || (c == 'r' && (next == Some('"') || next == Some('#'))) {
            // A string: plain, or raw with its hashes.
            let mut hashes = 0;
            if c == 'r' {
                i += 1;
                while b.get(i) == Some(&'#') {
                    hashes += 1;
                    i += 1;
                }
                if b.get(i) != Some(&'"') {
                    // `r#ident`: a raw identifier.
                    out.push((Tok::Ident("r".into()), line));
                    continue;
                }
            }
            i += 1;
            while i < b.len() {
                if b[i] == '\n' {
                    line += 1;
                }
                if c != 'r' && b[i] == '\\' {
                    i += 2;
                    continue;
                }
                if b[i] == '"' && (0..hashes).all(|k| b.get(i + 1 + k) == Some(&'#')) {
                    i += 1 + hashes;
                    break;
                }
                i += 1;
            }
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if next == Some('\\') {
                i += 2;
                while i < b.len() && b[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if b.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
                while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                    i += 1;
                }
            }
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                i += 1;
            }
            out.push((Tok::Ident(b[start..i].iter().collect()), line));
        } else if c == ':' && next == Some(':') {
            out.push((Tok::Path, line));
            i += 2;
        } else {
            out.push((Tok::Punct(c), line));
            i += 1;
        }
    }
    out
}

/// The module path of a file (`mm/world.rs` → `["mm", "world"]`, `sync/mod.rs` → `["sync"]`).
fn module_of(file: &str) -> Vec<String> {
    let f = file.trim_end_matches(".rs");
    let mut m: Vec<String> = f.split('/').map(str::to_string).collect();
    if m.last().is_some_and(|l| l == "mod" || l == "lib") {
        m.pop();
    }
    m
}

/// One path a file names: its segments from the crate root, the line, and whether it is a
/// `pub use` (a re-export, recorded as a name rather than a dependency).
#[derive(Debug, Clone)]
struct Named {
    path: Vec<String>,
    alias: Option<String>,
    line: usize,
    reexport: bool,
}

/// Parse a use tree at `toks[i..]` with `prefix` already read; push every leaf.
fn use_tree(
    toks: &[(Tok, usize)],
    i: &mut usize,
    prefix: Vec<String>,
    line: usize,
    reexport: bool,
    out: &mut Vec<Named>,
) {
    let mut path = prefix;
    loop {
        match toks.get(*i).map(|t| &t.0) {
            Some(Tok::Ident(s)) => {
                path.push(s.clone());
                *i += 1;
            }
            Some(Tok::Punct('*')) => {
                *i += 1;
                out.push(Named {
                    path,
                    alias: None,
                    line,
                    reexport,
                });
                return;
            }
            Some(Tok::Punct('{')) => {
                *i += 1;
                loop {
                    match toks.get(*i).map(|t| &t.0) {
                        Some(Tok::Punct('}')) => {
                            *i += 1;
                            return;
                        }
                        Some(Tok::Punct(',')) => *i += 1,
                        None => return,
                        _ => use_tree(toks, i, path.clone(), line, reexport, out),
                    }
                }
            }
            _ => return,
        }
        match toks.get(*i).map(|t| &t.0) {
            Some(Tok::Path) => *i += 1,
            Some(Tok::Ident(s)) if s == "as" => {
                *i += 1;
                let alias = match toks.get(*i).map(|t| &t.0) {
                    Some(Tok::Ident(a)) => Some(a.clone()),
                    _ => None,
                };
                *i += 1;
                if path.last().is_some_and(|l| l == "self") {
                    path.pop();
                }
                out.push(Named {
                    path,
                    alias,
                    line,
                    reexport,
                });
                return;
            }
            _ => {
                if path.last().is_some_and(|l| l == "self") {
                    path.pop();
                }
                out.push(Named {
                    path,
                    alias: None,
                    line,
                    reexport,
                });
                return;
            }
        }
    }
}

/// Make `path` (as written in module `module`) absolute from the crate root, or `None` if it
/// names another crate.
fn absolute(
    module: &[String],
    path: &[String],
    children: &BTreeSet<Vec<String>>,
) -> Option<Vec<String>> {
    let first = path.first()?;
    let mut out: Vec<String> = match first.as_str() {
        "crate" | "$crate" => Vec::new(),
        "self" => module.to_vec(),
        "super" => {
            let mut m = module.to_vec();
            let mut k = 0;
            while path.get(k).is_some_and(|s| s == "super") {
                m.pop();
                k += 1;
            }
            m.extend(path[k..].iter().cloned());
            return Some(m);
        }
        _ => {
            let mut child = module.to_vec();
            child.push(first.clone());
            if children.contains(&child) {
                let mut m = module.to_vec();
                m.extend(path.iter().cloned());
                return Some(m);
            }
            return None;
        }
    };
    out.extend(path[1..].iter().cloned());
    Some(out)
}

/// Where a path walk ends ([`Crate::walk`]).
enum Walked {
    /// The whole path names this module.
    Module(Vec<String>),
    /// The walk stopped in `module` at `seg`, which is not a module there.
    Item { module: Vec<String>, seg: String },
}

/// Everything the engine's files name, and the re-export table.
struct Crate {
    /// Module path → file.
    modules: BTreeMap<Vec<String>, String>,
    /// Per file: the items it names (absolute paths), with lines, re-exports marked.
    named: BTreeMap<String, Vec<Named>>,
    /// (module, name) → absolute target, from `pub use`.
    reexports: BTreeMap<(Vec<String>, String), Vec<String>>,
    /// `#[macro_export]` macros: name → file.
    macros: BTreeMap<String, String>,
}

impl Crate {
    fn read() -> Crate {
        let root = src_root();
        let mut files = Vec::new();
        rust_files(&root, &root, &mut files);
        let modules: BTreeMap<Vec<String>, String> =
            files.iter().map(|f| (module_of(f), f.clone())).collect();
        let children: BTreeSet<Vec<String>> = modules.keys().cloned().collect();
        let mut named: BTreeMap<String, (Tokens, Vec<Named>)> = BTreeMap::new();
        let mut reexports = BTreeMap::new();
        let mut macros = BTreeMap::new();
        for f in &files {
            let src = std::fs::read_to_string(root.join(f)).expect("read source");
            let toks = tokenize(&src);
            let module = module_of(f);
            let mut list = Vec::new();
            let mut i = 0;
            while i < toks.len() {
                let (t, line) = (&toks[i].0, toks[i].1);
                match t {
                    Tok::Ident(s) if s == "macro_rules" => {
                        if let Some((Tok::Ident(name), _)) = toks.get(i + 2) {
                            macros.insert(name.clone(), f.clone());
                        }
                        i += 1;
                    }
                    Tok::Ident(s) if s == "use" => {
                        let reexport = i > 0
                            && (matches!(&toks[i - 1].0, Tok::Ident(p) if p == "pub")
                                || matches!(&toks[i - 1].0, Tok::Punct(')')));
                        i += 1;
                        let mut leaves = Vec::new();
                        use_tree(&toks, &mut i, Vec::new(), line, reexport, &mut leaves);
                        for mut n in leaves {
                            if let Some(abs) = absolute(&module, &n.path, &children) {
                                if reexport {
                                    let name = n
                                        .alias
                                        .clone()
                                        .or_else(|| n.path.last().cloned())
                                        .unwrap_or_default();
                                    reexports.insert((module.clone(), name), abs.clone());
                                }
                                n.path = abs;
                                list.push(n);
                            }
                        }
                    }
                    Tok::Ident(s)
                        if (s == "crate" || s == "super")
                            && matches!(toks.get(i + 1), Some((Tok::Path, _)))
                            && !(i > 0 && matches!(&toks[i - 1].0, Tok::Path)) =>
                    {
                        let mut path = vec![s.clone()];
                        let mut k = i + 1;
                        while matches!(toks.get(k), Some((Tok::Path, _))) {
                            match toks.get(k + 1) {
                                Some((Tok::Ident(seg), _)) => {
                                    path.push(seg.clone());
                                    k += 2;
                                }
                                _ => break,
                            }
                        }
                        if let Some(abs) = absolute(&module, &path, &children) {
                            list.push(Named {
                                path: abs,
                                alias: None,
                                line,
                                reexport: false,
                            });
                        }
                        i = k;
                    }
                    _ => i += 1,
                }
            }
            named.insert(f.clone(), (toks, list));
        }
        let mut c = Crate {
            modules,
            named: BTreeMap::new(),
            reexports,
            macros,
        };
        // Second pass: an imported module (`use crate::check::{self, ..}`) is a name, not a
        // dependency; what the file names through it (`check::report(..)`) is.
        for (f, (toks, list)) in named {
            let mut aliases: BTreeMap<String, Vec<String>> = BTreeMap::new();
            let mut kept = Vec::new();
            for n in list {
                match c.module_at(&n.path) {
                    Some(m) if !n.reexport => {
                        let name = n.alias.clone().or_else(|| n.path.last().cloned());
                        if let Some(name) = name {
                            aliases.insert(name, m);
                        }
                    }
                    _ => kept.push(n),
                }
            }
            for i in 0..toks.len() {
                if let (Tok::Ident(s), line) = &toks[i]
                    && let Some(m) = aliases.get(s)
                    && matches!(toks.get(i + 1), Some((Tok::Path, _)))
                    && !(i > 0 && matches!(&toks[i - 1].0, Tok::Path))
                    && let Some((Tok::Ident(item), _)) = toks.get(i + 2)
                {
                    let mut path = m.clone();
                    path.push(item.clone());
                    kept.push(Named {
                        path,
                        alias: None,
                        line: *line,
                        reexport: false,
                    });
                }
            }
            c.named.insert(f, kept);
        }
        c
    }

    /// Follow `path` through modules and re-exports: the whole path is a module
    /// (`Walked::Module`), or the walk stops in `module` at a segment that is neither a child
    /// module nor a re-export (`Walked::Item`: an item defined there, or a crate-root macro).
    /// `None` for a re-export loop.
    fn walk(&self, path: &[String]) -> Option<Walked> {
        let mut path = path.to_vec();
        'redirect: for _ in 0..16 {
            let mut module: Vec<String> = Vec::new();
            for (k, seg) in path.iter().enumerate() {
                let mut child = module.clone();
                child.push(seg.clone());
                if self.modules.contains_key(&child) {
                    module = child;
                    continue;
                }
                if let Some(target) = self.reexports.get(&(module.clone(), seg.clone())) {
                    let mut p = target.clone();
                    p.extend(path[k + 1..].iter().cloned());
                    path = p;
                    continue 'redirect;
                }
                return Some(Walked::Item {
                    module,
                    seg: seg.clone(),
                });
            }
            return Some(Walked::Module(module));
        }
        None
    }

    /// The module `path` names, if it names a module (through re-exports), not an item.
    fn module_at(&self, path: &[String]) -> Option<Vec<String>> {
        match self.walk(path)? {
            Walked::Module(m) => Some(m),
            Walked::Item { .. } => None,
        }
    }

    /// The file that defines what `path` names.
    fn resolve(&self, path: &[String]) -> String {
        match self.walk(path) {
            Some(Walked::Module(m)) => self.modules[&m].clone(),
            Some(Walked::Item { module, seg }) => match self.macros.get(&seg) {
                Some(f) if module.is_empty() => f.clone(),
                _ => self.modules[&module].clone(),
            },
            None => panic!("re-export loop at {path:?}"),
        }
    }

    /// File → files it imports, with the first line and path that does.
    fn edges(&self) -> BTreeMap<String, BTreeMap<String, (usize, String)>> {
        let mut out: BTreeMap<String, BTreeMap<String, (usize, String)>> = BTreeMap::new();
        for (f, list) in &self.named {
            let e = out.entry(f.clone()).or_default();
            for n in list {
                if n.reexport {
                    continue;
                }
                let to = self.resolve(&n.path);
                if &to != f {
                    e.entry(to)
                        .or_insert_with(|| (n.line, format!("crate::{}", n.path.join("::"))));
                }
            }
        }
        out
    }
}

/// The floor of `file`: the index in [`FLOORS`] of its longest matching prefix.
fn floor(file: &str) -> usize {
    let mut best: Option<(usize, usize)> = None;
    for (k, (_, prefixes)) in FLOORS.iter().enumerate() {
        for p in *prefixes {
            if file.starts_with(p) && best.is_none_or(|(_, len)| p.len() > len) {
                best = Some((k, p.len()));
            }
        }
    }
    best.unwrap_or_else(|| panic!("{file} is on no floor: add it to FLOORS"))
        .0
}

fn is_seam(from: &str, to: &str) -> bool {
    SEAMS.iter().any(|(f, t, _)| *f == from && *t == to)
}

#[test]
fn no_file_imports_a_file_on_a_higher_floor() {
    let c = Crate::read();
    let mut bad = Vec::new();
    for (from, tos) in c.edges() {
        for (to, (line, path)) in tos {
            if floor(&to) > floor(&from) && !is_seam(&from, &to) {
                bad.push(format!(
                    "engine/src/{from}:{line} ({}) imports {path} from engine/src/{to} ({})",
                    FLOORS[floor(&from)].0,
                    FLOORS[floor(&to)].0
                ));
            }
        }
    }
    assert!(bad.is_empty(), "upward imports:\n{}", bad.join("\n"));
}

/// Strongly connected components of more than one file (Tarjan's algorithm).
fn cycles(edges: &BTreeMap<String, BTreeMap<String, (usize, String)>>) -> Vec<Vec<String>> {
    struct St<'a> {
        edges: &'a BTreeMap<String, BTreeMap<String, (usize, String)>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut St<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on.insert(v);
        if let Some(tos) = s.edges.get(v) {
            for w in tos.keys() {
                if is_seam(v, w) {
                    continue;
                }
                let w = w.as_str();
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let lw = s.low[w];
                    let lv = s.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if s.on.contains(w) {
                    let iw = s.index[w];
                    let lv = s.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = St {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out.sort();
    s.out
}

#[test]
fn no_import_cycle_between_engine_files_but_the_known_ones() {
    let c = Crate::read();
    let edges = c.edges();
    let found = cycles(&edges);
    let known: Vec<Vec<String>> = KNOWN_CYCLES
        .iter()
        .map(|c| c.iter().map(|s| s.to_string()).collect())
        .collect();
    let describe = |comp: &Vec<String>| {
        let mut s = String::new();
        for f in comp {
            for (to, (line, path)) in &edges[f] {
                if comp.contains(to) && !is_seam(f, to) {
                    s.push_str(&format!(
                        "\n    engine/src/{f}:{line} imports {path} ({to})"
                    ));
                }
            }
        }
        s
    };
    let new: Vec<String> = found
        .iter()
        .filter(|c| !known.contains(c))
        .map(|c| format!("{c:?}:{}", describe(c)))
        .collect();
    assert!(new.is_empty(), "import cycles:\n{}", new.join("\n"));
    let gone: Vec<&Vec<String>> = known.iter().filter(|k| !found.contains(k)).collect();
    assert!(
        gone.is_empty(),
        "these known cycles are gone: remove them from KNOWN_CYCLES: {gone:?}"
    );
}

#[test]
fn the_reader_resolves_through_re_exports() {
    let c = Crate::read();
    let p = |s: &str| s.split("::").map(str::to_string).collect::<Vec<_>>();
    assert_eq!(c.resolve(&p("check::Violation")), "report.rs");
    assert_eq!(c.resolve(&p("check::unmapped::ZapCall")), "mm/unmap_log.rs");
    assert_eq!(c.resolve(&p("mm::Pfn")), "mm/ids.rs");
    assert_eq!(c.resolve(&p("sync::AtomicU64")), "sync/mod.rs");
    assert_eq!(c.resolve(&p("sync::SpinLock")), "sync/spinlock.rs");
    assert_eq!(c.resolve(&p("ops::ttu::TtuFlags")), "ops/rmap_types.rs");
    assert_eq!(c.resolve(&p("ops::ttu::TTU_SYNC")), "ops/rmap_types.rs");
    // And it sees the imports it must: through an imported module (`check::report(..)` after
    // `use crate::report::{self as check, ..}`), through `super::`, through a re-export.
    let edges = c.edges();
    for (from, to) in [
        ("sync/lockdep.rs", "report.rs"),
        ("sync/lockdep.rs", "sync/class.rs"),
        ("mm/arena.rs", "report.rs"),
        ("mm/world.rs", "mm/ids.rs"),
        ("check/quiescent.rs", "mm/world.rs"),
        ("ops/zap.rs", "mm/world.rs"),
        ("ops/hugetlb.rs", "ops/fault.rs"),
        ("ops/split.rs", "ops/rmap_types.rs"),
        ("kernel.rs", "ops/ttu.rs"),
        ("kernel.rs", "ops/munlock.rs"),
    ] {
        assert!(edges[from].contains_key(to), "{from} -> {to} not seen");
    }
}
