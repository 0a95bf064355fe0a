//! A `baton serve` of our own on a free port and a fresh database.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

pub struct Server {
    child: Child,
    pub base: String,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

fn baton_binary() -> PathBuf {
    if let Ok(path) = std::env::var("BATON_BIN") {
        return path.into();
    }
    let me = std::env::current_exe().unwrap_or_default();
    me.with_file_name("baton")
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

impl Server {
    pub async fn start() -> Result<Self> {
        Self::start_in(tempfile::tempdir()?).await
    }

    /// Starts on the database in `dir` (created if missing).
    pub async fn start_in(dir: tempfile::TempDir) -> Result<Self> {
        let port = free_port()?;
        let binary = baton_binary();
        let log = std::fs::File::create(dir.path().join("serve.log"))?;
        let child = Command::new(&binary)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--database")
            .arg(dir.path().join("baton.db"))
            .env("BATON_LOG", "warn")
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let server =
            Server { child, base: format!("http://127.0.0.1:{port}"), http: reqwest::Client::new(), _dir: dir };
        server.wait_healthy().await?;
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server and gives back its directory (with the database).
    pub async fn stop_keep(mut self) -> tempfile::TempDir {
        // SAFETY: sends SIGTERM to our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let mut child = std::mem::replace(&mut self.child, Command::new("true").spawn().expect("true runs"));
        let _ = tokio::task::spawn_blocking(move || child.wait()).await;
        std::mem::replace(&mut self._dir, tempfile::tempdir().expect("a temp dir"))
    }

    async fn wait_healthy(&self) -> Result<()> {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(120) {
            if let Ok(r) = self.http.get(format!("{}/api/v1/health", self.base)).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        bail!("the server did not become healthy in 120s")
    }

    /// The server's peak resident set, from the kernel's high-water mark.
    pub fn peak_rss_mb(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let kb = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse::<f64>().ok())
            .unwrap_or(0.0);
        (kb / 1024.0 * 10.0).round() / 10.0
    }

    pub async fn stop(mut self) {
        // SAFETY: sends SIGTERM to our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = tokio::task::spawn_blocking(move || self.child.wait()).await;
    }

    pub async fn apply(&self, yaml: String) -> Result<()> {
        let r = self.http.post(format!("{}/api/v1/apply", self.base)).body(yaml).send().await?;
        if !r.status().is_success() {
            bail!("apply failed: {}", r.text().await?);
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}
