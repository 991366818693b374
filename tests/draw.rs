//! The draw and the numbering at a CI-sized scale (20,000 members, 1,000 of them early, 2,000
//! arrivals), with the controller killed again and again in the middle of every step: the
//! early draw, the draw, the numbering of arrivals. Afterwards the order is the one the seed
//! decides, the published proof is that order, positions run 1..N without gaps or repeats, every
//! arrival has exactly one position in arrival order, and admission walks the order across its
//! groups. (The million-member run of the same code is `burst-bench million`.)

use std::collections::HashSet;
use std::time::Duration;

use burst::domain::queue::controller;
use burst::model::draw;
use burst::model::queue::{QueueState, Section, Ticket};
use burst::store::keys::QUEUE_STRIPES;
use burst_tests::{Fault, FaultInjector, TestEnv, id_of, queued_drop_body};
use chrono::{DateTime, Utc};
use serde_json::json;

const MEMBERS: usize = 20_000;
const EARLY: usize = 1_000;
const ARRIVALS: usize = 2_000;
const UNITS: u32 = 100;

fn in_ms(ms: i64) -> String {
    (Utc::now() + chrono::Duration::milliseconds(ms)).to_rfc3339()
}

fn ticket(drop_id: &str, i: usize, joined_at: DateTime<Utc>, cohort: bool, early: bool) -> Ticket {
    let shopper = format!("shopper-{i:05}");
    Ticket::waiting(
        drop_id,
        &shopper,
        joined_at,
        i as u32 % QUEUE_STRIPES,
        cohort,
        early,
    )
}

async fn state(env: &TestEnv, drop_id: &str) -> QueueState {
    env.app.store.queue_state(drop_id).await.unwrap().unwrap()
}

/// Ticks the drop, each tick killed at a different call (a fixed, spread sequence), until
/// `done` holds of the state. Returns how many ticks were killed.
async fn tick_with_kills(
    env: &TestEnv,
    injector: &FaultInjector,
    drop_id: &str,
    done: impl Fn(&QueueState) -> bool,
) -> u32 {
    let drop = env.app.store.drop_now(drop_id).await.unwrap().unwrap();
    let mut kills = 0;
    for round in 0u32..3_000 {
        if done(&state(env, drop_id).await) {
            return kills;
        }
        // Calls 0..47 in a scrambled order, then every fourth tick undisturbed so that steps
        // longer than the window still finish.
        let killed = round % 4 != 3;
        if killed {
            injector.arm_after(Fault::Crash, (round * 29) % 48);
        }
        let before = injector.injected();
        let result = controller::tick(&env.app, &drop, Utc::now()).await;
        injector.disarm();
        if injector.injected() > before {
            kills += 1;
            assert!(result.is_err(), "a killed tick reports its failure");
        } else {
            result.expect("an undisturbed tick");
        }
    }
    panic!("the controller never finished under kills");
}

#[tokio::test]
async fn a_draw_and_a_numbering_killed_at_every_step_give_one_order_its_proof_publishes() {
    let injector = FaultInjector::new();
    let env = TestEnv::with_faults(injector.clone()).await;
    let drop = env
        .create_drop(queued_drop_body(
            UNITS,
            600_000,
            json!({
                "queue": { "opens_at": in_ms(-1_000), "proof_of_work": false },
                "early_access": [{ "group": "vip", "starts_at": in_ms(590_000) }],
            }),
        ))
        .await;
    let drop_id = id_of(&drop);
    let seed = state(&env, &drop_id).await.seed;
    let joined = Utc::now();
    let members: Vec<Ticket> = (0..MEMBERS)
        .map(|i| ticket(&drop_id, i, joined, true, i < EARLY))
        .collect();
    let sort_key = |t: &Ticket| draw::sort_key(&draw::draw_key(&seed, &t.id), &t.id);
    env.app
        .store
        .seed_tickets(&members, sort_key)
        .await
        .unwrap();

    // The early start comes now, the general start a few seconds later.
    let drop = env.start_in(&drop_id, 200).await;
    let starts_at: DateTime<Utc> = drop["starts_at"].as_str().unwrap().parse().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let early_kills = tick_with_kills(&env, &injector, &drop_id, |s| s.early_drawn).await;
    if let Ok(wait) = (starts_at - Utc::now()).to_std() {
        tokio::time::sleep(wait + Duration::from_millis(50)).await;
    }
    let draw_kills = tick_with_kills(&env, &injector, &drop_id, |s| s.cohort_fixed).await;
    assert!(
        early_kills >= 3 && draw_kills >= 3,
        "the controller was killed {early_kills} times in the early draw and {draw_kills} in the draw"
    );

    // The order is the seed's, section by section, and the proof publishes exactly it.
    let ids = |early: bool| -> Vec<String> {
        members
            .iter()
            .filter(|t| t.early == early)
            .map(|t| t.id.clone())
            .collect()
    };
    let expected_early = draw::order(&seed, ids(true), |id| id.as_str());
    let expected_cohort = draw::order(&seed, ids(false), |id| id.as_str());
    let proof = env.drawn_order(&drop_id).await;
    assert_eq!(proof.early, expected_early);
    assert_eq!(proof.cohort_start, EARLY as u64 + 1);
    assert_eq!(proof.cohort, expected_cohort);
    assert!(draw::verify(
        &proof.seed,
        &proof.seed_commitment,
        &proof.cohort
    ));
    let drawn = state(&env, &drop_id).await;
    assert_eq!(
        (drawn.early_size, drawn.cohort_size, drawn.sequenced),
        (EARLY as u64, (MEMBERS - EARLY) as u64, MEMBERS as u64)
    );

    // Every group's stored pages give each ticket the position the proof gives it: 1..N, each
    // once (the ticket view reads one page of them).
    let mut seen = HashSet::new();
    for (section, order, start) in [
        (Section::Early, &expected_early, 1),
        (Section::Cohort, &expected_cohort, EARLY as u64 + 1),
    ] {
        let groups = env.app.store.drawn_groups(&drop_id, section).await.unwrap();
        // A group nobody was drawn into is not stored and has no start.
        for group in groups.iter().filter(|group| group.count > 0) {
            let first = group.start.expect("fixed");
            for page in env
                .app
                .store
                .order_pages(&drop_id, section, group.group)
                .await
                .unwrap()
            {
                for (index, (ticket_id, _)) in page.entries.iter().enumerate() {
                    let position = first + page.offset + index as u64;
                    assert_eq!(order[(position - start) as usize], *ticket_id);
                    assert!(seen.insert(position), "position {position} given twice");
                }
            }
        }
    }
    assert_eq!(seen.len(), MEMBERS);
    assert_eq!(seen.iter().max(), Some(&(MEMBERS as u64)));
    // And the views agree, for a spread sample.
    for t in members.iter().step_by(997) {
        let view = env
            .my_ticket(burst_tests::Caller::Shopper(&t.shopper), &drop_id)
            .await;
        let position = view.body["ticket"]["position"].as_u64().expect("placed");
        let (order, start) = if t.early {
            (&expected_early, 1)
        } else {
            (&expected_cohort, EARLY as u64 + 1)
        };
        assert_eq!(order[(position - start) as usize], t.id);
    }

    // 2,000 arrivals after the start, numbered under kills: each once, in arrival order.
    let arrivals: Vec<Ticket> = (0..ARRIVALS)
        .map(|i| {
            let at = starts_at + chrono::Duration::milliseconds(1 + i as i64);
            ticket(&drop_id, MEMBERS + i, at, false, false)
        })
        .collect();
    env.app
        .store
        .seed_tickets(&arrivals, sort_key)
        .await
        .unwrap();
    let total = (MEMBERS + ARRIVALS) as u64;
    let numbering_kills = tick_with_kills(&env, &injector, &drop_id, |s| {
        s.sequenced == total && s.projected_through == total
    })
    .await;
    assert!(numbering_kills >= 3, "killed {numbering_kills} times");
    let shoppers: Vec<String> = arrivals.iter().map(|t| t.shopper.clone()).collect();
    let mut numbered = env.app.store.tickets(&drop_id, &shoppers).await.unwrap();
    numbered.sort_by_key(|t| t.joined_at_us);
    let positions: Vec<u64> = numbered
        .iter()
        .map(|t| t.position.expect("every arrival is numbered"))
        .collect();
    assert_eq!(
        positions,
        (MEMBERS as u64 + 1..=total).collect::<Vec<_>>(),
        "arrivals follow the cohort in arrival order, without gaps or repeats"
    );
    for stripe in 0..QUEUE_STRIPES {
        assert!(
            env.app
                .store
                .arrivals(&drop_id, stripe)
                .await
                .unwrap()
                .is_empty(),
            "no arrival is left to number twice"
        );
    }

    // Admission walks the order across groups: the first positions, early cohort first.
    let report = env.tick(&drop_id).await;
    assert_eq!(report.serving, u64::from(UNITS));
    for t in members.iter().filter(|t| t.early).take(20) {
        let view = env
            .my_ticket(burst_tests::Caller::Shopper(&t.shopper), &drop_id)
            .await;
        let position = view.body["ticket"]["position"].as_u64().unwrap();
        let status = view.body["ticket"]["status"].as_str().unwrap();
        assert_eq!(
            status == "admitted",
            position <= u64::from(UNITS),
            "{position} {status}"
        );
    }
}
