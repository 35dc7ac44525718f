//! Kernel objects: page, PTE, page table, VMA, mm, anon_vma, address_space, CPU/TLB, and the
//! world that holds them all in arenas.

pub mod address_space;
pub mod anon_vma;
pub mod arena;
pub mod cpu;
pub mod ids;
pub mod lruvec;
pub mod mm_mt;
pub mod mm_struct;
pub mod mmu_gather;
pub mod page;
pub mod pmd;
pub mod pte;
mod renew;
pub mod secondary;
pub mod swap;
pub mod table;
pub mod unmap_log;
pub mod vma;
pub mod vma_lock;
pub mod world;

pub use address_space::{AddressSpace, FileId};
pub use anon_vma::{AnonVma, AnonVmaId};
pub use arena::{Arena, Id};
pub use cpu::{Cpu, TlbEntry};
pub use mm_struct::{Mm, MmId};
pub use mmu_gather::MmuGather;
pub use page::{Mapping, Page, Pfn, pg};
pub use pmd::Pmd;
pub use pte::Pte;
pub use table::{PageTable, TableId};
pub use vma::{Vma, VmaId, VmaInfo, vm};
pub use world::{Ptlocks, World, WorldConfig};
