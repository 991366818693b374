//! `burst-dev`: what `make dev` and `make token` run.
//!
//!   burst-dev create-table          create $TABLE_NAME from template.yaml (idempotent)
//!   burst-dev seed-demo             add the demo drop unless a drop of that name exists
//!   burst-dev token USER [--admin] [--group NAME]…
//!                                   print a dev JWT signed with $BURST_DEV_JWT_SECRET
//!   burst-dev admission-key         print a new admission key pair (for a deployment)

use burst::App;
use burst::auth::{ADMIN_GROUP, mint_dev_token_in};
use burst::domain::{claims, drops};
use burst::model::admission::{AdmissionKeys, new_private_hex};
use burst::model::requester::Requester;
use burst::store::table::TableDefinition;
use chrono::{Duration, Utc};
use serde_json::json;

const DEMO_DROP_NAME: &str = "Aurora Runner — Midnight";
const SOLD_OUT_DROP_NAME: &str = "Ember Tee — Launch Run";
const LOCAL_SECRET: &str = "burst-local-dev-secret";
const TOKEN_LIFETIME_SECONDS: i64 = 12 * 3600;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("create-table") => create_table().await,
        Some("seed-demo") => seed_demo().await,
        Some("token") => token(&args[1..]),
        Some("admission-key") => admission_key(),
        _ => Err(usage()),
    };
    if let Err(message) = outcome {
        eprintln!("burst-dev: {message}");
        std::process::exit(2);
    }
}

fn usage() -> String {
    "usage: burst-dev create-table | seed-demo | token USER [--admin] [--group NAME]… | admission-key"
        .into()
}

async fn create_table() -> Result<(), String> {
    let app = App::from_env().await.map_err(|e| e.to_string())?;
    TableDefinition::from_compiled_template()
        .create(app.store.client(), app.store.table())
        .await
        .map_err(|e| e.to_string())?;
    println!("table {} is ready", app.store.table());
    Ok(())
}

/// The demo shop: a drop in every state a shopper can meet — live now; queued, whose queue is
/// open and which starts a minute after seeding; upcoming (with early access for the `vip`
/// group); sold out (its units held by three demo shoppers for an hour); a raffle whose entries
/// close two minutes after seeding; and a live drop whose price steps down. Each is created
/// unless a drop of its name exists.
async fn seed_demo() -> Result<(), String> {
    let app = App::from_env().await.map_err(|e| e.to_string())?;
    let now = Utc::now();
    let existing = app
        .store
        .drops_open_since(now)
        .await
        .map_err(|e| e.to_string())?;
    let minutes = |m: i64| (now + Duration::minutes(m)).to_rfc3339();
    let demos = [
        json!({
            "name": DEMO_DROP_NAME,
            "description": "Hand-numbered run of 250 pairs. Reflective upper, carbon plate. One pair per shopper.",
            "price": { "amount": 18900, "currency": "EUR" },
            "total_units": 250,
            "starts_at": minutes(-1),
            "ends_at": minutes(7 * 24 * 60),
        }),
        json!({
            "name": "Nebula Console — Founders Edition",
            "description": "300 signed consoles. Join the queue: the order is drawn from a committed seed at the start.",
            "price": { "amount": 49900, "currency": "EUR" },
            "total_units": 300,
            "starts_at": minutes(1),
            "ends_at": minutes(3 * 24 * 60),
            "queue": { "opens_at": minutes(-1), "proof_of_work": true },
        }),
        json!({
            "name": "Solstice Watch — Titanium",
            "description": "A grade-5 titanium case, 120 pieces. The queue opens a day before the drop.",
            "price": { "amount": 129000, "currency": "EUR" },
            "total_units": 120,
            "starts_at": minutes(3 * 24 * 60),
            "queue": { "opens_at": minutes(2 * 24 * 60) },
            "early_access": [{ "group": "vip", "starts_at": minutes(2 * 24 * 60 + 12 * 60) }],
        }),
        json!({
            "name": "Halo Turntable — Raffle",
            "description": "40 turntables by raffle: enter until the draw, winners have ten minutes to claim.",
            "price": { "amount": 89900, "currency": "EUR" },
            "total_units": 40,
            "starts_at": minutes(2),
            "ends_at": minutes(2 * 24 * 60),
            "mode": "raffle",
            "queue": { "opens_at": minutes(-1), "proof_of_work": true },
            "raffle": { "entries_close_at": minutes(2), "claim_window_seconds": 600 },
        }),
        json!({
            "name": "Drift Jacket — Falling Price",
            "description": "A published Dutch schedule: the price steps down every twenty minutes, nobody gains by being first.",
            "price": { "amount": 24900, "currency": "EUR" },
            "total_units": 60,
            "starts_at": minutes(-1),
            "ends_at": minutes(24 * 60),
            "price_schedule": [
                { "at": minutes(20), "amount": 21900 },
                { "at": minutes(40), "amount": 18900 },
                { "at": minutes(60), "amount": 15900 },
            ],
        }),
        json!({
            "name": SOLD_OUT_DROP_NAME,
            "description": "Three tees, gone in a second.",
            "price": { "amount": 3500, "currency": "EUR" },
            "total_units": 3,
            "starts_at": minutes(-5),
            "ends_at": minutes(7 * 24 * 60),
            "hold_seconds": 3600,
        }),
    ];
    for body in demos {
        let name = body["name"].as_str().unwrap_or_default();
        if let Some(drop) = existing.iter().find(|drop| drop.name == name) {
            println!("demo drop already there: {name} {}", drop.id);
            continue;
        }
        let view = drops::create_drop(&app, "burst-dev", body.clone(), now)
            .await
            .map_err(|e| format!("{name}: {e}"))?;
        if name == SOLD_OUT_DROP_NAME {
            for shopper in ["demo-early-1", "demo-early-2", "demo-early-3"] {
                let requester = Requester {
                    shopper,
                    groups: &[],
                    source_ip: "127.0.0.1",
                };
                claims::claim(&app, requester, &view.drop.id, None)
                    .await
                    .map_err(|e| format!("sell out {name}: {e}"))?;
            }
        }
        println!("demo drop created: {name} {}", view.drop.id);
    }
    Ok(())
}

/// A fresh Ed25519 key pair for admission tokens: the private key goes into the Secrets Manager
/// secret, the public key into the `AdmissionPublicKey` parameter.
fn admission_key() -> Result<(), String> {
    let private = new_private_hex();
    let keys = AdmissionKeys::from_private_hex(&private).ok_or("key generation failed")?;
    println!(
        "{{\"private_key\": \"{private}\", \"public_key\": \"{}\"}}",
        keys.public_hex()
    );
    Ok(())
}

fn token(args: &[String]) -> Result<(), String> {
    let user = args
        .first()
        .filter(|u| !u.starts_with("--"))
        .ok_or_else(usage)?;
    let mut groups: Vec<&str> = Vec::new();
    let mut rest = args[1..].iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--admin" => groups.push(ADMIN_GROUP),
            "--group" => groups.push(rest.next().ok_or_else(usage)?),
            _ => return Err(usage()),
        }
    }
    let secret = std::env::var("BURST_DEV_JWT_SECRET").unwrap_or_else(|_| LOCAL_SECRET.into());
    println!(
        "{}",
        mint_dev_token_in(
            &secret,
            user,
            &groups,
            Utc::now().timestamp(),
            TOKEN_LIFETIME_SECONDS
        )
    );
    Ok(())
}
