//! `struct lruvec` (include/linux/mmzone.h): the LRU lists reclaim scans, one lruvec for the
//! model's one node and one memcg, under `lruvec->lru_lock` (the [`crate::mm::World::lru_lock`]
//! spinlock holds it).
//!
//! A folio on a list has PG_lru set; clearing PG_lru (`folio_test_clear_lru`) is the
//! isolation token every isolator races for, and the winner removes the folio from its list
//! under `lru_lock` (`lruvec_del_folio`). The list a folio is on says whether it is active
//! (the kernel keeps PG_active in step with it; the model reads the list).
//!
//! Simplification: the model's paths other than reclaim (migration, khugepaged, mlock, the
//! page-cache fault) still isolate and put back by the PG_lru bit alone, without the list
//! operation the kernel does beside it under `lru_lock`. The lists catch up with the bit where
//! reclaim reads them: `lru_add_drain` adds the PG_lru folios on no list (as the kernel's
//! drain of the per-CPU `lru_add` batches would have), and `isolate_lru_folios` drops entries
//! whose folio was freed or isolated meanwhile (docs/MODEL.md §18).

use super::page::Pfn;

/// `enum lru_list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LruList {
    /// `LRU_INACTIVE_ANON`.
    InactiveAnon = 0,
    /// `LRU_ACTIVE_ANON`.
    ActiveAnon = 1,
    /// `LRU_INACTIVE_FILE`.
    InactiveFile = 2,
    /// `LRU_ACTIVE_FILE`.
    ActiveFile = 3,
    /// `LRU_UNEVICTABLE`.
    Unevictable = 4,
}

impl LruList {
    /// Every list, in `enum lru_list` order.
    pub const ALL: [LruList; 5] = [
        LruList::InactiveAnon,
        LruList::ActiveAnon,
        LruList::InactiveFile,
        LruList::ActiveFile,
        LruList::Unevictable,
    ];

    /// `folio_lru_list` for a folio of this kind: unevictable, else anon or file × active.
    pub fn of(unevictable: bool, anon: bool, active: bool) -> Self {
        match (unevictable, anon, active) {
            (true, _, _) => LruList::Unevictable,
            (false, true, false) => LruList::InactiveAnon,
            (false, true, true) => LruList::ActiveAnon,
            (false, false, false) => LruList::InactiveFile,
            (false, false, true) => LruList::ActiveFile,
        }
    }

    /// `is_active_lru`.
    pub fn is_active(self) -> bool {
        matches!(self, LruList::ActiveAnon | LruList::ActiveFile)
    }
}

/// The lists of the one lruvec. Each list is in LRU order: the head (index 0) is the most
/// recently added, reclaim takes from the tail, as `list_add` / `lru_to_folio` do.
#[derive(Debug, Default)]
pub struct Lruvec {
    /// `lruvec->lists[NR_LRU_LISTS]`.
    /// Protected by: `lru_lock` (this struct is the data of that spinlock).
    pub lists: [Vec<Pfn>; 5],
    /// Which list each folio is on (the lists' index, so that membership is one lookup).
    /// Protected by: `lru_lock`, changed together with [`Self::lists`].
    on: std::collections::HashMap<Pfn, LruList>,
}

impl Lruvec {
    /// Which list holds `pfn`, if any.
    pub fn list_of(&self, pfn: Pfn) -> Option<LruList> {
        self.on.get(&pfn).copied()
    }

    /// `lruvec_add_folio`: at the head of `lru`.
    pub fn add_folio(&mut self, pfn: Pfn, lru: LruList) {
        debug_assert!(
            self.list_of(pfn).is_none(),
            "{pfn} is on an LRU list already"
        );
        self.lists[lru as usize].insert(0, pfn);
        self.on.insert(pfn, lru);
    }

    /// `lruvec_add_folio_tail`: at the tail of `lru` (`folio_putback_lru` of a folio to
    /// rotate, `lru_deactivate`).
    pub fn add_folio_tail(&mut self, pfn: Pfn, lru: LruList) {
        debug_assert!(
            self.list_of(pfn).is_none(),
            "{pfn} is on an LRU list already"
        );
        self.lists[lru as usize].push(pfn);
        self.on.insert(pfn, lru);
    }

    /// `lruvec_del_folio`: off whichever list holds it. Returns the list.
    pub fn del_folio(&mut self, pfn: Pfn) -> Option<LruList> {
        let lru = self.on.remove(&pfn)?;
        self.lists[lru as usize].retain(|&p| p != pfn);
        Some(lru)
    }

    /// `lruvec_del_folio` of the folio at the tail of `lru` (`lru_to_folio` + `list_del`).
    pub fn pop_tail(&mut self, lru: LruList) -> Option<Pfn> {
        let pfn = self.lists[lru as usize].pop()?;
        self.on.remove(&pfn);
        Some(pfn)
    }

    /// How many folios `lru` holds (`lruvec_page_state`).
    pub fn len(&self, lru: LruList) -> usize {
        self.lists[lru as usize].len()
    }

    /// Is every list empty?
    pub fn is_empty(&self) -> bool {
        self.lists.iter().all(Vec::is_empty)
    }
}
