//! A Lambda Runtime API emulator, so the benchmark runs the real `claim` binary as Lambda would:
//! a pool of processes (execution environments), each polling its own endpoint for the next
//! invocation and handling one at a time, all fed from one queue.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};

/// What came back for one invocation.
#[derive(Debug)]
pub struct Outcome {
    /// The function's HTTP status (from its API Gateway response), 0 for a function error.
    pub status: u16,
    pub body: String,
    /// From handing the event to a process until it answered: Lambda's "duration".
    pub duration: Duration,
}

struct Invocation {
    id: String,
    event: String,
    reply: oneshot::Sender<Outcome>,
}

type Queue = Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>>;
type InFlight = Arc<Mutex<HashMap<String, (Instant, oneshot::Sender<Outcome>)>>>;

pub struct Pool {
    sender: mpsc::UnboundedSender<Invocation>,
    environments: Vec<Environment>,
    pub conflict_warnings: Arc<Mutex<u64>>,
}

struct Environment {
    child: Child,
    /// Spawn → first answered invocation.
    pub cold_start: Arc<Mutex<Option<Duration>>>,
}

impl Pool {
    /// Starts `size` processes of `binary`, each with its own Runtime API endpoint.
    pub async fn start(binary: &Path, size: usize, env: &[(&str, String)]) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        let queue: Queue = Arc::new(tokio::sync::Mutex::new(receiver));
        let conflict_warnings = Arc::new(Mutex::new(0));
        let mut environments = Vec::with_capacity(size);
        for _ in 0..size {
            environments.push(
                Environment::start(binary, queue.clone(), env, conflict_warnings.clone()).await,
            );
        }
        Self {
            sender,
            environments,
            conflict_warnings,
        }
    }

    pub fn invoke(&self, event: String) -> oneshot::Receiver<Outcome> {
        let (reply, outcome) = oneshot::channel();
        let invocation = Invocation {
            id: uuid::Uuid::new_v4().to_string(),
            event,
            reply,
        };
        assert!(self.sender.send(invocation).is_ok(), "the pool is stopped");
        outcome
    }

    /// The highest peak resident memory (VmHWM) of any process in the pool, in bytes.
    pub fn peak_memory(&self) -> u64 {
        self.environments
            .iter()
            .filter_map(|e| e.child.id())
            .filter_map(peak_rss)
            .max()
            .unwrap_or(0)
    }

    pub fn cold_starts(&self) -> Vec<Duration> {
        self.environments
            .iter()
            .filter_map(|e| *e.cold_start.lock().unwrap())
            .collect()
    }

    pub async fn stop(mut self) {
        for environment in &mut self.environments {
            let _ = environment.child.kill().await;
        }
    }
}

impl Environment {
    async fn start(
        binary: &Path,
        queue: Queue,
        env: &[(&str, String)],
        conflict_warnings: Arc<Mutex<u64>>,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind runtime api");
        let address = listener.local_addr().expect("local addr");
        let in_flight: InFlight = Arc::default();
        let cold_start = Arc::new(Mutex::new(None));
        let spawned_at = Instant::now();

        let serving = (queue, in_flight, cold_start.clone(), spawned_at);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (queue, in_flight, cold_start, spawned_at) = serving.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        handle(
                            request,
                            queue.clone(),
                            in_flight.clone(),
                            cold_start.clone(),
                            spawned_at,
                        )
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });

        let mut command = Command::new(binary);
        command
            .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "claim")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/claim")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command
            .spawn()
            .expect("spawn the claim binary (build it with --release)");
        let stdout = child.stdout.take().expect("piped stdout");
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("transaction conflict") {
                    *conflict_warnings.lock().unwrap() += 1;
                }
            }
        });
        Self { child, cold_start }
    }
}

async fn handle(
    request: Request<Incoming>,
    queue: Queue,
    in_flight: InFlight,
    cold_start: Arc<Mutex<Option<Duration>>>,
    spawned_at: Instant,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_string();
    if request.method() == hyper::Method::GET && path.ends_with("/runtime/invocation/next") {
        let Some(invocation) = queue.lock().await.recv().await else {
            // The benchmark is over: keep this poll open until the process is killed.
            std::future::pending::<()>().await;
            unreachable!()
        };
        in_flight
            .lock()
            .unwrap()
            .insert(invocation.id.clone(), (Instant::now(), invocation.reply));
        let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
        return Ok(Response::builder()
            .header("Lambda-Runtime-Aws-Request-Id", &invocation.id)
            .header("Lambda-Runtime-Deadline-Ms", deadline.to_string())
            .header(
                "Lambda-Runtime-Invoked-Function-Arn",
                "arn:aws:lambda:us-east-1:123456789012:function:claim",
            )
            .header(
                "Lambda-Runtime-Trace-Id",
                "Root=1-00000000-000000000000000000000000",
            )
            .body(Full::new(Bytes::from(invocation.event)))
            .expect("static response"));
    }
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut segments = path.rsplit('/');
    let kind = segments.next().unwrap_or("");
    let id = segments.next().unwrap_or("").to_string();
    let answered = (kind == "response" || kind == "error")
        .then(|| in_flight.lock().unwrap().remove(&id))
        .flatten();
    if let Some((dispatched, reply)) = answered {
        let duration = dispatched.elapsed();
        cold_start
            .lock()
            .unwrap()
            .get_or_insert_with(|| spawned_at.elapsed());
        let text = String::from_utf8_lossy(&body).to_string();
        let (status, body) = if kind == "response" {
            let response: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            (
                response["statusCode"].as_u64().unwrap_or(0) as u16,
                response["body"].as_str().unwrap_or_default().to_string(),
            )
        } else {
            (0, text)
        };
        let _ = reply.send(Outcome {
            status,
            body,
            duration,
        });
    }
    Ok(Response::builder()
        .status(202)
        .body(Full::new(Bytes::from_static(b"{}")))
        .expect("static response"))
}

fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
