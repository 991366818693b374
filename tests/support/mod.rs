//! What every integration test stands on: DynamoDB Local (started here when nothing answers on
//! its port), a fresh table per test created from `template.yaml`, and the real route handlers
//! driven in-process with real API Gateway HTTP API (v2) events.

pub mod checkout;
pub mod dynamodb_local;
pub mod faults;
pub mod openapi;

use std::sync::Arc;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use burst::App;
use burst::api::Route;
use burst::config::{Config, DEFAULT_DROP_PUSH_WINDOW};
use burst::store::table::TableDefinition;
use lambda_http::{Request, RequestExt};
use serde_json::{Value, json};

use burst::model::admission::AdmissionKeys;
use burst::model::pow::PowConfig;
use burst::payments::StripeConfig;
use burst::store::cache::Caching;
pub use faults::{Fault, FaultInjector};
use stripe_emulator::{Emulator, EmulatorConfig};

/// Who makes a request, as the API Gateway JWT authorizer would describe them.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    Anonymous,
    Shopper(&'a str),
    /// A shopper in a Cognito group (early access).
    Member(&'a str, &'a str),
    Admin(&'a str),
}

/// A draw as its proof publishes it.
#[derive(Debug, Clone)]
pub struct DrawnOrder {
    pub seed: String,
    pub seed_commitment: String,
    /// Ticket ids from position 1.
    pub early: Vec<String>,
    pub cohort_start: u64,
    /// Ticket ids from `cohort_start`.
    pub cohort: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    /// The body's exact bytes, as text.
    pub raw: String,
    pub headers: lambda_http::http::HeaderMap,
}

impl Reply {
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

pub struct TestEnv {
    pub app: Arc<App>,
    pub client: aws_sdk_dynamodb::Client,
    /// The local Stripe the app talks to, when the test asked for payments.
    pub stripe: Option<Emulator>,
}

pub const WEBHOOK_SECRET: &str = "whsec_test_burst";
/// The tests' proof-of-work difficulty: a few tries, so a solve takes milliseconds.
pub const TEST_POW_TRIES: u32 = 5;
/// What "CloudFront" adds to the requests it forwards to the test apps (`ORIGIN_VERIFY_SECRET`).
pub const TEST_ORIGIN_SECRET: &str = "test-origin-verify";
/// The admission key of every test app (a fixed test key, never used anywhere else).
pub const TEST_ADMISSION_KEY: &str =
    "7f1c2b3a4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8";

/// How a test's `App` is built: every setting is chosen before the one `App` is, so none can be
/// lost by building it again.
#[derive(Default)]
pub struct TestEnvBuilder {
    endpoint: Option<String>,
    dev_jwt_secret: Option<String>,
    injector: Option<FaultInjector>,
    stripe_latency: Option<std::time::Duration>,
    caching: Option<Caching>,
    pow_tries: Option<u32>,
    push_window: Option<std::time::Duration>,
    stream: bool,
}

impl TestEnvBuilder {
    /// With the template's stream on the table, for a test that reads it (through the local
    /// gateway's pump).
    pub fn stream(mut self) -> Self {
        self.stream = true;
        self
    }

    /// The DynamoDB Local at `endpoint` (else the tests' shared one).
    pub fn endpoint(mut self, endpoint: &str) -> Self {
        self.endpoint = Some(endpoint.to_string());
        self
    }

    /// Identity from locally signed HS256 tokens instead of the authorizer's claims.
    pub fn dev_secret(mut self, secret: &str) -> Self {
        self.dev_jwt_secret = Some(secret.to_string());
        self
    }

    /// DynamoDB calls go through `injector`, which fails them as real DynamoDB under load would
    /// (DynamoDB Local never reports a conflict or throttles).
    pub fn faults(mut self, injector: FaultInjector) -> Self {
        self.injector = Some(injector);
        self
    }

    /// With payments, against a Stripe emulator of this test's own whose every API request
    /// takes `latency`.
    pub fn stripe(mut self, latency: std::time::Duration) -> Self {
        self.stripe_latency = Some(latency);
        self
    }

    /// How long reads are reused (`Caching::NONE` unless set: tests read what they just wrote).
    pub fn caching(mut self, caching: Caching) -> Self {
        self.caching = Some(caching);
        self
    }

    /// How often a drop's watchers may be pushed its numbers (the default's 30 s unless set).
    pub fn push_window(mut self, window: std::time::Duration) -> Self {
        self.push_window = Some(window);
        self
    }

    /// The proof-of-work difficulty (mean tries; `TEST_POW_TRIES` unless set).
    pub fn pow_tries(mut self, tries: u32) -> Self {
        self.pow_tries = Some(tries);
        self
    }

    /// A fresh table, and the app over it.
    pub async fn build(self) -> TestEnv {
        let endpoint = self.endpoint.unwrap_or_else(dynamodb_local::endpoint);
        let mut config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("local", "local", None, None, "tests"))
            .endpoint_url(endpoint);
        if let Some(injector) = self.injector {
            config = config.http_client(injector.into_http_client());
        }
        let client = aws_sdk_dynamodb::Client::from_conf(config.build());
        let table_name = format!("burst-test-{}", uuid::Uuid::new_v4().simple());
        // The template's table, without what only costs a shared DynamoDB Local time (tests/
        // store.rs checks both are declared and turned on for a table made as `make dev` makes
        // it):
        // - TTL: Local's deleter works through expired items (velocity windows, spent
        //   challenges) in the background, on the one SQLite thread every test of the run
        //   shares. TTL only garbage-collects; no test may depend on it.
        // - The stream, unless the test reads it: Local looks up the stream's shards on every
        //   write to a table with one, a lookup that grows with the tables of the run (the
        //   hundredth table's writes took ~300 ms each).
        let template = TableDefinition::from_compiled_template();
        let definition = TableDefinition {
            ttl_attribute: None,
            stream_view_type: template.stream_view_type.clone().filter(|_| self.stream),
            ..template
        };
        definition
            .create(&client, &table_name)
            .await
            .expect("create the test table in DynamoDB Local");
        let stripe = match self.stripe_latency {
            Some(latency) => {
                let emulator = Emulator::new(EmulatorConfig {
                    webhook_url: None,
                    webhook_secret: WEBHOOK_SECRET.into(),
                    latency,
                });
                emulator.serve(0).await.expect("start the Stripe emulator");
                Some(emulator)
            }
            None => None,
        };
        let config = Config {
            table_name,
            dev_jwt_secret: self.dev_jwt_secret,
            stripe: stripe.as_ref().map(|emulator| StripeConfig {
                secret_key: "sk_test_burst".into(),
                api_base: Some(emulator.base_url()),
                return_url: "http://shop.test".into(),
            }),
            stripe_webhook_secret: stripe.as_ref().map(|_| WEBHOOK_SECRET.into()),
            stripe_secret_id: None,
            admission: AdmissionKeys::from_private_hex(TEST_ADMISSION_KEY),
            admission_secret_id: None,
            origin_verify_secret: Some(TEST_ORIGIN_SECRET.into()),
            pow: Some(PowConfig {
                challenge_secret: "test-pow-challenge-secret".into(),
                key_secret: "test-pow-key-secret".into(),
                base_tries: self.pow_tries.unwrap_or(TEST_POW_TRIES),
            }),
            jwt: None,
            drop_push_window: self.push_window.unwrap_or(DEFAULT_DROP_PUSH_WINDOW),
        };
        let app = App::builder(config, client.clone())
            .caching(self.caching.unwrap_or(Caching::NONE))
            .build();
        TestEnv {
            app: Arc::new(app),
            client,
            stripe,
        }
    }
}

impl TestEnv {
    pub fn builder() -> TestEnvBuilder {
        TestEnvBuilder::default()
    }

    pub async fn new() -> Self {
        Self::builder().build().await
    }

    /// With payments, against a fresh Stripe emulator of this test's own.
    pub async fn with_stripe() -> Self {
        Self::with_stripe_latency(std::time::Duration::ZERO).await
    }

    /// With payments, against an emulator whose every API request takes `latency`.
    pub async fn with_stripe_latency(latency: std::time::Duration) -> Self {
        Self::builder().stripe(latency).build().await
    }

    pub fn emulator(&self) -> &Emulator {
        self.stripe.as_ref().expect("TestEnv::with_stripe")
    }

    /// Identity from locally signed HS256 tokens instead of the authorizer's claims.
    pub async fn with_dev_secret(secret: &str) -> Self {
        Self::builder().dev_secret(secret).build().await
    }

    /// DynamoDB calls go through `injector` (see `TestEnvBuilder::faults`).
    pub async fn with_faults(injector: FaultInjector) -> Self {
        Self::builder().faults(injector).build().await
    }

    /// Sends `request` to the route its `routeKey` names, as API Gateway would: the handler
    /// `burst::api::ROUTES` declares for it. Every answer is checked against docs/openapi.yaml.
    pub async fn call(&self, request: Request) -> Reply {
        let route_key = match request.request_context_ref() {
            Some(lambda_http::request::RequestContext::ApiGatewayV2(context)) => {
                context.route_key.clone()
            }
            _ => None,
        }
        .expect("an API Gateway HTTP API event names its route");
        let route = Route::find(&route_key)
            .unwrap_or_else(|| panic!("{route_key} is not a route of burst::api::ROUTES"));
        let response = (route.respond)(self.app.clone(), request).await;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes: &[u8] = response.body().as_ref();
        let raw = String::from_utf8_lossy(bytes).into_owned();
        let is_text = headers
            .get("content-type")
            .is_some_and(|value| value.as_bytes().starts_with(b"text/plain"));
        let body = if bytes.is_empty() {
            Value::Null
        } else if is_text {
            Value::String(raw.clone())
        } else {
            serde_json::from_slice(bytes).expect("every response body but text/plain is JSON")
        };
        // Every answer a test receives must be one docs/openapi.yaml describes.
        if let Err(problem) = openapi::validate_response(&route_key, status, &body) {
            panic!("{route_key} answered {status} outside docs/openapi.yaml: {problem}\n{body:#}");
        }
        Reply {
            status,
            body,
            raw,
            headers,
        }
    }

    /// `route` (`"POST /drops/{drop_id}/claims"`) with its path parameters, from `caller`.
    pub async fn send(
        &self,
        route: &str,
        params: &[(&str, &str)],
        body: Option<&str>,
        caller: Caller<'_>,
    ) -> Reply {
        let (method, path) = route.split_once(' ').expect("METHOD /path");
        self.call(event(method, path, params, body, caller)).await
    }

    pub async fn post_drop(&self, caller: Caller<'_>, body: &str) -> Reply {
        self.send("POST /admin/drops", &[], Some(body), caller)
            .await
    }

    /// Creates a drop as an admin and returns it (asserting the 201).
    pub async fn create_drop(&self, body: Value) -> Value {
        let reply = self
            .post_drop(Caller::Admin("admin-1"), &body.to_string())
            .await;
        assert_eq!(reply.status, 201, "create drop: {:?}", reply.body);
        reply.body
    }

    /// Moves a drop's times so that its first sale start (an early group's, else `starts_at`)
    /// is `ms` from now, every other time (`starts_at`, early starts, a raffle's close,
    /// `ends_at`) keeping its distance to it; written as an edit would be, whether or not the
    /// drop has opened. A test whose crowd must all join first sets the start once they have,
    /// instead of guessing how long joining takes on a loaded machine. Returns the drop as the
    /// API now shows it.
    pub async fn start_in(&self, drop_id: &str, ms: i64) -> Value {
        self.edit_clock(drop_id, |drop| {
            let first_start = drop
                .early_access
                .iter()
                .map(|early| early.starts_at)
                .fold(drop.starts_at, chrono::DateTime::min);
            let shift = chrono::Utc::now() + chrono::Duration::milliseconds(ms) - first_start;
            drop.starts_at += shift;
            drop.ends_at = drop.ends_at.map(|end| end + shift);
            for early in &mut drop.early_access {
                early.starts_at += shift;
            }
            if let Some(raffle) = &mut drop.raffle {
                raffle.entries_close_at += shift;
            }
            json!({ "starts_at": drop.starts_at })
        })
        .await;
        self.get_drop(drop_id).await.body
    }

    /// Moves only the general start of a drop with early access to `ms` from now (as an edit
    /// would): a test checks the early phase at leisure, then opens the drop to everyone.
    pub async fn general_start_in(&self, drop_id: &str, ms: i64) -> Value {
        self.edit_clock(drop_id, |drop| {
            drop.starts_at = chrono::Utc::now() + chrono::Duration::milliseconds(ms);
            json!({ "starts_at": drop.starts_at })
        })
        .await;
        self.get_drop(drop_id).await.body
    }

    /// Opens a queued drop's queue now (as an edit would), however long its creation took.
    pub async fn open_queue_now(&self, drop_id: &str) {
        self.edit_clock(drop_id, |drop| {
            let queue = drop.queue.as_mut().expect("a queued drop");
            queue.opens_at = chrono::Utc::now() - chrono::Duration::milliseconds(10);
            json!({ "queue": { "opens_at": queue.opens_at } })
        })
        .await;
    }

    /// Changes a drop's times as an admin's edit would be written (`change` returns what the
    /// admin event records), whether or not the drop has opened.
    async fn edit_clock(
        &self,
        drop_id: &str,
        change: impl FnOnce(&mut burst::model::drop::DropSpec) -> Value,
    ) {
        let stored = self
            .app
            .store
            .drop_now(drop_id)
            .await
            .unwrap()
            .expect("a drop");
        let mut drop = burst::model::drop::DropSpec::clone(&stored);
        let details = change(&mut drop);
        drop.version += 1;
        let event = burst::model::drop::AdminEvent::new(
            drop_id,
            "test-clock",
            burst::model::drop::AdminAction::Updated,
            details,
            chrono::Utc::now(),
        );
        let replaced = self.app.store.replace_drop(&drop, stored.version, &event);
        assert!(
            replaced.await.unwrap(),
            "the drop moved under a test's clock"
        );
    }

    /// `PATCH /admin/drops/{id}`.
    pub async fn patch_drop(&self, caller: Caller<'_>, drop_id: &str, body: Value) -> Reply {
        let body = body.to_string();
        self.send(
            "PATCH /admin/drops/{drop_id}",
            &[("drop_id", drop_id)],
            Some(&body),
            caller,
        )
        .await
    }

    /// `POST /admin/drops/{id}/pause` (`paused`) or `/resume`.
    pub async fn set_paused(&self, caller: Caller<'_>, drop_id: &str, paused: bool) -> Reply {
        let route = if paused {
            "POST /admin/drops/{drop_id}/pause"
        } else {
            "POST /admin/drops/{drop_id}/resume"
        };
        self.send(route, &[("drop_id", drop_id)], None, caller)
            .await
    }

    /// `GET /admin/drops/{id}/events`.
    pub async fn drop_events(&self, caller: Caller<'_>, drop_id: &str) -> Reply {
        self.send(
            "GET /admin/drops/{drop_id}/events",
            &[("drop_id", drop_id)],
            None,
            caller,
        )
        .await
    }

    pub async fn list_drops(&self) -> Reply {
        self.list_drops_with(&[]).await
    }

    /// `GET /drops?<query>`.
    pub async fn list_drops_with(&self, query: &[(&str, &str)]) -> Reply {
        let mut event = event_json("GET", "/drops", &[], None, Caller::Anonymous, json!({}));
        with_query(&mut event, query);
        let request = lambda_http::request::from_str(&event.to_string()).expect("a valid event");
        self.call(request).await
    }

    pub async fn get_drop(&self, drop_id: &str) -> Reply {
        let params = [("drop_id", drop_id)];
        self.send("GET /drops/{drop_id}", &params, None, Caller::Anonymous)
            .await
    }

    pub async fn claim(&self, caller: Caller<'_>, drop_id: &str, body: Option<&str>) -> Reply {
        let params = [("drop_id", drop_id)];
        self.send("POST /drops/{drop_id}/claims", &params, body, caller)
            .await
    }

    /// `shopper` claims one unit; asserts the 201 and returns the reservation's id.
    pub async fn hold(&self, shopper: &str, drop_id: &str) -> String {
        let reply = self.claim(Caller::Shopper(shopper), drop_id, None).await;
        assert_eq!(reply.status, 201, "claim: {:?}", reply.body);
        reply.body["reservation"]["id"]
            .as_str()
            .expect("reservation id")
            .to_string()
    }

    /// `POST /drops/{id}/queue`.
    pub async fn join(&self, caller: Caller<'_>, drop_id: &str, body: Option<&str>) -> Reply {
        let params = [("drop_id", drop_id)];
        self.send("POST /drops/{drop_id}/queue", &params, body, caller)
            .await
    }

    /// `GET /drops/{id}/challenge`.
    pub async fn challenge(&self, caller: Caller<'_>, drop_id: &str) -> Reply {
        let params = [("drop_id", drop_id)];
        self.send("GET /drops/{drop_id}/challenge", &params, None, caller)
            .await
    }

    /// A challenge for `shopper`, solved: the join body the widget would send.
    pub async fn solved_join_body(&self, shopper: &str, drop_id: &str) -> String {
        let reply = self.challenge(Caller::Shopper(shopper), drop_id).await;
        assert_eq!(reply.status, 200, "challenge: {:?}", reply.body);
        let challenge =
            serde_json::from_value(reply.body["challenge"].clone()).expect("a challenge");
        let payload = burst::model::pow::solve(&challenge).expect("solvable");
        json!({ "altcha": payload }).to_string()
    }

    /// `shopper` joins (solving a challenge first when the queue asks for one); asserts a ticket
    /// came back and returns it.
    pub async fn ticket_for(&self, shopper: &str, drop_id: &str) -> Value {
        let drop = self.app.store.drop(drop_id).await.unwrap().expect("a drop");
        let needs_proof = drop.queue.as_ref().is_some_and(|queue| queue.proof_of_work);
        let body = match needs_proof {
            true => Some(self.solved_join_body(shopper, drop_id).await),
            false => None,
        };
        let reply = self
            .join(Caller::Shopper(shopper), drop_id, body.as_deref())
            .await;
        assert!(
            reply.status == 201 || reply.status == 200,
            "join: {:?}",
            reply.body
        );
        reply.body["ticket"].clone()
    }

    /// `GET /drops/{id}/queue/me`.
    pub async fn my_ticket(&self, caller: Caller<'_>, drop_id: &str) -> Reply {
        let params = [("drop_id", drop_id)];
        self.send("GET /drops/{drop_id}/queue/me", &params, None, caller)
            .await
    }

    /// `GET /drops/{id}/queue`.
    pub async fn queue_status(&self, drop_id: &str) -> Reply {
        let params = [("drop_id", drop_id)];
        self.send(
            "GET /drops/{drop_id}/queue",
            &params,
            None,
            Caller::Anonymous,
        )
        .await
    }

    /// `GET /drops/{id}/integrity`.
    pub async fn integrity(&self, drop_id: &str) -> Reply {
        let params = [("drop_id", drop_id)];
        self.send(
            "GET /drops/{drop_id}/integrity",
            &params,
            None,
            Caller::Anonymous,
        )
        .await
    }

    /// `GET /drops/{id}/queue/proof`.
    pub async fn queue_proof(&self, drop_id: &str) -> Reply {
        let params = [("drop_id", drop_id)];
        self.send(
            "GET /drops/{drop_id}/queue/proof",
            &params,
            None,
            Caller::Anonymous,
        )
        .await
    }

    /// `GET /drops/{id}/queue/proof/{page}`.
    pub async fn queue_proof_page(&self, drop_id: &str, page: &str) -> Reply {
        let params = [("drop_id", drop_id), ("page", page)];
        self.send(
            "GET /drops/{drop_id}/queue/proof/{page}",
            &params,
            None,
            Caller::Anonymous,
        )
        .await
    }

    /// The drawn order as the published proof gives it: the manifest, then every page it lists,
    /// each checked against its SHA-256 and count.
    pub async fn drawn_order(&self, drop_id: &str) -> DrawnOrder {
        let manifest = self.queue_proof(drop_id).await;
        assert_eq!(manifest.status, 200, "the proof: {}", manifest.raw);
        let body = manifest.body;
        let mut sections = Vec::new();
        for section in ["early", "cohort"] {
            let mut ids = Vec::new();
            for page in body[section]["pages"].as_array().expect("pages") {
                let name = page["name"].as_str().expect("a page name");
                let reply = self.queue_proof_page(drop_id, name).await;
                assert_eq!(reply.status, 200, "page {name}: {}", reply.raw);
                assert_eq!(
                    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(reply.raw.as_bytes())),
                    page["sha256"].as_str().expect("a digest"),
                    "page {name} is what the manifest says"
                );
                let page_ids: Vec<String> = reply.raw.lines().map(str::to_string).collect();
                assert_eq!(
                    page_ids.len() as u64,
                    page["count"].as_u64().expect("a count")
                );
                ids.extend(page_ids);
            }
            assert_eq!(
                ids.len() as u64,
                body[section]["size"].as_u64().expect("a size")
            );
            sections.push(ids);
        }
        let cohort = sections.pop().expect("two sections");
        let early = sections.pop().expect("two sections");
        DrawnOrder {
            seed: body["seed"].as_str().expect("a seed").to_string(),
            seed_commitment: body["seed_commitment"]
                .as_str()
                .expect("a commitment")
                .to_string(),
            early,
            cohort_start: body["cohort"]["start"].as_u64().expect("a start"),
            cohort,
        }
    }

    /// One admission-controller tick of the drop, now.
    /// (A draw under way goes on tick after tick until it is done, as the controller's loop
    /// would; the report is the last tick's, `drew` if any of them finished a draw.)
    pub async fn tick(&self, drop_id: &str) -> burst::domain::queue::controller::TickReport {
        let mut drew = false;
        loop {
            let mut report = self.tick_once(drop_id).await;
            drew |= report.drew;
            if !report.drawing {
                report.drew = drew;
                return report;
            }
        }
    }

    /// Exactly one admission-controller tick of the drop, now.
    pub async fn tick_once(&self, drop_id: &str) -> burst::domain::queue::controller::TickReport {
        self.tick_at(drop_id, chrono::Utc::now()).await
    }

    /// One admission-controller tick of the drop as if it ran at `at`: a test moves past an
    /// admission window without sleeping through it, however slowly the machine ran the ticks
    /// before.
    pub async fn tick_at(
        &self,
        drop_id: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> burst::domain::queue::controller::TickReport {
        let drop = self
            .app
            .store
            .drop(drop_id)
            .await
            .unwrap()
            .expect("the drop exists");
        burst::domain::queue::controller::tick(&self.app, &drop, at)
            .await
            .expect("a tick")
    }

    /// `shopper` claims with `admission_token`.
    pub async fn claim_admitted(&self, shopper: &str, drop_id: &str, token: &str) -> Reply {
        let body = json!({ "quantity": 1, "admission_token": token }).to_string();
        self.claim(Caller::Shopper(shopper), drop_id, Some(&body))
            .await
    }

    pub async fn get_reservation(&self, caller: Caller<'_>, reservation_id: &str) -> Reply {
        let params = [("reservation_id", reservation_id)];
        self.send("GET /reservations/{reservation_id}", &params, None, caller)
            .await
    }

    pub async fn release(&self, caller: Caller<'_>, reservation_id: &str) -> Reply {
        let params = [("reservation_id", reservation_id)];
        self.send(
            "DELETE /reservations/{reservation_id}",
            &params,
            None,
            caller,
        )
        .await
    }

    pub async fn checkout(&self, caller: Caller<'_>, reservation_id: &str) -> Reply {
        let params = [("reservation_id", reservation_id)];
        self.send(
            "POST /reservations/{reservation_id}/checkout",
            &params,
            None,
            caller,
        )
        .await
    }

    /// Delivers a Stripe event to the webhook, signed now as Stripe signs.
    pub async fn deliver(&self, stripe_event: &Value) -> Reply {
        let payload = stripe_event.to_string();
        let signature = self
            .emulator()
            .sign(&payload, chrono::Utc::now().timestamp());
        self.deliver_raw(&payload, Some(&signature)).await
    }

    pub async fn deliver_raw(&self, payload: &str, signature: Option<&str>) -> Reply {
        let headers = match signature {
            Some(signature) => json!({ "stripe-signature": signature }),
            None => json!({}),
        };
        let request = event_with_headers(
            "POST",
            "/webhooks/stripe",
            &[],
            Some(payload),
            Caller::Anonymous,
            headers,
        );
        self.call(request).await
    }

    pub async fn get_order(&self, caller: Caller<'_>, order_id: &str) -> Reply {
        let params = [("order_id", order_id)];
        self.send("GET /orders/{order_id}", &params, None, caller)
            .await
    }

    pub async fn my_orders(&self, caller: Caller<'_>) -> Reply {
        self.send("GET /me/orders", &[], None, caller).await
    }

    pub async fn audit_as(&self, caller: Caller<'_>, drop_id: &str) -> Reply {
        let params = [("drop_id", drop_id)];
        self.send("GET /admin/drops/{drop_id}/audit", &params, None, caller)
            .await
    }

    /// The audit as an admin, asserting it answered.
    pub async fn audit(&self, drop_id: &str) -> Value {
        let reply = self.audit_as(Caller::Admin("admin-1"), drop_id).await;
        assert_eq!(reply.status, 200, "audit: {:?}", reply.body);
        reply.body
    }

    /// Counts every item of the table whose partition key starts with `prefix` (a scan: tests
    /// only).
    pub async fn count_items(&self, prefix: &str) -> usize {
        let mut count = 0;
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(self.app.store.table())
                .filter_expression("begins_with(PK, :prefix)")
                .expression_attribute_values(
                    ":prefix",
                    aws_sdk_dynamodb::types::AttributeValue::S(prefix.into()),
                )
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan");
            count += page.items().len();
            start = page.last_evaluated_key;
            if start.is_none() {
                return count;
            }
        }
    }
}

/// The `id` of an answer's object (a drop, a reservation).
/// The instant after an admitted ticket's (`GET /drops/{id}/queue/me`'s `ticket`) admission
/// runs out: a test ticks the controller then (`TestEnv::tick_at`) instead of sleeping through
/// the window.
pub fn just_after_admission(ticket: &Value) -> chrono::DateTime<chrono::Utc> {
    let expires_at = ticket["admission"]["expires_at"]
        .as_str()
        .unwrap_or_else(|| panic!("an admitted ticket: {ticket}"));
    chrono::DateTime::parse_from_rfc3339(expires_at)
        .expect("an RFC 3339 time")
        .to_utc()
        + chrono::Duration::milliseconds(1)
}

pub fn id_of(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_string()
}

/// A drop body that is live now, with `overrides` merged over the defaults.
pub fn drop_body(total_units: u32, overrides: Value) -> Value {
    let now = chrono::Utc::now();
    let mut body = json!({
        "name": "Test drop",
        "description": "for tests",
        "price": { "amount": 12500, "currency": "EUR" },
        "total_units": total_units,
        "starts_at": (now - chrono::Duration::minutes(1)).to_rfc3339(),
    });
    if let (Value::Object(base), Value::Object(extra)) = (&mut body, overrides) {
        base.extend(extra);
    }
    body
}

/// A queued drop: the queue is open now, the drop starts `starts_in_ms` from now.
pub fn queued_drop_body(total_units: u32, starts_in_ms: i64, overrides: Value) -> Value {
    let now = chrono::Utc::now();
    let mut body = drop_body(
        total_units,
        json!({
            "starts_at": (now + chrono::Duration::milliseconds(starts_in_ms)).to_rfc3339(),
            "queue": { "opens_at": (now - chrono::Duration::seconds(1)).to_rfc3339() },
        }),
    );
    if let (Value::Object(base), Value::Object(extra)) = (&mut body, overrides) {
        base.extend(extra);
    }
    body
}

/// An API Gateway HTTP API (payload 2.0) event, as the JWT authorizer passes it to Lambda, turned
/// into a request by `lambda_http` itself.
pub fn event(
    method: &str,
    route: &str,
    path_params: &[(&str, &str)],
    body: Option<&str>,
    caller: Caller<'_>,
) -> Request {
    event_with_headers(method, route, path_params, body, caller, json!({}))
}

pub fn event_with_headers(
    method: &str,
    route: &str,
    path_params: &[(&str, &str)],
    body: Option<&str>,
    caller: Caller<'_>,
    extra_headers: Value,
) -> Request {
    let event = event_json(method, route, path_params, body, caller, extra_headers);
    lambda_http::request::from_str(&event.to_string()).expect("a valid API Gateway v2 event")
}

/// The raw event JSON, as the Lambda service hands it to a function.
/// `route` is the API Gateway route (`/drops/{drop_id}`); the path fills in `path_params`.
pub fn event_json(
    method: &str,
    route: &str,
    path_params: &[(&str, &str)],
    body: Option<&str>,
    caller: Caller<'_>,
    extra_headers: Value,
) -> Value {
    let path = path_params
        .iter()
        .fold(route.to_string(), |path, (name, value)| {
            path.replace(&format!("{{{name}}}"), value)
        });
    let mut headers = json!({ "content-type": "application/json", "host": "api.burst.test" });
    if let (Value::Object(base), Value::Object(extra)) = (&mut headers, extra_headers) {
        base.extend(extra);
    }
    let route_key = format!("{method} {route}");
    let mut context = json!({
        "accountId": "123456789012",
        "apiId": "burstapi",
        "domainName": "api.burst.test",
        "domainPrefix": "api",
        "http": { "method": method, "path": path, "protocol": "HTTP/1.1",
                  "sourceIp": "127.0.0.1", "userAgent": "burst-tests" },
        "requestId": uuid::Uuid::new_v4().to_string(),
        "routeKey": route_key,
        "stage": "$default",
        "time": "23/Nov/2026:18:00:00 +0000",
        "timeEpoch": 1_795_000_000_000_i64,
    });
    let claims = match caller {
        Caller::Anonymous => None,
        Caller::Shopper(sub) => Some(json!({ "sub": sub, "cognito:groups": "[shoppers]" })),
        Caller::Member(sub, group) => {
            Some(json!({ "sub": sub, "cognito:groups": format!("[shoppers {group}]") }))
        }
        Caller::Admin(sub) => Some(json!({ "sub": sub, "cognito:groups": "[admin]" })),
    };
    if let Some(claims) = claims {
        context["authorizer"] = json!({ "jwt": { "claims": claims, "scopes": null } });
    }
    let params: serde_json::Map<String, Value> = path_params
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": context,
        "pathParameters": params,
        "body": body,
        "isBase64Encoded": false,
    })
}

/// The WebSocket route functions (`ws-*`), in-process, as the local gateway invokes them by name:
/// their answer, or `None` for a name that is not a WebSocket route (the fan-out, which callers
/// run with their own push client).
pub async fn invoke_ws_route(
    app: Arc<App>,
    name: &str,
    event: Value,
) -> Option<Result<Value, String>> {
    let request = |event: Value| {
        serde_json::from_value::<burst::ws::WsRequest>(event).map_err(|e| e.to_string())
    };
    let answer = match name {
        "ws-connect" | "ws-disconnect" | "ws-subscribe" | "ws-unsubscribe" | "ws-default" => {
            match request(event) {
                Err(error) => return Some(Err(error)),
                Ok(request) => match name {
                    "ws-connect" => burst::ws::connect(app, request).await,
                    "ws-disconnect" => burst::ws::disconnect(app, request).await,
                    "ws-subscribe" => burst::ws::subscribe(app, request).await,
                    "ws-unsubscribe" => burst::ws::unsubscribe(app, request).await,
                    _ => burst::ws::unknown(app, request).await,
                },
            }
        }
        _ => return None,
    };
    Some(serde_json::to_value(answer).map_err(|e| e.to_string()))
}

/// Adds a query string to an event, as API Gateway passes it.
pub fn with_query(event: &mut Value, query: &[(&str, &str)]) {
    let raw = form_urlencoded_pairs(query);
    event["rawQueryString"] = json!(raw);
    let params: serde_json::Map<String, Value> = query
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    event["queryStringParameters"] = Value::Object(params);
}

fn form_urlencoded_pairs(query: &[(&str, &str)]) -> String {
    query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Runs `count` calls of `call(i)` truly in parallel: every task is spawned first and released
/// together by a barrier. At most `in_flight` run at once, as a Lambda function's concurrency
/// would bound them (and DynamoDB Local's listen backlog of 50 needs).
pub async fn herd<F, Fut, T>(count: usize, in_flight: usize, call: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let start = Arc::new(tokio::sync::Barrier::new(count));
    let gate = Arc::new(tokio::sync::Semaphore::new(in_flight));
    let tasks: Vec<_> = (0..count)
        .map(|i| {
            let start = start.clone();
            let gate = gate.clone();
            let work = call(i);
            tokio::spawn(async move {
                start.wait().await;
                let _permit = gate.acquire_owned().await.expect("gate open");
                work.await
            })
        })
        .collect();
    let mut results = Vec::with_capacity(count);
    for task in tasks {
        results.push(task.await.expect("herd task"));
    }
    results
}

/// Asserts the audit balances and returns it.
pub async fn assert_consistent(env: &TestEnv, drop_id: &str) -> Value {
    let audit = env.audit(drop_id).await;
    assert_eq!(audit["consistent"], true, "audit: {audit:#}");
    audit
}
