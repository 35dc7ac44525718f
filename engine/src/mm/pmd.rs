//! PMD entries: none, a PTE table, a huge page (`pmd_trans_huge`), a transiently invalidated
//! huge page (`pmdp_invalidate`), or a PMD migration entry.
//!
//! A PMD is one atomic word, because the kernel reads it without the PMD lock: `zap_pmd_range`
//! and `change_pmd_range` decide on `pmd_trans_huge(*pmd)` / `pmd_none(*pmd)` unlocked (what
//! `pmd-unlocked-check` is about), `__handle_mm_fault` reads `vmf.orig_pmd` with
//! `pmdp_get_lockless`, and the hardware walker reads it as it walks.
//!
//! What each kind is to whom, on x86-64 (arch/x86/include/asm/pgtable.h):
//!
//! | kind      | `pmd_none` | `pmd_present` | `pmd_trans_huge` | the walker   |
//! |-----------|------------|---------------|------------------|--------------|
//! | None      | yes        | no            | no               | not present  |
//! | Table     | no         | yes           | no               | walks on     |
//! | Huge      | no         | yes           | yes              | maps 2M      |
//! | Huge, protnone | no    | yes           | yes              | not present  |
//! | Invalid   | no         | yes           | yes              | not present  |
//! | Migration | no         | no            | no (`is_swap_pmd`) | not present |
//!
//! `Invalid` is what `pmdp_invalidate` leaves: `pmd_mkinvalid` (`pmd_mknotpresent` in older
//! kernels) clears `_PAGE_PRESENT | _PAGE_PROTNONE` and keeps `_PAGE_PSE`, and x86's
//! `pmd_present` answers true for `_PAGE_PSE` ("split_huge_page will temporarily clear the
//! present bit", the comment above it) — so to every unlocked software check it is a huge PMD,
//! never `pmd_none`, while the hardware cannot use it. `protnone` is a NUMA-hinting entry
//! (`pmd_modify(pmd, PAGE_NONE)` from `change_prot_numa`): `_PAGE_PROTNONE` without
//! `_PAGE_PRESENT`.
//!
//! A table is encoded as the old `Mm::pmd` word was, `TableId` packed + 1, so code that stores
//! a table there is unchanged; the leaf kinds have bit 63 set.

use super::arena::Id;
use super::page::Pfn;
use super::table::TableId;
use std::fmt;

/// A decoded PMD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pmd {
    /// `pmd_none`.
    None,
    /// Points to a PTE table (`pmd_populate`).
    Table(TableId),
    /// Maps a huge page (`pmd_trans_huge`, present).
    Huge {
        /// The head page of the THP.
        pfn: Pfn,
        /// Writable.
        write: bool,
        /// Hardware dirty bit.
        dirty: bool,
        /// Hardware accessed bit.
        young: bool,
        /// `pmd_protnone`: a NUMA-hinting entry the hardware faults on.
        protnone: bool,
    },
    /// `pmdp_invalidate`'s transient state: huge to software, not present to the hardware.
    Invalid {
        /// The head page.
        pfn: Pfn,
        /// Writable.
        write: bool,
        /// Hardware dirty bit, as it was when invalidated.
        dirty: bool,
        /// Hardware accessed bit, as it was when invalidated.
        young: bool,
    },
    /// A PMD migration entry (`is_pmd_migration_entry`, 4.14+ 616b8371539a).
    Migration {
        /// The head page being migrated.
        pfn: Pfn,
        /// Was the mapping writable.
        write: bool,
    },
}

const LEAF: u64 = 1 << 63;
const KIND_SHIFT: u32 = 61;
const KIND_MASK: u64 = 3;
const WRITE: u64 = 1 << 60;
const DIRTY: u64 = 1 << 59;
const YOUNG: u64 = 1 << 58;
const PROTNONE: u64 = 1 << 57;
const IDX_BITS: u32 = 27;
const IDX_MASK: u64 = (1 << IDX_BITS) - 1;
const GEN_MASK: u64 = (1 << 30) - 1;

// Leaf layout: 1 leaf bit, 2 kind bits, 4 flag bits, a 30-bit generation, a 27-bit index:
// 1 + 2 + 4 + 30 + 27 = 64. A page frame's generation wraps in a leaf after 2^30 reuses,
// which no run reaches.

impl Pmd {
    /// What a huge or invalidated PMD carries — `pmd_pfn`, `pmd_write`, `pmd_dirty`,
    /// `pmd_young` of a `pmd_trans_huge` entry — or `None` for any other kind: what
    /// `pmdp_invalidate` keeps and `__split_huge_pmd_locked` spreads over the PTEs.
    pub fn huge_bits(self) -> Option<(Pfn, bool, bool, bool)> {
        match self {
            Pmd::Huge {
                pfn,
                write,
                dirty,
                young,
                ..
            }
            | Pmd::Invalid {
                pfn,
                write,
                dirty,
                young,
            } => Some((pfn, write, dirty, young)),
            _ => None,
        }
    }

    /// Encode into a PMD word.
    pub fn encode(self) -> u64 {
        let pfn_bits = |p: Pfn| {
            ((u64::from(p.generation) & GEN_MASK) << IDX_BITS) | (u64::from(p.idx) & IDX_MASK)
        };
        let flag = |b: bool, bit: u64| if b { bit } else { 0 };
        match self {
            Pmd::None => 0,
            Pmd::Table(t) => t.pack() + 1,
            Pmd::Huge {
                pfn,
                write,
                dirty,
                young,
                protnone,
            } => {
                LEAF | pfn_bits(pfn)
                    | flag(write, WRITE)
                    | flag(dirty, DIRTY)
                    | flag(young, YOUNG)
                    | flag(protnone, PROTNONE)
            }
            Pmd::Invalid {
                pfn,
                write,
                dirty,
                young,
            } => {
                LEAF | (1 << KIND_SHIFT)
                    | pfn_bits(pfn)
                    | flag(write, WRITE)
                    | flag(dirty, DIRTY)
                    | flag(young, YOUNG)
            }
            Pmd::Migration { pfn, write } => {
                LEAF | (2 << KIND_SHIFT) | pfn_bits(pfn) | flag(write, WRITE)
            }
        }
    }

    /// Decode a PMD word.
    pub fn decode(v: u64) -> Self {
        if v == 0 {
            return Pmd::None;
        }
        if v & LEAF == 0 {
            return Pmd::Table(Id::unpack(v - 1));
        }
        let pfn = Id::new((v & IDX_MASK) as u32, ((v >> IDX_BITS) & GEN_MASK) as u32);
        let (write, dirty, young) = (v & WRITE != 0, v & DIRTY != 0, v & YOUNG != 0);
        match (v >> KIND_SHIFT) & KIND_MASK {
            0 => Pmd::Huge {
                pfn,
                write,
                dirty,
                young,
                protnone: v & PROTNONE != 0,
            },
            1 => Pmd::Invalid {
                pfn,
                write,
                dirty,
                young,
            },
            _ => Pmd::Migration { pfn, write },
        }
    }

    /// `pmd_none`.
    pub fn is_none(self) -> bool {
        self == Pmd::None
    }

    /// `pmd_trans_huge` (x86: `_PAGE_PSE` set, whether present, protnone or invalidated).
    pub fn is_trans_huge(self) -> bool {
        matches!(self, Pmd::Huge { .. } | Pmd::Invalid { .. })
    }

    /// `is_swap_pmd`: a non-present, non-none entry that is no huge page (a migration entry).
    pub fn is_swap_pmd(self) -> bool {
        matches!(self, Pmd::Migration { .. })
    }

    /// `pmd_present` (x86: `_PAGE_PRESENT | _PAGE_PROTNONE | _PAGE_PSE`).
    pub fn is_present(self) -> bool {
        matches!(self, Pmd::Table(_) | Pmd::Huge { .. } | Pmd::Invalid { .. })
    }

    /// The PTE table it points to.
    pub fn table(self) -> Option<TableId> {
        match self {
            Pmd::Table(t) => Some(t),
            _ => None,
        }
    }

    /// The head page a huge, invalidated or migration entry names (`pmd_page`,
    /// `pmd_to_swp_entry`).
    pub fn pfn(self) -> Option<Pfn> {
        match self {
            Pmd::Huge { pfn, .. } | Pmd::Invalid { pfn, .. } | Pmd::Migration { pfn, .. } => {
                Some(pfn)
            }
            _ => None,
        }
    }

    /// `pmd_none_or_trans_huge_or_clear_bad` (include/linux/pgtable.h, ≤6.4): true when the
    /// caller must not walk a PTE table here — none, huge, or a migration entry. (The model
    /// has no bad PMDs to clear.)
    pub fn none_or_trans_huge_or_clear_bad(self) -> bool {
        !matches!(self, Pmd::Table(_))
    }
}

impl fmt::Display for Pmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bits = |write: bool, dirty: bool, young: bool| {
            format!(
                "{}{}{}",
                if write { " W" } else { "" },
                if dirty { " D" } else { "" },
                if young { " A" } else { "" }
            )
        };
        match *self {
            Pmd::None => f.write_str("none"),
            Pmd::Table(t) => write!(f, "table({t})"),
            Pmd::Huge {
                pfn,
                write,
                dirty,
                young,
                protnone,
            } => write!(
                f,
                "huge({pfn}{}{})",
                bits(write, dirty, young),
                if protnone { " PROTNONE" } else { "" }
            ),
            Pmd::Invalid {
                pfn,
                write,
                dirty,
                young,
            } => write!(f, "invalid({pfn}{})", bits(write, dirty, young)),
            Pmd::Migration { pfn, write } => {
                write!(f, "pmd-migration({pfn}{})", if write { " W" } else { "" })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips() {
        let pfn = Id::new(5, 0x1eef_beef);
        for pmd in [
            Pmd::None,
            Pmd::Table(Id::new(3, 7)),
            Pmd::Huge {
                pfn,
                write: true,
                dirty: false,
                young: true,
                protnone: false,
            },
            Pmd::Huge {
                pfn,
                write: false,
                dirty: true,
                young: false,
                protnone: true,
            },
            Pmd::Invalid {
                pfn,
                write: true,
                dirty: true,
                young: false,
            },
            Pmd::Migration { pfn, write: true },
        ] {
            assert_eq!(Pmd::decode(pmd.encode()), pmd, "{pmd}");
        }
    }

    #[test]
    fn a_table_word_is_the_old_packed_id() {
        let t: TableId = Id::new(9, 2);
        assert_eq!(Pmd::Table(t).encode(), t.pack() + 1);
    }

    #[test]
    fn the_invalidated_pmd_is_huge_and_present_but_never_none() {
        let p = Pmd::Invalid {
            pfn: Id::new(1, 1),
            write: true,
            dirty: false,
            young: false,
        };
        assert!(!p.is_none() && p.is_trans_huge() && p.is_present());
        assert!(p.none_or_trans_huge_or_clear_bad());
        assert!(Pmd::None.none_or_trans_huge_or_clear_bad());
        assert!(!Pmd::Table(Id::new(0, 0)).none_or_trans_huge_or_clear_bad());
    }
}
