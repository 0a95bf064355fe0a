//! `shell` steps: a script in its own process group, so that a timeout or a
//! cancel kills everything it started, not just the shell.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_model::kinds::ShellArgs;
use serde_json::Value as Json;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tokio::sync::watch;

use super::capture::{Capture, Stream};
use super::group::ProcessGroup;
use super::{Executor, Outcome, Request, Status, Stop, stopped, timed_out};

/// How long pipes may stay open after the process group is gone (a
/// grandchild that left the group can hold them forever).
const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// How long processes a script left behind get between SIGTERM and SIGKILL.
const LEFTOVER_GRACE: Duration = Duration::from_secs(1);

enum End {
    Exited(std::process::ExitStatus),
    TimedOut,
    Stopped(Stop),
}

pub async fn run(exec: &Executor, req: &Request, mut stop: watch::Receiver<Option<Stop>>) -> Outcome {
    let args: ShellArgs = match serde_json::from_value(req.with.clone()) {
        Ok(a) => a,
        Err(e) => return Outcome::failed(format!("invalid `with` for a shell step: {e}")),
    };
    let workspace = match Workspace::create() {
        Ok(w) => w,
        Err(e) => return Outcome::failed(format!("cannot create the step's output file: {e}")),
    };
    let mut child = match command(&args, req, &workspace.outputs).spawn() {
        Ok(c) => c,
        Err(e) => {
            let shell = args.shell.as_deref().unwrap_or("sh");
            return Outcome::failed(format!("cannot start `{shell}`: {e}"));
        }
    };
    let mut group = ProcessGroup::of(&child);
    let capture = Arc::new(Mutex::new(Capture::new(exec.config.log_cap, exec.config.tail_bytes)));
    let readers = spawn_readers(&mut child, &capture);

    let end = tokio::select! {
        status = child.wait() => match status {
            Ok(s) => End::Exited(s),
            // `group` is dropped on return, which kills it.
            Err(e) => return Outcome::failed(format!("waiting for the shell failed: {e}")),
        },
        _ = timed_out(exec.clock.as_ref(), req.timeout) => End::TimedOut,
        why = stopped(&mut stop) => End::Stopped(why),
    };
    let status = match &end {
        End::Exited(s) => {
            // Whatever the script left running in its group goes with it.
            group.clean_up(LEFTOVER_GRACE.min(exec.config.kill_grace)).await;
            Some(*s)
        }
        End::TimedOut | End::Stopped(_) => group.stop(&mut child, exec.config.kill_grace).await,
    };
    drain(readers).await;

    let mut capture = capture.lock().unwrap_or_else(|e| e.into_inner());
    let mut outcome = judge(&end, status, req, &mut capture, &workspace);
    outcome.stdout_tail = Some(capture.stdout_tail());
    outcome.stderr_tail = Some(capture.stderr_tail());
    outcome.log = Some(capture.log());
    outcome
}

fn command(args: &ShellArgs, req: &Request, outputs: &std::path::Path) -> Command {
    let mut cmd = Command::new(args.shell.as_deref().unwrap_or("sh"));
    cmd.arg("-c").arg(&args.run);
    cmd.process_group(0);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.env("BATON_OUTPUT", outputs)
        .env("BATON_IDEMPOTENCY_KEY", &req.idempotency_key)
        .env("BATON_RUN_ID", req.run_id.to_string())
        .env("BATON_STEP", &req.key)
        .env("BATON_ATTEMPT", req.attempt.to_string());
    for (name, value) in &args.env {
        match value {
            Json::String(s) => cmd.env(name, s),
            other => cmd.env(name, other.to_string()),
        };
    }
    if let Some(dir) = &args.workdir {
        cmd.current_dir(dir);
    }
    cmd
}

fn spawn_readers(child: &mut Child, capture: &Arc<Mutex<Capture>>) -> Vec<tokio::task::JoinHandle<()>> {
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        readers.push(tokio::spawn(pump(out, Stream::Stdout, capture.clone())));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(tokio::spawn(pump(err, Stream::Stderr, capture.clone())));
    }
    readers
}

async fn pump(mut pipe: impl AsyncRead + Unpin, stream: Stream, capture: Arc<Mutex<Capture>>) {
    let mut buf = vec![0u8; 16 * 1024];
    while let Ok(n) = pipe.read(&mut buf).await {
        if n == 0 {
            break;
        }
        capture.lock().unwrap_or_else(|e| e.into_inner()).push(stream, &buf[..n]);
    }
}

/// Waits for the output pipes to close; a grandchild that left the group
/// may hold them open forever, so the readers are abandoned after a while.
async fn drain(readers: Vec<tokio::task::JoinHandle<()>>) {
    let aborts: Vec<_> = readers.iter().map(|r| r.abort_handle()).collect();
    if tokio::time::timeout(DRAIN_LIMIT, futures_util::future::join_all(readers)).await.is_err() {
        aborts.iter().for_each(|a| a.abort());
    }
}

fn judge(
    end: &End,
    status: Option<std::process::ExitStatus>,
    req: &Request,
    capture: &mut Capture,
    workspace: &Workspace,
) -> Outcome {
    use std::os::unix::process::ExitStatusExt;
    let exit_code = status.and_then(|s| s.code());
    let mut outcome = match end {
        End::TimedOut => {
            let limit = req.timeout.map(|t| humantime::format_duration(t).to_string()).unwrap_or_default();
            let reason = format!("timed out after {limit}; its process group was killed");
            capture.note(&format!("\n[baton] {reason}\n"));
            Outcome { reason: Some(reason), ..Outcome::new(Status::TimedOut) }
        }
        End::Stopped(why) => {
            capture.note("\n[baton] stopped; its process group was killed\n");
            Outcome::stopped(*why)
        }
        End::Exited(s) if s.success() => match workspace.read_outputs() {
            Ok(outputs) => Outcome { outputs, ..Outcome::new(Status::Succeeded) },
            Err(e) => Outcome::failed(e),
        },
        End::Exited(s) => {
            let how = match (s.code(), s.signal()) {
                (Some(code), _) => format!("exit code {code}"),
                (None, Some(sig)) => format!("killed by signal {sig}"),
                (None, None) => "ended without an exit code".to_string(),
            };
            // What the script said last is usually why: put it in the reason.
            let said = last_line(&capture.stderr_tail()).or_else(|| last_line(&capture.stdout_tail()));
            let reason = said.map_or(how.clone(), |line| format!("{how}: {line}"));
            // A failing step may still report what it found.
            Outcome { outputs: workspace.read_outputs().ok().flatten(), signal: s.signal(), ..Outcome::failed(reason) }
        }
    };
    outcome.exit_code = exit_code;
    outcome
}

/// The last non-empty line, cut to a length that fits a reason.
fn last_line(text: &str) -> Option<String> {
    let line = text.lines().rev().map(str::trim).find(|l| !l.is_empty())?;
    Some(if line.chars().count() > 200 {
        format!("{}…", line.chars().take(199).collect::<String>())
    } else {
        line.to_string()
    })
}

/// A private directory holding the file named by `$BATON_OUTPUT`.
struct Workspace {
    dir: PathBuf,
    outputs: PathBuf,
}

/// Outputs larger than this are refused: they are stored with the step.
const OUTPUTS_CAP: u64 = 1024 * 1024;

impl Workspace {
    fn create() -> std::io::Result<Self> {
        let dir = std::env::temp_dir().join(format!("baton-{}-{}", std::process::id(), uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir)?;
        let outputs = dir.join("outputs.json");
        std::fs::write(&outputs, b"")?;
        Ok(Workspace { dir, outputs })
    }

    fn read_outputs(&self) -> Result<Option<Json>, String> {
        let size = std::fs::metadata(&self.outputs).map(|m| m.len()).unwrap_or(0);
        if size > OUTPUTS_CAP {
            return Err(format!("$BATON_OUTPUT holds {size} bytes; the limit is {OUTPUTS_CAP}"));
        }
        let text = std::fs::read_to_string(&self.outputs).unwrap_or_default();
        if text.trim().is_empty() {
            return Ok(None);
        }
        serde_json::from_str(&text).map(Some).map_err(|e| format!("$BATON_OUTPUT is not valid JSON: {e}"))
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
