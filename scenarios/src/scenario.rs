//! What a scenario is: one race (or one workload), told as a sourced story, with variants.
//!
//! A scenario declares its variants as an enum of its own (`pub enum Variant { Fixed,
//! NoTtuSync }`) implementing [`ScenarioVariant`]: each variant's name, what it expects
//! (`clean`: no oracle may fire; `race`: an oracle must fire, and a run that never sees it has
//! MISSED) and a one-line summary, written as one exhaustive `match`, so that a variant cannot
//! be added without them. [`Scenario::run`] receives the typed variant — no string compares,
//! no `_ =>` fallback — builds a world for a [`Size`], runs its actors through the [`Env`] it is
//! given, and checks; the same code runs under loom (Tiny) and on real threads. What the
//! scenario is (name, title, commit, story, oracles) is stated once, in [`Scenario::ABOUT`].
//!
//! The catalog, the runner and the command see every scenario through [`AnyScenario`], an
//! object-safe adapter implemented for every [`Scenario`]: a command-line variant name is
//! parsed into a [`VariantRef`] once, at the edge ([`AnyScenario::variant`]), and a misspelt
//! name is an error that lists the valid ones. `crate::kit` has the helpers a scenario's `run`
//! is written with, and the contract it keeps.

use mmlab_engine::actor::Env;
use mmlab_engine::check::{Oracle, Violation};
use std::fmt;

/// What a variant expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expect {
    /// No oracle may fire.
    Clean,
    /// An oracle must fire.
    Race,
}

impl Expect {
    /// `clean` / `race`, as printed and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Expect::Clean => "clean",
            Expect::Race => "race",
        }
    }
}

/// What one variant is: its command-line name, what it expects, and one line on what it
/// changes and where that comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VariantInfo {
    /// The variant's name (`fixed`, `no-ttu-sync`, ...): what `--variant` takes.
    pub name: &'static str,
    /// What it expects.
    pub expected: Expect,
    /// One line: what this variant changes, and its source.
    pub summary: &'static str,
}

impl VariantInfo {
    /// A clean variant: no oracle may fire.
    pub const fn clean(name: &'static str, summary: &'static str) -> Self {
        VariantInfo {
            name,
            expected: Expect::Clean,
            summary,
        }
    }

    /// A race variant: one of the scenario's oracles must fire.
    pub const fn race(name: &'static str, summary: &'static str) -> Self {
        VariantInfo {
            name,
            expected: Expect::Race,
            summary,
        }
    }
}

/// A scenario's variant type: an enum whose [`info`](Self::info) is one exhaustive `match`.
///
/// ```
/// use mmlab_scenarios::scenario::{ScenarioVariant, VariantInfo};
///
/// #[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// pub enum Variant {
///     Fixed,
///     NoTtuSync,
/// }
///
/// impl ScenarioVariant for Variant {
///     const ALL: &'static [Self] = &[Variant::Fixed, Variant::NoTtuSync];
///     fn info(self) -> VariantInfo {
///         match self {
///             Variant::Fixed => VariantInfo::clean("fixed", "unmap_folio passes TTU_SYNC"),
///             Variant::NoTtuSync => VariantInfo::race("no-ttu-sync", "before 732ed55823fc"),
///         }
///     }
/// }
/// assert_eq!(Variant::parse("no-ttu-sync"), Ok(Variant::NoTtuSync));
/// ```
pub trait ScenarioVariant: Copy + Eq + fmt::Debug + Send + Sync + 'static {
    /// Every variant, in the order `list` prints them and `--variant all` runs them.
    const ALL: &'static [Self];

    /// Its name, expectation and summary.
    fn info(self) -> VariantInfo;

    /// The variant called `name`, or an error naming every valid one.
    fn parse(name: &str) -> Result<Self, UnknownVariant> {
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.info().name == name)
            .ok_or_else(|| UnknownVariant {
                name: name.to_string(),
                valid: Self::ALL.iter().map(|v| v.info().name).collect(),
            })
    }
}

/// A variant name that no variant of the scenario has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownVariant {
    /// The name asked for.
    pub name: String,
    /// Every valid name, in declaration order.
    pub valid: Vec<&'static str>,
}

impl fmt::Display for UnknownVariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown variant '{}'; its variants: {}",
            self.name,
            self.valid.join(", ")
        )
    }
}

impl std::error::Error for UnknownVariant {}

/// How big a world to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// Small enough for loom: at most 3 threads, 1–2 pages.
    Tiny,
    /// For real threads: more pages, more mappings, more rounds per iteration.
    Stress,
}

/// What one iteration saw.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Every violation reported (in-path and quiescent).
    pub violations: Vec<Violation>,
    /// The domain trace of the iteration, rendered (empty when clean).
    pub trace: String,
    /// Operations completed, by kind (long-running workloads report these).
    pub ops: Vec<(&'static str, u64)>,
}

/// What a scenario is, stated once: everything `list` and `explain` print but the variants.
#[derive(Debug, Clone, Copy)]
pub struct About {
    /// The fixed name (`ttu-sync`): what the command takes.
    pub name: &'static str,
    /// A one-line title.
    pub title: &'static str,
    /// The commit(s) or thread it comes from.
    pub commit: &'static str,
    /// The scenario file's text (`include_str!` of itself): its leading `//!` doc comment is
    /// the story `explain` prints — paths, locks, interleaving, oracle, commit.
    pub source: &'static str,
    /// The oracles that catch its race variants.
    pub oracles: &'static [Oracle],
    /// Does it run its actors for a duration (checking at quiescent points), rather than once
    /// per iteration?
    pub long_running: bool,
}

impl About {
    /// The story: the source's leading `//!` doc comment, as plain text.
    pub fn story(&self) -> String {
        self.source
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
}

/// A scenario: a typed set of variants and one function that runs any of them.
///
/// `run`'s contract (see `crate::kit`): build the world (`kit::world`), set up on the calling
/// thread (the caller runs `run` inside `env.play`, which installs the iteration's sink),
/// then hand the actors to `kit::run`, which runs them, checks the quiescent invariants and
/// returns what fired, with the trace rendered only when something did.
pub trait Scenario: Sync {
    /// The scenario's variants.
    type Variant: ScenarioVariant;
    /// What the scenario is.
    const ABOUT: About;
    /// Run one iteration of `variant` at `size`.
    fn run(&self, variant: Self::Variant, size: Size, env: &Env) -> Outcome;
}

/// One variant of one scenario, as the runner holds it: the variant's [`VariantInfo`] (also
/// reached through `Deref`) and its place in its scenario's [`ScenarioVariant::ALL`]. Made
/// only by [`AnyScenario::variants`] and [`AnyScenario::variant`], and meaningful only to the
/// scenario that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VariantRef {
    info: VariantInfo,
    index: usize,
}

impl VariantRef {
    /// The typed variant of `S` this refers to.
    fn typed<V: ScenarioVariant>(self) -> V {
        V::ALL[self.index]
    }
}

impl std::ops::Deref for VariantRef {
    type Target = VariantInfo;
    fn deref(&self) -> &VariantInfo {
        &self.info
    }
}

/// A scenario as the catalog, the runner and the command see it: object-safe, implemented for
/// every [`Scenario`]. Its accessors read [`Scenario::ABOUT`].
pub trait AnyScenario: Sync {
    /// What the scenario is.
    fn about(&self) -> About;
    /// Its variants, in declaration order.
    fn variants(&self) -> Vec<VariantRef>;
    /// The variant called `name`: the command line's name parsed once, at the edge.
    fn variant(&self, name: &str) -> Result<VariantRef, UnknownVariant>;
    /// Run one iteration of `variant` (one of this scenario's own) at `size`.
    fn run_variant(&self, variant: VariantRef, size: Size, env: &Env) -> Outcome;

    /// The fixed name.
    fn name(&self) -> &'static str {
        self.about().name
    }
    /// A one-line title.
    fn title(&self) -> &'static str {
        self.about().title
    }
    /// The commit(s) or thread it comes from.
    fn commit(&self) -> &'static str {
        self.about().commit
    }
    /// The story `explain` prints.
    fn story(&self) -> String {
        self.about().story()
    }
    /// The oracles that catch its race variants.
    fn oracles(&self) -> &'static [Oracle] {
        self.about().oracles
    }
    /// Does it run its actors for a duration?
    fn long_running(&self) -> bool {
        self.about().long_running
    }
}

impl<S: Scenario> AnyScenario for S {
    fn about(&self) -> About {
        S::ABOUT
    }

    fn variants(&self) -> Vec<VariantRef> {
        S::Variant::ALL
            .iter()
            .enumerate()
            .map(|(index, v)| VariantRef {
                info: v.info(),
                index,
            })
            .collect()
    }

    fn variant(&self, name: &str) -> Result<VariantRef, UnknownVariant> {
        let v = S::Variant::parse(name)?;
        Ok(variant_ref(v))
    }

    fn run_variant(&self, variant: VariantRef, size: Size, env: &Env) -> Outcome {
        self.run(variant.typed::<S::Variant>(), size, env)
    }
}

/// The [`VariantRef`] of a typed variant (for harnesses that start from the type, as the loom
/// tests do).
pub fn variant_ref<V: ScenarioVariant>(v: V) -> VariantRef {
    let index = V::ALL
        .iter()
        .position(|x| *x == v)
        .unwrap_or_else(|| panic!("{v:?} is missing from its type's ScenarioVariant::ALL"));
    VariantRef {
        info: v.info(),
        index,
    }
}
