//! Every object id of the world, in one file: the arenas' `Kind` markers and the id aliases.
//!
//! Ids are how kernel objects name each other (a page's mapping names a file or an anon_vma, a
//! VMA its mm and anon_vma, an mm its tables). Defined beside their objects, they made the
//! object files import each other in a circle; here, every object file imports this one and
//! none imports another for an id. Each object file re-exports its own id, so
//! `mm::page::Pfn` and `mm::Pfn` still name it.

use super::arena::{Id, Kind};

/// Marker for file ids.
#[derive(Debug)]
pub enum FileKind {}
impl Kind for FileKind {
    const NAME: &'static str = "file";
}
/// A file (address_space) id.
pub type FileId = Id<FileKind>;

/// Marker for anon_vma ids.
#[derive(Debug)]
pub enum AnonVmaKind {}
impl Kind for AnonVmaKind {
    const NAME: &'static str = "anon_vma";
}
/// An anon_vma id.
pub type AnonVmaId = Id<AnonVmaKind>;

/// Marker for mm ids.
#[derive(Debug)]
pub enum MmKind {}
impl Kind for MmKind {
    const NAME: &'static str = "mm";
}
/// An mm id.
pub type MmId = Id<MmKind>;

/// Marker for page ids.
#[derive(Debug)]
pub enum PageKind {}
impl Kind for PageKind {
    const NAME: &'static str = "pfn";
}

/// A page frame number, with the generation of the allocation it names.
pub type Pfn = Id<PageKind>;

/// Marker for table ids.
#[derive(Debug)]
pub enum TableKind {}
impl Kind for TableKind {
    const NAME: &'static str = "pte-table";
}
/// A PTE table id.
pub type TableId = Id<TableKind>;

/// Marker for VMA ids.
#[derive(Debug)]
pub enum VmaKind {}
impl Kind for VmaKind {
    const NAME: &'static str = "vma";
}
/// A VMA id.
pub type VmaId = Id<VmaKind>;
