//! The queue's decisions as pure functions: how many tickets to admit, how long the wait is, when
//! to ask again, and whether stock can still reach a ticket. The controller and the ticket view
//! feed them what they read; nothing here touches the table.

use serde::Serialize;

/// At least one and at most this many admitted-but-unclaimed tickets per available unit.
pub const MIN_FACTOR: f64 = 1.0;
pub const MAX_FACTOR: f64 = 1.5;
/// Admission history kept for the rate and the ETA.
pub const RATE_WINDOW_MS: i64 = 5 * 60 * 1000;
const BUCKET_MS: i64 = 10 * 1000;

/// What the controller knows when it decides how many to admit.
#[derive(Debug, Clone, Copy, Default)]
pub struct AdmissionInputs {
    /// Units not held or sold.
    pub available: i64,
    /// Admitted tickets that have neither claimed nor expired.
    pub outstanding: u64,
    /// Positions assigned but not yet admitted.
    pub waiting: u64,
    /// Of the admissions that ended, the share that expired unused (`None` before any ended).
    pub no_show_rate: Option<f64>,
    /// Admitted during the last minute, against `admit_per_minute`.
    pub admitted_last_minute: u64,
    pub admit_per_minute: Option<u32>,
}

/// How many admissions per available unit to keep open: more when shoppers often do not show
/// up, so the stock still sells at the pace it can.
pub fn admission_factor(no_show_rate: Option<f64>) -> f64 {
    match no_show_rate {
        Some(rate) if rate < 1.0 => (1.0 / (1.0 - rate)).clamp(MIN_FACTOR, MAX_FACTOR),
        Some(_) => MAX_FACTOR,
        None => MIN_FACTOR,
    }
}

/// How many of the next positions to admit now.
pub fn to_admit(inputs: AdmissionInputs) -> u64 {
    if inputs.available <= 0 {
        return 0;
    }
    let target = (inputs.available as f64 * admission_factor(inputs.no_show_rate)).ceil() as u64;
    let mut admit = target
        .saturating_sub(inputs.outstanding)
        .min(inputs.waiting);
    if let Some(cap) = inputs.admit_per_minute {
        // Spread over the minute (the controller ticks every second), never more in any minute.
        let per_tick = u64::from(cap).div_ceil(60);
        admit = admit
            .min(per_tick)
            .min(u64::from(cap).saturating_sub(inputs.admitted_last_minute));
    }
    admit
}

/// A wait, in seconds: the median and the 90th percentile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Eta {
    pub p50: u64,
    pub p90: u64,
}

/// The wait of a ticket with `ahead` tickets before it, from the admission history
/// (`(at_ms, serving)` samples after each admission, oldest first). The p50 divides by the rate
/// of the last minute (or of as long as admissions have run, if less); the p90 by the slowest
/// fifth of its ten-second stretches (at least half the p50's rate). `None` before a rate is
/// measured.
pub fn eta(ahead: u64, samples: &[(i64, u64)], now_ms: i64) -> Option<Eta> {
    // The samples are stamped by the controller's clock and read on another container's, which
    // may lag: a sample cannot be from the future, so the clock is at least the latest one. Then
    // a measured rate (serving moved after `from`) means `from < now_ms`, so there is at least one
    // stretch to rank.
    let now_ms = now_ms.max(samples.last()?.0);
    let window_start = now_ms - RATE_WINDOW_MS.min(60_000);
    let serving_at = |t: i64| {
        samples
            .iter()
            .take_while(|(at, _)| *at <= t)
            .last()
            .map(|(_, serving)| *serving)
    };
    let first = samples.iter().find(|(at, _)| *at >= window_start)?;
    let from = window_start.max(first.0);
    let baseline = serving_at(from).unwrap_or(0);
    let latest = samples.last()?.1;
    let span_s = ((now_ms - from) as f64 / 1000.0).max(1.0);
    let rate = latest.saturating_sub(baseline) as f64 / span_s;
    if rate <= 0.0 {
        return None;
    }
    let mut stretches: Vec<f64> = Vec::new();
    let mut start = from;
    while start < now_ms {
        let end = (start + BUCKET_MS).min(now_ms);
        let moved = serving_at(end)
            .unwrap_or(baseline)
            .saturating_sub(serving_at(start).unwrap_or(baseline));
        stretches.push(moved as f64 / ((end - start) as f64 / 1000.0).max(1.0));
        start = end;
    }
    stretches.sort_by(f64::total_cmp);
    let slow = stretches[stretches.len() / 5].max(rate / 2.0);
    let wait = |rate: f64| ((ahead + 1) as f64 / rate).ceil() as u64;
    let p50 = wait(rate);
    Some(Eta {
        p50,
        p90: wait(slow).max(p50),
    })
}

/// Where a ticket stands, for deciding when it should ask again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Joined before the start: nothing moves until the draw.
    BeforeStart {
        ms_to_start: i64,
    },
    Waiting {
        ahead: u64,
        eta_p50: Option<u64>,
    },
    Admitted,
    /// Claimed, expired or closed: nothing more will happen.
    Settled,
}

/// The least time between two asks of a page that only watches (before the start, far from the
/// front, settled): at most four a minute, the request budget of docs/capacity.md.
pub const WATCHING_POLL_MS: u64 = 15_000;
/// Near the front (fewer than `NEAR_FRONT` ahead, or admission expected within a minute): the
/// shopper must learn of their admission within a few seconds.
pub const NEAR_POLL_MS: u64 = 2_000;
pub const NEAR_FRONT: u64 = 50;
/// The longest a page is asked to wait (it also bounds what a page accepts from the server).
pub const MAX_POLL_MS: u64 = 60_000;

/// When to poll again: at most four times a minute far from the front, every two seconds near
/// it, stretched by up to a quarter (`jitter` in 0..1) so a crowd does not poll in lockstep —
/// never shorter than the base, so the budget holds.
pub fn poll_after_ms(standing: Standing, jitter: f64) -> u64 {
    let base: u64 = match standing {
        Standing::BeforeStart { ms_to_start } => {
            (ms_to_start.max(0) as u64 / 2).clamp(WATCHING_POLL_MS, MAX_POLL_MS)
        }
        Standing::Waiting { ahead, .. } if ahead < NEAR_FRONT => NEAR_POLL_MS,
        Standing::Waiting {
            eta_p50: Some(seconds),
            ..
        } if seconds <= 60 => NEAR_POLL_MS,
        Standing::Waiting {
            eta_p50: Some(seconds),
            ..
        } => (seconds * 1000 / 4).clamp(WATCHING_POLL_MS, MAX_POLL_MS / 2),
        Standing::Waiting { .. } => WATCHING_POLL_MS,
        Standing::Admitted => 5_000,
        Standing::Settled => MAX_POLL_MS,
    };
    (base as f64 * (1.0 + 0.25 * jitter.clamp(0.0, 1.0))).round() as u64
}

/// Whether the tickets before this one (admitted and still able to claim, or waiting) already
/// outnumber the units left unsold: only returned units could reach it now.
pub fn beyond_stock(ahead_waiting: u64, outstanding: u64, available: i64, held: i64) -> bool {
    let unsold = (available + held).max(0) as u64;
    ahead_waiting + outstanding >= unsold
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admission_keeps_outstanding_near_stock_within_the_caps() {
        let base = AdmissionInputs {
            available: 100,
            outstanding: 0,
            waiting: 10_000,
            ..Default::default()
        };
        assert_eq!(to_admit(base), 100);
        assert_eq!(
            to_admit(AdmissionInputs {
                outstanding: 60,
                ..base
            }),
            40
        );
        assert_eq!(
            to_admit(AdmissionInputs {
                outstanding: 150,
                ..base
            }),
            0
        );
        assert_eq!(to_admit(AdmissionInputs { waiting: 7, ..base }), 7);
        assert_eq!(
            to_admit(AdmissionInputs {
                available: 0,
                ..base
            }),
            0
        );
        // Half the admissions went unused: admit up to the 1.5 cap.
        assert_eq!(
            to_admit(AdmissionInputs {
                no_show_rate: Some(0.5),
                ..base
            }),
            150
        );
        assert_eq!(
            to_admit(AdmissionInputs {
                no_show_rate: Some(0.2),
                ..base
            }),
            125
        );
        // admit_per_minute is spread over the minute's ticks and caps the last minute.
        assert_eq!(
            to_admit(AdmissionInputs {
                admit_per_minute: Some(600),
                ..base
            }),
            10
        );
        assert_eq!(
            to_admit(AdmissionInputs {
                admit_per_minute: Some(600),
                admitted_last_minute: 595,
                ..base
            }),
            5
        );
        for rate in [None, Some(0.0), Some(0.3), Some(0.99), Some(1.0)] {
            let factor = admission_factor(rate);
            assert!((MIN_FACTOR..=MAX_FACTOR).contains(&factor), "{rate:?}");
        }
    }

    #[test]
    fn the_eta_follows_the_measured_rate_and_is_none_without_one() {
        assert_eq!(eta(10, &[], 0), None);
        assert_eq!(eta(10, &[(0, 5), (60_000, 5)], 60_000), None);
        // Five seconds into a sale admitting ten a second.
        let early: Vec<(i64, u64)> = (0..5).map(|s| (s * 1000, 10 + s as u64 * 10)).collect();
        assert_eq!(eta(99, &early, 5_000).unwrap().p50, 13);
        // 10 admissions a second for two minutes.
        let samples: Vec<(i64, u64)> = (0..=120).map(|s| (s * 1000, s as u64 * 10)).collect();
        let eta = eta(99, &samples, 120_000).unwrap();
        assert_eq!(eta.p50, 10);
        assert!(eta.p90 >= eta.p50);
    }

    #[test]
    fn samples_newer_than_the_clock_give_an_eta_not_a_panic() {
        // The controller stamped these on a clock a second ahead of the container reading them.
        let ahead_of_us = [(2_000, 5), (3_000, 10)];
        let measured = eta(20, &ahead_of_us, 1_000).expect("a rate was measured");
        assert!(measured.p90 >= measured.p50);
        assert_eq!(eta(20, &[(2_000, 5)], 1_000), None);
    }

    /// Property: for any history (times ascending, serving never going back) and any clock, the
    /// ETA does not panic, and when there is one its p90 is at least its p50.
    #[test]
    fn the_eta_never_panics_and_its_p90_is_never_below_its_p50() {
        use rand::{Rng, SeedableRng, rngs::StdRng};
        let mut rng = StdRng::seed_from_u64(17);
        for _ in 0..20_000 {
            let len = rng.random_range(0..40);
            let (mut at, mut serving) = (rng.random_range(-200_000..200_000_i64), 0_u64);
            let samples: Vec<(i64, u64)> = (0..len)
                .map(|_| {
                    at += rng.random_range(0..20_000);
                    serving += rng.random_range(0..50);
                    (at, serving)
                })
                .collect();
            let now_ms = rng.random_range(-300_000..600_000);
            let ahead = rng.random_range(0..1_000_000);
            if let Some(eta) = eta(ahead, &samples, now_ms) {
                assert!(eta.p90 >= eta.p50, "{samples:?} at {now_ms}: {eta:?}");
            }
        }
    }

    #[test]
    fn polling_is_slow_far_away_fast_near_the_front_and_jittered() {
        let far = poll_after_ms(
            Standing::Waiting {
                ahead: 5_000,
                eta_p50: Some(600),
            },
            0.5,
        );
        let near = poll_after_ms(
            Standing::Waiting {
                ahead: 3,
                eta_p50: Some(2),
            },
            0.5,
        );
        assert_eq!((far, near), (33_750, 2_250));
        let low = poll_after_ms(Standing::Admitted, 0.0);
        let high = poll_after_ms(Standing::Admitted, 1.0);
        assert_eq!((low, high), (5_000, 6_250));
    }

    #[test]
    fn a_page_that_only_watches_asks_at_most_four_times_a_minute() {
        let watching = [
            Standing::BeforeStart { ms_to_start: 0 },
            Standing::BeforeStart {
                ms_to_start: 3_600_000,
            },
            Standing::Waiting {
                ahead: 10_000,
                eta_p50: None,
            },
            Standing::Waiting {
                ahead: 10_000,
                eta_p50: Some(61),
            },
            Standing::Waiting {
                ahead: 10_000,
                eta_p50: Some(100_000),
            },
            Standing::Settled,
        ];
        for standing in watching {
            for jitter in [0.0, 0.5, 1.0, -3.0, 7.0] {
                let wait = poll_after_ms(standing, jitter);
                assert!(
                    (WATCHING_POLL_MS..=MAX_POLL_MS * 5 / 4).contains(&wait),
                    "{standing:?} {jitter}: {wait}"
                );
            }
        }
    }

    #[test]
    fn beyond_stock_when_those_ahead_outnumber_the_units_left() {
        assert!(!beyond_stock(5, 4, 8, 2));
        assert!(beyond_stock(6, 4, 8, 2));
        assert!(beyond_stock(0, 0, 0, 0));
    }
}
