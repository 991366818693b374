//! What a warm container keeps of the table between requests, and for how long. Every cache is a
//! type with the few methods its reads need; the store reads through them (`Store::drop`,
//! `Store::queue_line`, `Store::order_index`, `Store::chunk_at`), so no use case holds a lock.
//!
//! How long reads are reused (and refusal counts wait for their batch, `store::counts`) is one
//! setting, `Caching`, given when the `App` is built: tests that read what they just wrote use
//! `Caching::NONE`, and nothing can rebuild an `App` past it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::model::drop::{DropSpec, UnitCounts};
use crate::model::queue::{OrderChunk, OrderIndex, QueueState};

/// Order chunks a container keeps (each at most 1,000 positions).
const CHUNK_CACHE: usize = 64;

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

/// What a container keeps of queues: lines for a moment; the order's index and chunks, which
/// never change once written, until the cache is full.
#[derive(Debug)]
pub struct QueueCache {
    lines: Timed<QueueLine>,
    indexes: Mutex<HashMap<String, Arc<OrderIndex>>>,
    chunks: Mutex<HashMap<(String, u64), Arc<OrderChunk>>>,
}

impl QueueCache {
    pub fn new(view_ttl: Duration) -> Self {
        Self {
            lines: Timed::new(view_ttl),
            indexes: Mutex::default(),
            chunks: Mutex::default(),
        }
    }

    pub fn line(&self, drop_id: &str) -> Option<Arc<QueueLine>> {
        self.lines.get(drop_id)
    }

    pub fn insert_line(&self, drop_id: &str, line: Arc<QueueLine>) {
        self.lines.insert(drop_id, line);
    }

    pub fn index(&self, drop_id: &str) -> Option<Arc<OrderIndex>> {
        self.indexes
            .lock()
            .expect("cache poisoned")
            .get(drop_id)
            .cloned()
    }

    pub fn insert_index(&self, drop_id: &str, index: Arc<OrderIndex>) {
        self.indexes
            .lock()
            .expect("cache poisoned")
            .insert(drop_id.to_string(), index);
    }

    /// The cached chunk of `drop_id` holding `position`.
    pub fn chunk_at(&self, drop_id: &str, position: u64) -> Option<Arc<OrderChunk>> {
        self.chunks
            .lock()
            .expect("cache poisoned")
            .iter()
            .filter(|((drop, _), chunk)| drop == drop_id && chunk.at(position).is_some())
            .map(|(_, chunk)| chunk.clone())
            .next()
    }

    pub fn insert_chunk(&self, drop_id: &str, chunk: Arc<OrderChunk>) {
        let mut chunks = self.chunks.lock().expect("cache poisoned");
        if chunks.len() >= CHUNK_CACHE {
            chunks.clear();
        }
        chunks.insert((drop_id.to_string(), chunk.start), chunk);
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
