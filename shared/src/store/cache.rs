//! What a warm container keeps of the table between requests, and for how long. Every cache is a
//! type with the few methods its reads need; the store reads through them (`Store::drop`,
//! `Store::queue_line`, `Store::draw_group`, `Store::order_at`), so no use case holds a lock.
//!
//! How long reads are reused (and refusal counts wait for their batch, `store::counts`) is one
//! setting, `Caching`, given when the `App` is built: tests that read what they just wrote use
//! `Caching::NONE`, and nothing can rebuild an `App` past it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::model::drop::{DropSpec, UnitCounts};
use crate::model::queue::{DrawGroup, OrderChunk, QueueState, Section};

/// Drawn groups and arrival pages a container keeps for admissions (each a few thousand positions
/// at a million members): the controller walks the order forward, so a few suffice.
const CHUNK_CACHE: usize = 16;
/// Drawn groups' records a container keeps for ticket views (a few hundred bytes each; two
/// sections of 256 groups per drop).
const GROUP_CACHE: usize = 4_096;

/// How long a container reuses what it read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caching {
    /// A drop: the herd's claims never make the drop's one item a hot key, and an edit or a
    /// pause reaches every container within it (the shards, which every claim writes, carry
    /// what must hold at once).
    pub drop_ttl: Duration,
    /// A queue's state and stock, for views: the crowd's polls cost one read per container per
    /// second, not one per poll.
    pub view_ttl: Duration,
    /// How long a container adds up refusal counts before one write adds them to the drop's
    /// counters (`store::counts`): refusals then cost no write of their own.
    pub count_batch: Duration,
}

impl Caching {
    /// A Lambda container's: a second of each.
    pub const CONTAINER: Self = Self {
        drop_ttl: Duration::from_secs(1),
        view_ttl: Duration::from_secs(1),
        count_batch: Duration::from_secs(1),
    };
    /// Every read is fresh, every count written at once.
    pub const NONE: Self = Self {
        drop_ttl: Duration::ZERO,
        view_ttl: Duration::ZERO,
        count_batch: Duration::ZERO,
    };
}

impl Default for Caching {
    fn default() -> Self {
        Self::CONTAINER
    }
}

/// Entries that are reused while younger than a time to live.
#[derive(Debug)]
struct Timed<T> {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, Arc<T>)>>,
}

impl<T> Timed<T> {
    fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::default(),
        }
    }

    fn get(&self, key: &str) -> Option<Arc<T>> {
        self.entries
            .lock()
            .expect("cache poisoned")
            .get(key)
            .filter(|(read_at, _)| read_at.elapsed() < self.ttl)
            .map(|(_, value)| value.clone())
    }

    fn insert(&self, key: &str, value: Arc<T>) {
        self.entries
            .lock()
            .expect("cache poisoned")
            .insert(key.to_string(), (Instant::now(), value));
    }

    fn remove(&self, key: &str) {
        self.entries.lock().expect("cache poisoned").remove(key);
    }
}

/// The drops this container read.
#[derive(Debug)]
pub struct DropCache(Timed<DropSpec>);

impl DropCache {
    pub fn new(ttl: Duration) -> Self {
        Self(Timed::new(ttl))
    }

    pub fn get(&self, drop_id: &str) -> Option<Arc<DropSpec>> {
        self.0.get(drop_id)
    }

    pub fn insert(&self, drop: Arc<DropSpec>) {
        self.0.insert(&drop.id.clone(), drop);
    }

    /// After this container changed the drop: its next read is fresh.
    pub fn forget(&self, drop_id: &str) {
        self.0.remove(drop_id);
    }
}

/// A queue's state and its drop's stock, as of one read: what the status document and the
/// ticket views are built from.
#[derive(Debug, Clone)]
pub struct QueueLine {
    pub state: QueueState,
    pub counts: UnitCounts,
    /// Tickets made, over all stripes.
    pub joins: u64,
}

/// What a container keeps of queues: lines for a moment; what the draw fixed (its groups' records,
/// the order, arrival pages), which never changes once written, up to a bound.
#[derive(Debug)]
pub struct QueueCache {
    lines: Timed<QueueLine>,
    groups: Bounded<(String, Section, u8), DrawGroup>,
    sections: Bounded<(String, Section), Vec<DrawGroup>>,
    chunks: Bounded<(String, u64), OrderChunk>,
}

impl QueueCache {
    pub fn new(view_ttl: Duration) -> Self {
        Self {
            lines: Timed::new(view_ttl),
            groups: Bounded::new(GROUP_CACHE),
            sections: Bounded::new(CHUNK_CACHE),
            chunks: Bounded::new(CHUNK_CACHE),
        }
    }

    pub fn line(&self, drop_id: &str) -> Option<Arc<QueueLine>> {
        self.lines.get(drop_id)
    }

    pub fn insert_line(&self, drop_id: &str, line: Arc<QueueLine>) {
        self.lines.insert(drop_id, line);
    }

    /// A group's record, once its first position is fixed.
    pub fn group(&self, drop_id: &str, section: Section, group: u8) -> Option<Arc<DrawGroup>> {
        self.groups.get(&(drop_id.to_string(), section, group))
    }

    pub fn insert_group(&self, drop_id: &str, group: Arc<DrawGroup>) {
        self.groups
            .insert((drop_id.to_string(), group.section, group.group), group);
    }

    /// Every group of a drawn section, in order.
    pub fn section(&self, drop_id: &str, section: Section) -> Option<Arc<Vec<DrawGroup>>> {
        self.sections.get(&(drop_id.to_string(), section))
    }

    pub fn insert_section(&self, drop_id: &str, section: Section, groups: Arc<Vec<DrawGroup>>) {
        self.sections.insert((drop_id.to_string(), section), groups);
    }

    /// The cached stretch of `drop_id`'s order holding `position`.
    pub fn chunk_at(&self, drop_id: &str, position: u64) -> Option<Arc<OrderChunk>> {
        self.chunks
            .find(|(drop, _), chunk| drop == drop_id && chunk.at(position).is_some())
    }

    pub fn insert_chunk(&self, drop_id: &str, chunk: Arc<OrderChunk>) {
        self.chunks
            .insert((drop_id.to_string(), chunk.start), chunk);
    }
}

/// Values that never change once written, kept up to `capacity` (then started afresh).
#[derive(Debug)]
struct Bounded<K, V> {
    capacity: usize,
    entries: Mutex<HashMap<K, Arc<V>>>,
}

impl<K: std::hash::Hash + Eq, V> Bounded<K, V> {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Mutex::default(),
        }
    }

    fn get(&self, key: &K) -> Option<Arc<V>> {
        self.entries
            .lock()
            .expect("cache poisoned")
            .get(key)
            .cloned()
    }

    fn find(&self, wanted: impl Fn(&K, &V) -> bool) -> Option<Arc<V>> {
        self.entries
            .lock()
            .expect("cache poisoned")
            .iter()
            .find(|(key, value)| wanted(key, value))
            .map(|(_, value)| value.clone())
    }

    fn insert(&self, key: K, value: Arc<V>) {
        let mut entries = self.entries.lock().expect("cache poisoned");
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(key, value);
    }
}

/// Per shard, the earliest instant at which a live hold could be overdue.
///
/// Holds of one drop all last `hold_seconds`, so a hold taken later expires later: once a query
/// has seen the earliest live hold of a shard, nothing in that shard can be overdue before its
/// expiry. Claims that find a drop empty trust this and skip the index query; the sweeper never
/// does, so a hint can delay an inline release, never lose one.
#[derive(Debug, Default)]
pub struct ExpiryHints(Mutex<HashMap<(String, u32), i64>>);

impl ExpiryHints {
    pub fn next_possible_expiry(&self, drop_id: &str, shard: u32) -> Option<i64> {
        self.0
            .lock()
            .expect("hints poisoned")
            .get(&(drop_id.to_string(), shard))
            .copied()
    }

    pub fn record(&self, drop_id: &str, shard: u32, at_ms: i64) {
        self.0
            .lock()
            .expect("hints poisoned")
            .insert((drop_id.to_string(), shard), at_ms);
    }
}

/// Counts of one drop not yet written.
#[derive(Debug)]
struct Batch {
    since: Instant,
    counts: HashMap<&'static str, u64>,
}

/// This container's counts waiting for their batch's write.
#[derive(Debug)]
pub struct PendingCounts {
    window: Duration,
    batches: Mutex<HashMap<String, Batch>>,
}

impl PendingCounts {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            batches: Mutex::default(),
        }
    }

    /// Adds one to `counter` of `drop_id`, and takes out every batch (of any drop) that is due.
    pub(super) fn add(
        &self,
        drop_id: &str,
        counter: &'static str,
    ) -> Vec<(String, HashMap<&'static str, u64>)> {
        let mut batches = self.batches.lock().expect("pending counts poisoned");
        let batch = batches.entry(drop_id.to_string()).or_insert_with(|| Batch {
            since: Instant::now(),
            counts: HashMap::new(),
        });
        *batch.counts.entry(counter).or_default() += 1;
        let due: Vec<String> = batches
            .iter()
            .filter(|(_, batch)| batch.since.elapsed() >= self.window)
            .map(|(drop_id, _)| drop_id.clone())
            .collect();
        due.into_iter()
            .filter_map(|drop_id| {
                let batch = batches.remove(&drop_id)?;
                Some((drop_id, batch.counts))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_taken_once_its_first_count_is_a_window_old() {
        let pending = PendingCounts::new(Duration::from_millis(50));
        assert!(pending.add("d1", "claim_admission_invalid").is_empty());
        assert!(pending.add("d1", "claim_admission_invalid").is_empty());
        assert!(pending.add("d2", "claim_admission_missing").is_empty());
        std::thread::sleep(Duration::from_millis(60));
        let mut due = pending.add("d1", "claim_admission_missing");
        due.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            due,
            [
                (
                    "d1".to_string(),
                    HashMap::from([
                        ("claim_admission_invalid", 2),
                        ("claim_admission_missing", 1)
                    ])
                ),
                (
                    "d2".to_string(),
                    HashMap::from([("claim_admission_missing", 1)])
                ),
            ]
        );
        assert!(
            pending.add("d1", "claim_admission_invalid").is_empty(),
            "a new batch"
        );

        let at_once = PendingCounts::new(Duration::ZERO);
        assert_eq!(
            at_once.add("d1", "claim_rate_limited"),
            [("d1".to_string(), HashMap::from([("claim_rate_limited", 1)]))]
        );
    }
}
