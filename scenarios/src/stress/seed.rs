//! Seeds: how a run seed becomes one seed per iteration.
//!
//! The rule that makes replay work: **iteration 0 runs the run seed itself**, and every other
//! iteration's seed is a fixed function of (run seed, scenario, variant, global index). A
//! failure at iteration seed `S` is therefore replayed by `--seed S --iterations 1`, whatever
//! index it was found at, on whichever shard.
//!
//! The function is splitmix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
//! generators", OOPSLA 2014) over a stable FNV-1a hash of the names: our own code, so that the
//! index → seed mapping of a sharded campaign cannot change under us when a dependency
//! upgrades (rand documents `SmallRng` as not portable across versions). Changing this
//! function changes which seeds a campaign covers, never what a printed seed replays.

/// splitmix64's finaliser: a bijective mix of 64 bits.
pub fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// FNV-1a over bytes: a hash that is the same on every machine and every build.
fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The seed of global iteration `index` of (`scenario`, `variant`) in a run seeded `run_seed`.
pub fn iteration_seed(run_seed: u64, scenario: &str, variant: &str, index: u64) -> u64 {
    if index == 0 {
        return run_seed;
    }
    // The 0xff separator cannot occur in UTF-8, so ("ab", "c") and ("a", "bc") differ.
    let pair = fnv1a(
        scenario
            .bytes()
            .chain(std::iter::once(0xff))
            .chain(variant.bytes()),
    );
    splitmix64(splitmix64(run_seed ^ pair) ^ splitmix64(index))
}

/// A fresh seed for a run that was not given one.
pub fn random_seed() -> u64 {
    rand::random()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn iteration_zero_is_the_run_seed() {
        assert_eq!(iteration_seed(42, "a", "b", 0), 42);
    }

    #[test]
    fn seeds_are_a_pure_function_of_their_inputs() {
        assert_eq!(
            iteration_seed(7, "s", "v", 9),
            iteration_seed(7, "s", "v", 9)
        );
        assert_ne!(
            iteration_seed(7, "s", "v", 9),
            iteration_seed(8, "s", "v", 9)
        );
        assert_ne!(
            iteration_seed(7, "s", "v", 9),
            iteration_seed(7, "s", "w", 9)
        );
        assert_ne!(
            iteration_seed(7, "ab", "c", 9),
            iteration_seed(7, "a", "bc", 9)
        );
    }

    #[test]
    fn seeds_of_a_pair_do_not_repeat() {
        let seeds: HashSet<u64> = (0..100_000)
            .map(|i| iteration_seed(1, "s", "v", i))
            .collect();
        assert_eq!(seeds.len(), 100_000);
    }

    #[test]
    fn the_mapping_is_stable() {
        // A sharded campaign depends on this mapping staying put: pin one value.
        assert_eq!(splitmix64(0), 0xe220_a839_7b1d_cdaf);
    }
}
