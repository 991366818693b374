//! `burst-dev`: what `make dev` and `make token` run.
//!
//!   burst-dev create-table          create $TABLE_NAME from template.yaml (idempotent)
//!   burst-dev seed-demo             add the demo drop unless a drop of that name exists
//!   burst-dev token USER [--admin]  print a dev JWT signed with $BURST_DEV_JWT_SECRET

use burst::App;
use burst::auth::mint_dev_token;
use burst::domain::drops;
use burst::store::table::TableDefinition;
use chrono::{Duration, Utc};
use serde_json::json;

const DEMO_DROP_NAME: &str = "Aurora Runner — Midnight";
const LOCAL_SECRET: &str = "burst-local-dev-secret";
const TOKEN_LIFETIME_SECONDS: i64 = 12 * 3600;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("create-table") => create_table().await,
        Some("seed-demo") => seed_demo().await,
        Some("token") => token(&args[1..]),
        _ => Err(usage()),
    };
    if let Err(message) = outcome {
        eprintln!("burst-dev: {message}");
        std::process::exit(2);
    }
}

fn usage() -> String {
    "usage: burst-dev create-table | seed-demo | token USER [--admin]".into()
}

async fn create_table() -> Result<(), String> {
    let app = App::from_env().await;
    TableDefinition::from_compiled_template()
        .create(app.store.client(), app.store.table())
        .await
        .map_err(|e| e.to_string())?;
    println!("table {} is ready", app.store.table());
    Ok(())
}

async fn seed_demo() -> Result<(), String> {
    let app = App::from_env().await;
    let now = Utc::now();
    let existing = app
        .store
        .drops_open_since(now)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(demo) = existing.iter().find(|drop| drop.name == DEMO_DROP_NAME) {
        println!("demo drop already there: {}", demo.id);
        return Ok(());
    }
    let body = json!({
        "name": DEMO_DROP_NAME,
        "description": "Hand-numbered run of 250 pairs. Reflective upper, carbon plate. One pair per shopper.",
        "price": { "amount": 18900, "currency": "EUR" },
        "total_units": 250,
        "starts_at": (now - Duration::minutes(1)).to_rfc3339(),
        "ends_at": (now + Duration::days(7)).to_rfc3339(),
        "per_user_limit": 1,
        "hold_seconds": 600,
    });
    let view = drops::create_drop(&app, body, now)
        .await
        .map_err(|e| e.to_string())?;
    println!("demo drop created: {}", view.drop.id);
    Ok(())
}

fn token(args: &[String]) -> Result<(), String> {
    let user = args
        .first()
        .filter(|u| !u.starts_with("--"))
        .ok_or_else(usage)?;
    let admin = args.iter().any(|a| a == "--admin");
    let secret = std::env::var("BURST_DEV_JWT_SECRET").unwrap_or_else(|_| LOCAL_SECRET.into());
    println!(
        "{}",
        mint_dev_token(
            &secret,
            user,
            admin,
            Utc::now().timestamp(),
            TOKEN_LIFETIME_SECONDS
        )
    );
    Ok(())
}
