//! Real `lso serve` processes for the tests that kill them (SIGKILL) or stop them (SIGTERM),
//! and the CLI's tokens for them; the kill tests themselves are in `cluster.rs` (one node on
//! SQLite, three on PostgreSQL, killed again and again) and `postgres.rs` (a node's work taken
//! over by another).

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// A `lso serve` child process and the lines it has logged, killed (SIGKILL) when dropped.
pub struct Process {
    child: Child,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Process {
    /// Asks it to stop (SIGTERM, as systemd does) and waits until it has.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let asked = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(asked.success());
        self.child.wait().unwrap()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `lso serve` on `data_dir` with `settings` in its environment, and returns once it
/// logs that it is serving.
pub fn serve_with(data_dir: &std::path::Path, settings: &[(&str, &str)]) -> (Process, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lso"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("RUST_LOG", "info")
        .env("LSO_LOG_FORMAT", "json")
        .env("LSO_NOTIFICATIONS__FIRST_RETRY_MILLIS", "50")
        .env("LSO_NOTIFICATIONS__MAX_RETRY_MILLIS", "500")
        .env("LSO_NOTIFICATIONS__ALLOW_PRIVATE_CALLBACKS", "true")
        .env("LSO_HTTP__RATE_LIMIT_PER_SECOND", "0")
        .envs(settings.iter().copied())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let address = loop {
        let line = lines.next().expect("lso exited before serving").unwrap();
        let entry: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if entry["fields"]["message"] == "lso is serving" {
            break entry["fields"]["addr"].as_str().unwrap().to_owned();
        }
    };
    // Keep reading the log so the child never blocks on a full pipe.
    let log = Arc::new(Mutex::new(Vec::new()));
    let kept = log.clone();
    std::thread::spawn(move || lines.map_while(Result::ok).for_each(|line| kept.lock().unwrap().push(line)));
    (Process { child, log }, address)
}

pub fn token(data_dir: &std::path::Path, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_lso"))
        .arg("token")
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

pub async fn call(
    client: &reqwest::Client,
    token: &str,
    method: reqwest::Method,
    url: String,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut request = client.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}
