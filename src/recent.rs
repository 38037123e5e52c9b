//! A bounded memory of recent keys: the owner task remembers closed and unsampled invocations for
//! the reports that may still follow them, the proxy the span identities its response transforms
//! need; neither may grow with the number of invocations a long-lived environment serves. When
//! full, the oldest entry is forgotten.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

use foldhash::fast::RandomState;

/// A map that keeps at most `capacity` entries, forgetting the oldest first.
#[derive(Debug, Clone)]
pub struct RecentMap<K, V> {
    capacity: usize,
    entries: HashMap<K, V, RandomState>,
    /// The keys of `entries`, oldest first.
    order: VecDeque<K>,
}

impl<K: Clone + Eq + Hash, V> RecentMap<K, V> {
    /// An empty map that keeps at most `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: HashMap::default(),
            order: VecDeque::new(),
        }
    }

    /// Remembers `value` under `key` as the newest entry, forgetting the oldest one when full. A key
    /// already present gets the new value and becomes the newest.
    pub fn insert(&mut self, key: K, value: V) {
        if self.entries.insert(key.clone(), value).is_some() {
            self.forget_order(&key);
        }
        self.order.push_back(key);
        while self.order.len() > self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.entries.remove(&oldest);
            }
        }
    }

    /// Whether `key` is remembered.
    pub fn contains_key(&self, key: &K) -> bool {
        self.entries.contains_key(key)
    }

    /// The value remembered under `key`, to update in place (its age does not change).
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.entries.get_mut(key)
    }

    /// Forgets `key` and returns its value.
    pub fn take(&mut self, key: &K) -> Option<V> {
        let value = self.entries.remove(key)?;
        self.forget_order(key);
        Some(value)
    }

    fn forget_order(&mut self, key: &K) {
        if let Some(at) = self.order.iter().position(|k| k == key) {
            self.order.remove(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forgets_the_oldest_when_full() {
        let mut recent = RecentMap::new(2);
        recent.insert("a", 1);
        recent.insert("b", 2);
        recent.insert("c", 3);
        assert!(!recent.contains_key(&"a"));
        assert_eq!(recent.take(&"b"), Some(2));
        assert_eq!(recent.take(&"c"), Some(3));
    }

    #[test]
    fn inserting_a_present_key_replaces_it_and_makes_it_the_newest() {
        let mut recent = RecentMap::new(2);
        recent.insert("a", 1);
        recent.insert("b", 2);
        recent.insert("a", 10);
        recent.insert("c", 3);
        assert!(!recent.contains_key(&"b"), "b was the oldest");
        assert_eq!(recent.take(&"a"), Some(10));
        assert_eq!(recent.take(&"c"), Some(3));
    }

    #[test]
    fn take_forgets_the_key_and_frees_its_room() {
        let mut recent = RecentMap::new(2);
        recent.insert("a", 1);
        recent.insert("b", 2);
        assert_eq!(recent.take(&"a"), Some(1));
        assert_eq!(recent.take(&"a"), None);
        recent.insert("c", 3);
        assert!(
            recent.contains_key(&"b"),
            "taking made room: nothing forgotten"
        );
        assert!(recent.contains_key(&"c"));
    }

    #[test]
    fn get_mut_updates_in_place_without_refreshing_the_age() {
        let mut recent = RecentMap::new(2);
        recent.insert("a", 1);
        recent.insert("b", 2);
        if let Some(value) = recent.get_mut(&"a") {
            *value = 5;
        }
        assert_eq!(recent.get_mut(&"a"), Some(&mut 5));
        recent.insert("c", 3);
        assert!(!recent.contains_key(&"a"), "still the oldest");
        assert_eq!(recent.take(&"b"), Some(2));
    }

    #[test]
    fn zero_capacity_remembers_nothing() {
        let mut recent = RecentMap::new(0);
        recent.insert("a", ());
        assert!(!recent.contains_key(&"a"));
    }
}
