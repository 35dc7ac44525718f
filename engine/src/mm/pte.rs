//! Page-table entries: none, present {pfn, write, dirty, young}, migration {pfn, write}, swap
//! {offset, exclusive}.
//!
//! A PTE is one atomic word, because the kernel reads PTEs without the PTL (the
//! `page_vma_mapped_walk` pre-check, GUP-fast, the hardware walker) and loom must interleave
//! those reads with zap's `ptep_get_and_clear_full`.

use super::arena::Id;
use super::page::Pfn;
use std::fmt;

/// A decoded PTE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pte {
    /// `pte_none`.
    None,
    /// A present mapping.
    Present {
        /// The page.
        pfn: Pfn,
        /// Writable.
        write: bool,
        /// Hardware dirty bit.
        dirty: bool,
        /// Hardware accessed bit.
        young: bool,
    },
    /// A migration entry (`make_readable/writable_migration_entry`).
    Migration {
        /// The page being migrated.
        pfn: Pfn,
        /// Was the mapping writable.
        write: bool,
    },
    /// A swap entry (`swp_entry_to_pte`): the slot `offset` of the one swap device the model
    /// has (type 0), and `pte_swp_exclusive` (5.19+, 1493a1913e34 "mm/swap: remember
    /// PG_anon_exclusive via a swp pte bit"): the page was exclusive when it was swapped out,
    /// so the swap-in may map it writable without a copy.
    Swap {
        /// `swp_offset`: the slot on the swap device.
        offset: u32,
        /// `pte_swp_exclusive`.
        exclusive: bool,
    },
}

const TAG_SHIFT: u32 = 62;
const WRITE: u64 = 1 << 61;
const DIRTY: u64 = 1 << 60;
const YOUNG: u64 = 1 << 59;
const IDX_MASK: u64 = (1 << 27) - 1;

impl Pte {
    /// Encode into a PTE word.
    pub fn encode(self) -> u64 {
        let pfn_bits = |p: Pfn| (u64::from(p.generation) << 27) | (u64::from(p.idx) & IDX_MASK);
        match self {
            Pte::None => 0,
            Pte::Present {
                pfn,
                write,
                dirty,
                young,
            } => {
                (1 << TAG_SHIFT)
                    | pfn_bits(pfn)
                    | if write { WRITE } else { 0 }
                    | if dirty { DIRTY } else { 0 }
                    | if young { YOUNG } else { 0 }
            }
            Pte::Migration { pfn, write } => {
                (2 << TAG_SHIFT) | pfn_bits(pfn) | if write { WRITE } else { 0 }
            }
            Pte::Swap { offset, exclusive } => {
                (3 << TAG_SHIFT) | u64::from(offset) | if exclusive { WRITE } else { 0 }
            }
        }
    }

    /// Decode a PTE word.
    pub fn decode(v: u64) -> Self {
        let pfn = || Id::new((v & IDX_MASK) as u32, ((v >> 27) & 0xffff_ffff) as u32);
        match v >> TAG_SHIFT {
            0 => Pte::None,
            1 => Pte::Present {
                pfn: pfn(),
                write: v & WRITE != 0,
                dirty: v & DIRTY != 0,
                young: v & YOUNG != 0,
            },
            2 => Pte::Migration {
                pfn: pfn(),
                write: v & WRITE != 0,
            },
            _ => Pte::Swap {
                offset: (v & 0xffff_ffff) as u32,
                exclusive: v & WRITE != 0,
            },
        }
    }

    /// `pte_none`.
    pub fn is_none(self) -> bool {
        self == Pte::None
    }

    /// `pte_present`.
    pub fn is_present(self) -> bool {
        matches!(self, Pte::Present { .. })
    }

    /// `is_swap_pte` of a genuine swap entry (`!non_swap_entry`): the slot it names.
    pub fn swap_offset(self) -> Option<u32> {
        match self {
            Pte::Swap { offset, .. } => Some(offset),
            _ => None,
        }
    }

    /// The page a present or migration entry refers to.
    pub fn pfn(self) -> Option<Pfn> {
        match self {
            Pte::Present { pfn, .. } | Pte::Migration { pfn, .. } => Some(pfn),
            _ => None,
        }
    }
}

impl fmt::Display for Pte {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Pte::None => f.write_str("none"),
            Pte::Present {
                pfn,
                write,
                dirty,
                young,
            } => write!(
                f,
                "present({pfn}{}{}{})",
                if write { " W" } else { "" },
                if dirty { " D" } else { "" },
                if young { " A" } else { "" }
            ),
            Pte::Migration { pfn, write } => {
                write!(f, "migration({pfn}{})", if write { " W" } else { "" })
            }
            Pte::Swap { offset, exclusive } => {
                write!(f, "swap({offset}{})", if exclusive { " X" } else { "" })
            }
        }
    }
}

// Layout: 2 tag bits, 3 flag bits, a 32-bit generation, a 27-bit index: 2 + 3 + 32 + 27 = 64.

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips() {
        let pfn = Id::new(5, 0xdead_beef);
        for pte in [
            Pte::None,
            Pte::Present {
                pfn,
                write: true,
                dirty: false,
                young: true,
            },
            Pte::Present {
                pfn,
                write: false,
                dirty: true,
                young: false,
            },
            Pte::Migration { pfn, write: true },
            Pte::Swap {
                offset: 7,
                exclusive: false,
            },
            Pte::Swap {
                offset: 3,
                exclusive: true,
            },
        ] {
            assert_eq!(Pte::decode(pte.encode()), pte);
        }
    }
}
