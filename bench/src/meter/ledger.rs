//! Units per phase, per partition key, per second, and what they project to on AWS.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::charges::Bill;

/// One partition's limits (AWS best practices, "partition key design").
pub const PARTITION_WRITES_PER_SECOND: f64 = 1_000.0;
pub const PARTITION_READS_PER_SECOND: f64 = 3_000.0;

/// Key families a phase's line names.
const FAMILIES_SHOWN: usize = 4;

/// A table's throughput, units per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throughput {
    pub writes_per_second: f64,
    pub reads_per_second: f64,
}

impl Throughput {
    /// A new on-demand table (DynamoDB Developer Guide, on-demand initial throughput).
    pub const NEW_ON_DEMAND: Self = Self {
        writes_per_second: 4_000.0,
        reads_per_second: 12_000.0,
    };
    /// Warmed (warm throughput) up to the default table quota of 40,000 units/s each way.
    pub const WARMED_TO_QUOTA: Self = Self {
        writes_per_second: 40_000.0,
        reads_per_second: 40_000.0,
    };
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Units {
    pub write: f64,
    pub read: f64,
}

impl Units {
    fn add(&mut self, other: Units) {
        self.write += other.write;
        self.read += other.read;
    }

    /// Seconds one partition needs to serve these units at its limits.
    pub fn partition_seconds(self) -> f64 {
        (self.write / PARTITION_WRITES_PER_SECOND).max(self.read / PARTITION_READS_PER_SECOND)
    }
}

/// A key's (or the whole table's) load: the total and the busiest second.
#[derive(Debug, Default, Clone)]
struct Load {
    total: Units,
    second: u64,
    this_second: Units,
    peak: Units,
}

impl Load {
    /// Adds `units` in `second` (counted from the meter's start; a late record of an earlier
    /// second counts in the current one).
    fn add(&mut self, second: u64, units: Units) {
        self.total.add(units);
        if second > self.second {
            self.second = second;
            self.this_second = Units::default();
        }
        self.this_second.add(units);
        self.peak.write = self.peak.write.max(self.this_second.write);
        self.peak.read = self.peak.read.max(self.this_second.read);
    }
}

/// The key a phase leaned on hardest: the most partition-seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct HotKey {
    pub key: String,
    pub total: Units,
    /// Its busiest second here (locally; AWS would cap it at the partition's limits).
    pub peak: Units,
}

/// What one phase consumed.
#[derive(Debug, Clone)]
pub struct PhaseReport {
    pub name: String,
    pub wall: Duration,
    pub requests: u64,
    /// Requests whose units are the rules' estimate (Local returned no figure).
    pub estimated: u64,
    pub keys: usize,
    pub total: Units,
    /// The table's busiest second here.
    pub peak: Units,
    pub hottest: Option<HotKey>,
    /// Units by key family (the key up to its first `#`: `TICKET`, `QDRAW`, …), most first.
    pub families: Vec<(String, Units)>,
}

impl PhaseReport {
    /// Seconds this phase's units need on AWS at least: the hottest partition at its limits, or
    /// the table's units at `throughput`, whichever is longer.
    pub fn projected_seconds(&self, throughput: Throughput) -> f64 {
        let partition = self
            .hottest
            .as_ref()
            .map_or(0.0, |hot| hot.total.partition_seconds());
        partition
            .max(self.total.write / throughput.writes_per_second)
            .max(self.total.read / throughput.reads_per_second)
    }

    /// One Markdown list item.
    pub fn line(&self) -> String {
        let hottest = self.hottest.as_ref().map_or("none".to_string(), |hot| {
            format!(
                "`{}` {:.0} WCU + {:.0} RCU (peak {:.0} WCU/s, {:.0} RCU/s locally)",
                hot.key, hot.total.write, hot.total.read, hot.peak.write, hot.peak.read
            )
        });
        let families = self
            .families
            .iter()
            .take(FAMILIES_SHOWN)
            .map(|(family, units)| {
                format!("{family} {:.0} WCU + {:.0} RCU", units.write, units.read)
            })
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "- **{}**: {} requests in {:.1} s ({} estimated), {:.0} WCU + {:.0} RCU over {} keys (by family: {families}; the table's busiest second locally {:.0} WCU, {:.0} RCU); hottest key {hottest}; projected on AWS **{:.1} s** on a new on-demand table, {:.1} s warmed to 40,000 units/s",
            self.name,
            self.requests,
            self.wall.as_secs_f64(),
            self.estimated,
            self.total.write,
            self.total.read,
            self.keys,
            self.peak.write,
            self.peak.read,
            self.projected_seconds(Throughput::NEW_ON_DEMAND),
            self.projected_seconds(Throughput::WARMED_TO_QUOTA),
        )
    }
}

struct Phase {
    name: String,
    started: Instant,
    requests: u64,
    estimated: u64,
    table: Load,
    keys: HashMap<String, Load>,
}

impl Phase {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            started: Instant::now(),
            requests: 0,
            estimated: 0,
            table: Load::default(),
            keys: HashMap::new(),
        }
    }

    fn report(&self) -> PhaseReport {
        let hottest = self
            .keys
            .iter()
            .max_by(|a, b| {
                a.1.total
                    .partition_seconds()
                    .total_cmp(&b.1.total.partition_seconds())
            })
            .map(|(key, load)| HotKey {
                key: key.clone(),
                total: load.total,
                peak: load.peak,
            });
        PhaseReport {
            name: self.name.clone(),
            wall: self.started.elapsed(),
            requests: self.requests,
            estimated: self.estimated,
            keys: self.keys.len(),
            total: self.table.total,
            peak: self.table.peak,
            hottest,
            families: self.families(),
        }
    }

    fn families(&self) -> Vec<(String, Units)> {
        let mut families: HashMap<&str, Units> = HashMap::new();
        for (key, load) in &self.keys {
            let family = key.split('#').next().unwrap_or(key);
            families.entry(family).or_default().add(load.total);
        }
        let mut families: Vec<(String, Units)> = families
            .into_iter()
            .map(|(family, units)| (family.to_string(), units))
            .collect();
        families.sort_by(|a, b| (b.1.write + b.1.read).total_cmp(&(a.1.write + a.1.read)));
        families
    }
}

/// Every phase so far: the finished ones as reports (their per-key tables are dropped, so a
/// million-key seed does not stay resident), the current one in full.
pub struct Ledger {
    origin: Instant,
    finished: Vec<PhaseReport>,
    current: Phase,
}

impl Ledger {
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
            finished: Vec::new(),
            current: Phase::new("start"),
        }
    }

    pub fn record(&mut self, bill: &Bill) {
        let second = self.origin.elapsed().as_secs();
        let phase = &mut self.current;
        phase.requests += 1;
        phase.estimated += u64::from(bill.estimated);
        for charge in &bill.charges {
            let units = Units {
                write: charge.write,
                read: charge.read,
            };
            phase.table.add(second, units);
            match phase.keys.get_mut(&charge.key) {
                Some(load) => load.add(second, units),
                None => {
                    let mut load = Load::default();
                    load.add(second, units);
                    phase.keys.insert(charge.key.clone(), load);
                }
            }
        }
    }

    /// Closes the current phase and starts `name`; returns the closed phase's report when it
    /// saw a request.
    pub fn phase(&mut self, name: &str) -> Option<PhaseReport> {
        let previous = std::mem::replace(&mut self.current, Phase::new(name));
        if previous.requests == 0 {
            return None;
        }
        let report = previous.report();
        self.finished.push(report.clone());
        Some(report)
    }

    /// The current phase's units so far.
    pub fn units(&self) -> Units {
        self.current.table.total
    }

    /// Units charged to `key` in the current phase so far.
    pub fn key_units(&self, key: &str) -> Units {
        self.current
            .keys
            .get(key)
            .map_or(Units::default(), |load| load.total)
    }

    /// One phase's report: the current one, or the last finished one of that name.
    pub fn report(&self, name: &str) -> Option<PhaseReport> {
        if self.current.name == name {
            return Some(self.current.report());
        }
        self.finished.iter().rev().find(|r| r.name == name).cloned()
    }

    pub fn reports(&self) -> Vec<PhaseReport> {
        let mut reports = self.finished.clone();
        if self.current.requests > 0 {
            reports.push(self.current.report());
        }
        reports
    }
}

#[cfg(test)]
mod tests {
    use super::super::charges::Charge;
    use super::*;

    fn bill(key: &str, write: f64, read: f64) -> Bill {
        Bill {
            charges: vec![Charge {
                key: key.into(),
                write,
                read,
            }],
            estimated: false,
        }
    }

    #[test]
    fn the_projection_is_the_hottest_partition_or_the_table_whichever_is_longer() {
        let mut ledger = Ledger::new();
        ledger.phase("draw");
        // One key with 70,000 write units: 70 s at a partition's 1,000/s.
        ledger.record(&bill("ORDER", 70_000.0, 0.0));
        ledger.record(&bill("other", 10_000.0, 3_000.0));
        let report = ledger.report("draw").unwrap();
        assert_eq!(report.hottest.as_ref().unwrap().key, "ORDER");
        assert_eq!(report.projected_seconds(Throughput::WARMED_TO_QUOTA), 70.0);
        // 80,000 units at a new table's 4,000/s: 20 s, under the partition's 70 s.
        assert_eq!(report.projected_seconds(Throughput::NEW_ON_DEMAND), 70.0);
        let spread = Throughput {
            writes_per_second: 1_000.0,
            reads_per_second: 1_000.0,
        };
        assert_eq!(report.projected_seconds(spread), 80.0);
        assert_eq!(report.families[0].0, "ORDER");
    }

    #[test]
    fn a_finished_phase_keeps_its_report() {
        let mut ledger = Ledger::new();
        ledger.phase("seed");
        ledger.record(&bill("a", 2.0, 0.0));
        ledger.phase("draw");
        ledger.record(&bill("b", 0.0, 3.0));
        assert_eq!(ledger.report("seed").unwrap().total.write, 2.0);
        assert_eq!(ledger.units().read, 3.0);
        assert_eq!(ledger.reports().len(), 2);
    }
}
