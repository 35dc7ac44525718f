//! Arenas of fixed capacity with typed, generation-carrying ids (after loom's object store,
//! `src/rt/object.rs`).
//!
//! Objects live in slots created with the world. Allocation hands out a free slot and an id
//! carrying the slot's generation; freeing bumps the generation, so any later use of the old id
//! is caught as a use-after-free ([`Oracle::StaleId`]) without unsafe code. Slots are reused
//! as slab memory is: the memory stays an object of its type (the kernel's
//! `SLAB_TYPESAFE_BY_RCU` for anon_vma), and a reader that found a slot through a stale pointer
//! must re-validate, exactly as the kernel does.
//!
//! Generations are observer state (plain `std` atomics, invisible to loom): they are the lab's
//! instrument, not kernel state, and checking them must not add interleavings to explore.
//! The free lists of the object arenas are observer state for the same reason (slab's own
//! locking is in no race modelled here); the page allocator's free list is the exception and
//! sits under the modelled zone lock (see `page_alloc`).

use crate::report::{self as check, Oracle};
use crate::sync::ObserverMutex;
use crate::sync::observer::{AtomicU32, Ordering};
use std::fmt;
use std::marker::PhantomData;

/// A typed id: slot index plus the generation it was allocated in.
pub struct Id<K> {
    /// Slot index.
    pub idx: u32,
    /// Generation (odd while live).
    pub generation: u32,
    _kind: PhantomData<fn() -> K>,
}

impl<K> Id<K> {
    /// An id from its parts.
    pub const fn new(idx: u32, generation: u32) -> Self {
        Id {
            idx,
            generation,
            _kind: PhantomData,
        }
    }

    /// Pack into 64 bits (for atomics that store ids).
    pub fn pack(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.idx)
    }

    /// Unpack from [`Id::pack`].
    pub fn unpack(v: u64) -> Self {
        Id::new(v as u32, (v >> 32) as u32)
    }
}

impl<K> Clone for Id<K> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K> Copy for Id<K> {}
impl<K> PartialEq for Id<K> {
    fn eq(&self, o: &Self) -> bool {
        self.idx == o.idx && self.generation == o.generation
    }
}
impl<K> Eq for Id<K> {}
impl<K> std::hash::Hash for Id<K> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.pack().hash(h)
    }
}

/// The kind of object an id names, for printing.
pub trait Kind {
    /// How the kernel would print it (`pfn`, `vma`, ...).
    const NAME: &'static str;
}

impl<K: Kind> fmt::Debug for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", K::NAME, self.idx)
    }
}

impl<K: Kind> fmt::Display for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", K::NAME, self.idx)
    }
}

struct Slot<T> {
    generation: AtomicU32,
    obj: T,
}

/// A fixed-capacity arena of `T`, addressed by `Id<K>`.
pub struct Arena<K, T> {
    slots: Vec<Slot<T>>,
    free: ObserverMutex<Vec<u32>>,
    _kind: PhantomData<fn() -> K>,
}

impl<K: Kind, T> fmt::Debug for Arena<K, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Arena<{}>({} slots, {} free)",
            K::NAME,
            self.slots.len(),
            self.free.lock().len()
        )
    }
}

impl<K: Kind, T> Arena<K, T> {
    /// An arena of `capacity` slots, each built by `make`.
    pub fn new(capacity: usize, mut make: impl FnMut(u32) -> T) -> Self {
        let slots = (0..capacity as u32)
            .map(|i| Slot {
                generation: AtomicU32::new(0),
                obj: make(i),
            })
            .collect();
        Arena {
            slots,
            free: ObserverMutex::new((0..capacity as u32).rev().collect()),
            _kind: PhantomData,
        }
    }

    /// Capacity.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Take a free slot, if any. The caller initialises the object before publishing the id.
    pub fn alloc(&self) -> Option<(Id<K>, &T)> {
        let idx = self.free.lock().pop()?;
        Some(self.activate(idx))
    }

    /// Mark slot `idx` (already taken off a free list by the caller) live.
    pub(crate) fn activate(&self, idx: u32) -> (Id<K>, &T) {
        let slot = &self.slots[idx as usize];
        let generation = slot.generation.fetch_add(1, Ordering::SeqCst) + 1;
        debug_assert!(generation % 2 == 1, "slot {idx} activated twice");
        (Id::new(idx, generation), &slot.obj)
    }

    /// Free `id`'s slot: its generation moves on and every copy of the id goes stale.
    #[track_caller]
    pub fn free(&self, id: Id<K>) {
        if self.retire(id) {
            self.free.lock().push(id.idx);
        }
    }

    /// Bump the generation without returning the slot to the observer free list (for arenas
    /// whose free list is modelled kernel state, like the page allocator's). Returns false and
    /// reports a double free if `id` is not live.
    #[track_caller]
    pub(crate) fn retire(&self, id: Id<K>) -> bool {
        let slot = &self.slots[id.idx as usize];
        if slot
            .generation
            .compare_exchange(
                id.generation,
                id.generation + 1,
                Ordering::SeqCst,
                Ordering::SeqCst,
            )
            .is_err()
        {
            check::violation(
                Oracle::StaleId,
                format!("double free of {id} (gen {})", id.generation),
            );
            return false;
        }
        true
    }

    /// Every slot free again, in the order `new` hands them out, its object reset by `reset`
    /// (slot index, object); used by `World::renew`. Every slot's generation moves on to one
    /// common even (freed) value above every generation the arena has used: never back, so
    /// every id handed out before stays stale; and common, so that the ids handed out next
    /// differ from a new arena's only by that offset, and compare among themselves as they
    /// would there. Refused (false, nothing changed) once generations near the top of their
    /// range.
    pub(crate) fn renew(&mut self, mut reset: impl FnMut(u32, &mut T)) -> bool {
        let Some(next) = self.renewed_generation() else {
            return false;
        };
        for (i, slot) in self.slots.iter_mut().enumerate() {
            *slot.generation.get_mut() = next;
            reset(i as u32, &mut slot.obj);
        }
        let free = self.free.get_mut();
        free.clear();
        free.extend((0..self.slots.len() as u32).rev());
        true
    }

    /// The common generation [`Self::renew`] would give every slot, if there is room for it.
    pub(crate) fn renewed_generation(&mut self) -> Option<u32> {
        let top = self
            .slots
            .iter_mut()
            .map(|s| *s.generation.get_mut())
            .max()
            .unwrap_or(0);
        let next = (top + 2) & !1;
        (next < u32::MAX / 2).then_some(next)
    }

    /// Is `id` live?
    pub fn is_live(&self, id: Id<K>) -> bool {
        (id.idx as usize) < self.slots.len()
            && self.slots[id.idx as usize]
                .generation
                .load(Ordering::SeqCst)
                == id.generation
    }

    /// The object `id` names. A stale id is reported as a use-after-free, and the slot (type
    /// stable memory) is returned anyway, as the kernel would read freed slab memory.
    #[track_caller]
    pub fn get(&self, id: Id<K>) -> &T {
        if !self.is_live(id) {
            check::violation(
                Oracle::StaleId,
                format!("use after free: {id} (gen {}) is stale", id.generation),
            );
        }
        &self.slots[id.idx as usize].obj
    }

    /// The slot's object without a liveness check: for readers that re-validate as the kernel
    /// does (typesafe-by-RCU lookups).
    pub fn slot(&self, idx: u32) -> &T {
        &self.slots[idx as usize].obj
    }

    /// The live id of slot `idx`, if it is live.
    pub fn live_id(&self, idx: u32) -> Option<Id<K>> {
        let generation = self.slots[idx as usize].generation.load(Ordering::SeqCst);
        (generation % 2 == 1).then(|| Id::new(idx, generation))
    }

    /// Every live id (a snapshot; for quiescent checks).
    pub fn live(&self) -> Vec<Id<K>> {
        (0..self.slots.len() as u32)
            .filter_map(|i| self.live_id(i))
            .collect()
    }
}
