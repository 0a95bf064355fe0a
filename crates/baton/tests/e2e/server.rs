//! A `baton serve` on a free port, its database in a directory that
//! outlives restarts; and the CLI pointed at it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

pub const BATON: &str = env!("CARGO_BIN_EXE_baton");

pub struct Server {
    pub dir: tempfile::TempDir,
    pub url: String,
    port: u16,
    child: Option<Child>,
    /// Set in the server's environment.
    env: Vec<(String, String)>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Server {
    pub fn start() -> Server {
        Self::start_with_env(&[])
    }

    pub fn start_with_env(env: &[(&str, &str)]) -> Server {
        let port = free_port();
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let dir = tempfile::tempdir().unwrap();
        let mut server = Server { dir, url: format!("http://127.0.0.1:{port}"), port, child: None, env };
        server.launch();
        server
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn launch(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.path("serve.log")).unwrap();
        let child = Command::new(BATON)
            .args(["serve", "--listen", &format!("127.0.0.1:{}", self.port)])
            .arg("--database")
            .arg(self.path("baton.db"))
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(self.dir.path())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        self.wait_healthy();
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = self.cli(&["get", "workflows"]);
            if out.status.success() {
                return;
            }
            assert!(Instant::now() < deadline, "server did not start: {}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("serve.log")).unwrap_or_default()
    }

    /// SIGKILL: no chance to clean up, as in a crash.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    pub fn restart(&mut self) {
        self.kill9();
        self.launch();
    }

    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(BATON).args(args).env("BATON_SERVER", &self.url).current_dir(self.dir.path()).output().unwrap()
    }

    /// Runs the CLI and insists that it succeeds.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(out.status.success(), "baton {args:?} failed: {}{}", text(&out.stdout), text(&out.stderr));
        text(&out.stdout)
    }

    pub fn write(&self, name: &str, content: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    pub fn apply(&self, name: &str, yaml: &str) {
        let path = self.write(name, yaml);
        self.ok(&["apply", "-f", path.to_str().unwrap()]);
    }

    /// Starts a run without following it; returns its id.
    pub fn start_run(&self, workflow: &str, inputs: &[&str]) -> String {
        let mut args = vec!["run", workflow, "-o", "json"];
        for i in inputs {
            args.extend(["--input", i]);
        }
        let run: Json = serde_json::from_str(&self.ok(&args)).unwrap();
        run["id"].as_str().unwrap().to_string()
    }

    pub fn detail(&self, id: &str) -> Json {
        serde_json::from_str(&self.ok(&["get", "runs", id, "-o", "json"])).unwrap()
    }

    /// Polls the run until `check` holds; a bounded wait for a state, not a timed assertion.
    pub fn until(&self, id: &str, what: &str, check: impl Fn(&Json) -> bool) -> Json {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let detail = self.detail(id);
            if check(&detail) {
                return detail;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}: {detail:#}\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn finished(&self, id: &str) -> Json {
        self.until(id, "the run to end", |d| {
            matches!(d["state"].as_str(), Some("succeeded" | "failed" | "cancelled" | "timed_out"))
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn steps(detail: &Json) -> Vec<Json> {
    detail["steps"].as_array().cloned().unwrap_or_default()
}

pub fn step<'a>(detail: &'a Json, key: &str) -> &'a Json {
    detail["steps"].as_array().unwrap().iter().find(|s| s["key"] == key).unwrap_or_else(|| panic!("no step {key}"))
}

pub fn time(value: &Json) -> chrono::DateTime<chrono::Utc> {
    value.as_str().unwrap().parse().unwrap()
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}
