//! Every schedule's entry, in a slab addressed by slot (the due-time heap
//! holds slots, not keys), with a map from `tenant/name` to slot.

use std::collections::HashMap;

use super::entry::{Entry, Key};

#[derive(Default)]
pub struct Index {
    slots: Vec<Option<Entry>>,
    free: Vec<u32>,
    by_key: HashMap<Key, u32>,
}

impl Index {
    /// Room for `n` schedules up front: growing a table of a million
    /// doubles it, and for a moment holds both.
    pub fn reserve(&mut self, n: usize) {
        self.slots.reserve(n);
        self.by_key.reserve(n);
    }

    pub fn insert(&mut self, entry: Entry) -> u32 {
        if let Some(old) = self.by_key.get(&entry.key).copied() {
            let key = entry.key.clone();
            self.slots[old as usize] = Some(entry);
            self.by_key.insert(key, old);
            return old;
        }
        let key = entry.key.clone();
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(entry);
                slot
            }
            None => {
                self.slots.push(Some(entry));
                (self.slots.len() - 1) as u32
            }
        };
        self.by_key.insert(key, slot);
        slot
    }

    pub fn remove(&mut self, key: &Key) -> Option<Entry> {
        let slot = self.by_key.remove(key)?;
        self.free.push(slot);
        self.slots[slot as usize].take()
    }

    pub fn slot_of(&self, key: &Key) -> Option<u32> {
        self.by_key.get(key).copied()
    }

    pub fn get(&self, key: &Key) -> Option<&Entry> {
        self.at(self.slot_of(key)?)
    }

    pub fn get_mut(&mut self, key: &Key) -> Option<&mut Entry> {
        let slot = self.slot_of(key)?;
        self.at_mut(slot)
    }

    pub fn at(&self, slot: u32) -> Option<&Entry> {
        self.slots.get(slot as usize)?.as_ref()
    }

    pub fn at_mut(&mut self, slot: u32) -> Option<&mut Entry> {
        self.slots.get_mut(slot as usize)?.as_mut()
    }

    pub fn contains_key(&self, key: &Key) -> bool {
        self.by_key.contains_key(key)
    }
}
