//! Shards: one campaign split across many machines, without coordination.
//!
//! Each (scenario, variant) pair numbers its iterations 0, 1, 2, ... (the *global index*), and
//! an iteration's seed is a function of (run seed, scenario, variant, index) alone (see
//! [`super::seed`]). Shard `K/N` runs exactly the indices `i` with `i % N == K - 1`. So N
//! machines started with the same `--seed` and `--iterations` and shards `1/N` … `N/N` run
//! disjoint sets of seeds whose union is the unsharded run's: no coordinator, no shared state,
//! and any job runner that hands out an index (a CI matrix, a Kubernetes indexed Job, a Slurm
//! array) can drive a campaign. Striding (rather than cutting the index range into blocks)
//! keeps shards balanced when a `--duration` budget ends them early: every shard covers the
//! low indices of its residue class first.

use super::usage::UsageError;
use std::fmt;
use std::str::FromStr;

/// Shard `K/N`, stored 0-based: this process runs global indices `i % count == index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u64,
    count: u64,
}

impl Shard {
    /// The whole run: `1/1`.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Shard `k` of `n`, 1-based as users write it (`--shard 1/4` … `--shard 4/4`).
    pub fn new(k: u64, n: u64) -> Result<Self, UsageError> {
        if n == 0 {
            return Err(UsageError::new(format!(
                "shard {k}/{n}: the number of shards must be at least 1"
            )));
        }
        if k == 0 || k > n {
            return Err(UsageError::new(format!(
                "shard {k}/{n}: K must be between 1 and {n} (shards are numbered from 1)"
            )));
        }
        Ok(Shard {
            index: k - 1,
            count: n,
        })
    }

    /// K, 1-based.
    pub fn k(self) -> u64 {
        self.index + 1
    }

    /// N.
    pub fn n(self) -> u64 {
        self.count
    }

    /// Does this shard run global index `i`?
    pub fn owns(self, i: u64) -> bool {
        i % self.count == self.index
    }

    /// This shard's global indices, in order, without end.
    pub fn indices(self) -> impl Iterator<Item = u64> {
        (self.index..).step_by(usize::try_from(self.count).unwrap_or(usize::MAX))
    }

    /// How many of the indices `0..total` this shard runs.
    pub fn count_below(self, total: u64) -> u64 {
        if total <= self.index {
            0
        } else {
            (total - self.index).div_ceil(self.count)
        }
    }
}

impl Default for Shard {
    fn default() -> Self {
        Shard::WHOLE
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k(), self.n())
    }
}

impl FromStr for Shard {
    type Err = UsageError;

    /// `K/N`, e.g. `3/8`.
    fn from_str(s: &str) -> Result<Self, UsageError> {
        let malformed = || {
            UsageError::new(format!(
                "malformed shard '{s}': expected K/N with 1 <= K <= N, e.g. 1/4"
            ))
        };
        let (k, n) = s.split_once('/').ok_or_else(malformed)?;
        let k: u64 = k.trim().parse().map_err(|_| malformed())?;
        let n: u64 = n.trim().parse().map_err(|_| malformed())?;
        Shard::new(k, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_k_of_n_and_rejects_the_rest() {
        assert_eq!("1/4".parse::<Shard>().map(|s| (s.k(), s.n())), Ok((1, 4)));
        assert_eq!("4/4".parse::<Shard>().map(|s| (s.k(), s.n())), Ok((4, 4)));
        for bad in ["0/4", "5/4", "1/0", "4", "a/b", "1/2/3", "-1/4", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn shards_partition_the_indices() {
        let n = 5;
        let shards: Vec<Shard> = (1..=n).map(|k| Shard::new(k, n).unwrap()).collect();
        for i in 0..1000 {
            assert_eq!(shards.iter().filter(|s| s.owns(i)).count(), 1, "index {i}");
        }
        let mut all: Vec<u64> = shards
            .iter()
            .flat_map(|s| s.indices().take_while(|&i| i < 103))
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..103).collect::<Vec<_>>());
        let counted: u64 = shards.iter().map(|s| s.count_below(103)).sum();
        assert_eq!(counted, 103);
        assert_eq!(Shard::new(5, 5).unwrap().count_below(4), 0);
    }
}
