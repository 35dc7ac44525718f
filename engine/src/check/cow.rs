//! The copy-on-write oracles: I18 (a private write lands in a private page) and I19 (after
//! fork, neither side sees the other's later writes). docs/MODEL.md §3 states them.
//!
//! I18 is checked in-path where a kernel write for a private mapping lands
//! (`ops::gup::cow_write`, called by `access_remote_vm` before `copy_to_user_page`: an
//! in-path assertion lives beside its path, below the oracles' floor) and at
//! rest for the hardware ([`check_private_ptes`]: no writable PTE of a private mapping maps a
//! page-cache page or a page another mapping shares). Scenarios that make private writes call
//! [`check_private_ptes`] after their actors.

use crate::check::{Oracle, violation};
use crate::mm::pte::Pte;
use crate::mm::vma::vm;
use crate::mm::{Mapping, World};
use crate::sync::Ordering;

/// I18, at rest: no present, writable PTE of a private VMA maps a page-cache page, or an
/// anonymous page that another mapping maps too (mapcount above one: the model has no
/// mremap, so a second mapping is another VMA's — after fork, another mm's).
pub fn check_private_ptes(w: &World) {
    for mm in w.mms.live() {
        let map = w.mms.get(mm).mmap_lock.read();
        for &vma in &map.vmas {
            let v = w.vmas.get(vma);
            if v.has(vm::SHARED) {
                continue;
            }
            let info = v.info.get();
            for va in info.start..info.end {
                let Some(Pte::Present {
                    pfn, write: true, ..
                }) = w.pte_at(mm, va)
                else {
                    continue;
                };
                let page = w.page(pfn);
                let shared = page.mapcount.load(Ordering::SeqCst) > 1;
                if matches!(page.mapping(), Mapping::File(_)) || shared {
                    violation(
                        Oracle::I18CowWrite,
                        format!(
                            "{mm} va {:#x}: a writable PTE of a private mapping maps {pfn} \
                             ({:?}, mapcount {})",
                            va << 12,
                            page.mapping(),
                            page.mapcount.load(Ordering::SeqCst)
                        ),
                    );
                }
            }
        }
    }
}
