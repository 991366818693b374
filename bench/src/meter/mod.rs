//! The capacity meter: an HTTP proxy in front of DynamoDB Local that the benchmark points its SDK
//! client at ([`Meter::start`], [`Meter::endpoint`]). It records the write and read units every
//! item operation consumes, per partition key, per second, under the phase the scenario named
//! last ([`Meter::phase`]), and projects each phase onto AWS: the hottest partition at 1,000
//! WCU/s and 3,000 RCU/s, or the table's units at its throughput ([`Throughput`]), whichever is
//! longer.
//!
//! Where the units come from, by operation:
//!
//! | operation | units | charged to |
//! |---|---|---|
//! | PutItem, UpdateItem, DeleteItem | Local's `ConsumedCapacity` (`Table`, and `GSI1` for the index) | the item's `PK`; the index units to `GSI1 <GSI1PK>` of the put item or the value the update sets (else "key not in the request") |
//! | GetItem | Local's figure | the key's `PK` |
//! | Query | Local's figure (items' sizes summed, then rounded up to 4 KB; ½ unless consistent) | the partition `KeyConditionExpression` sets equal to `PK` (`GSI1 <value>` with `IndexName: GSI1`) |
//! | Scan | Local's figure | `(scan)` |
//! | BatchWriteItem | Local's per-table total, split by the rule: a put ⌈size / 1 KB⌉, a delete 1 (its size is not in the request) | each item's `PK` (and `GSI1PK`) |
//! | BatchGetItem | the rule per key: ⌈size / 4 KB⌉ of each item returned, 1 for a key not found (Local charges it nothing, AWS the minimum); ½ unless `ConsistentRead`; Local's per-table total split that way when larger | each key's `PK` |
//! | TransactWriteItems | the rule ×2 per action: a put by its size, an update, delete or condition check at 1; Local's per-table total split that way when larger (Local rounds the summed sizes once, AWS each item) | each action's `PK` |
//! | TransactGetItems | Local's per-table total, split by the rule ×2 (a missing item at 1) | each get's `PK` |
//! | a refused conditional write | no figure comes back: the rule (a put by its size, else 1) — AWS charges it | the item's `PK` |
//! | a cancelled transaction | no figure: the rule ×2 for every action — AWS charges it | each action's `PK` |
//!
//! A split is exact whenever Local's total agrees with the rules (it does for single items and
//! batches: a 3 KB put costs 3, a batch rounds each item; not for transactions, see above). The meter asks for `ReturnConsumedCapacity: INDEXES` on every item
//! operation and gives the response back in the shape the caller asked for (no figure, or the
//! totals without the split), so the caller sees what it would have seen without the meter. Other operations (CreateTable, …) pass
//! through unbilled. Local never throttles or leaves batch items unprocessed, so neither is
//! handled.

mod charges;
pub mod check;
mod ledger;
mod proxy;
mod units;

use std::sync::{Arc, Mutex};

use ledger::Ledger;
pub use ledger::{PhaseReport, Throughput, Units};

/// A running meter; the proxy stops when it is dropped.
pub struct Meter {
    endpoint: String,
    ledger: Arc<Mutex<Ledger>>,
    server: tokio::task::JoinHandle<()>,
}

impl Meter {
    /// A proxy on 127.0.0.1 (a free port) in front of `upstream` (`http://127.0.0.1:<port>`).
    pub async fn start(upstream: &str) -> Meter {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free local port for the meter");
        let endpoint = format!(
            "http://{}",
            listener.local_addr().expect("the meter's address")
        );
        let ledger = Arc::new(Mutex::new(Ledger::new()));
        let server = tokio::spawn(proxy::serve(listener, upstream.to_string(), ledger.clone()));
        Meter {
            endpoint,
            ledger,
            server,
        }
    }

    /// Where the SDK client should send its requests.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Bills the requests from now on to `name` (the previous phase is closed).
    /// Returns the closed phase's report, when it saw a request.
    pub fn phase(&self, name: &str) -> Option<PhaseReport> {
        self.ledger().phase(name)
    }

    /// The current phase's units so far.
    pub fn units(&self) -> Units {
        self.ledger().units()
    }

    /// Units charged to partition `key` in the current phase so far.
    pub fn key_units(&self, key: &str) -> Units {
        self.ledger().key_units(key)
    }

    /// The report of the current phase, or of the last finished one called `name`.
    pub fn report(&self, name: &str) -> Option<PhaseReport> {
        self.ledger().report(name)
    }

    /// Every phase that saw a request, in order.
    pub fn reports(&self) -> Vec<PhaseReport> {
        self.ledger().reports()
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().expect("the meter's ledger")
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        self.server.abort();
    }
}
