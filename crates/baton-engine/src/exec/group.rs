//! A shell step's process group: stopped as a whole, and never left behind.

use std::time::Duration;

use tokio::process::Child;

/// How often an emptying group is looked at.
const POLL: Duration = Duration::from_millis(20);

/// The group led by a step's shell. Dropping it (the attempt's task is
/// dropped when the runtime goes away) kills whatever is left in it.
pub struct ProcessGroup {
    pgid: Option<i32>,
}

impl ProcessGroup {
    /// The group of a child spawned with `process_group(0)`.
    pub fn of(child: &Child) -> Self {
        ProcessGroup { pgid: child.id().map(|id| id as i32).filter(|id| *id > 1) }
    }

    fn signal(&self, signal: i32) {
        if let Some(pgid) = self.pgid {
            // SAFETY: killpg only sends a signal; a group that is gone gives ESRCH.
            unsafe {
                libc::killpg(pgid, signal);
            }
        }
    }

    /// No process (zombies included) is left in the group.
    fn is_empty(&self) -> bool {
        let Some(pgid) = self.pgid else { return true };
        // SAFETY: signal 0 only checks that the group exists.
        let alive = unsafe { libc::killpg(pgid, 0) } == 0;
        !alive && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
    }

    /// SIGTERM to every member, `grace` for them to go (the shell is reaped
    /// meanwhile), then SIGKILL to what remains. Returns the shell's status.
    pub async fn stop(&mut self, child: &mut Child, grace: Duration) -> Option<std::process::ExitStatus> {
        self.signal(libc::SIGTERM);
        let deadline = tokio::time::Instant::now() + grace;
        let status = match tokio::time::timeout_at(deadline, child.wait()).await {
            Ok(status) => status.ok(),
            Err(_) => None,
        };
        self.sweep(deadline).await;
        match status {
            Some(s) => Some(s),
            None => child.wait().await.ok(),
        }
    }

    /// After the shell exited on its own: what it left running gets SIGTERM,
    /// then SIGKILL once `grace` is over.
    pub async fn clean_up(&mut self, grace: Duration) {
        self.signal(libc::SIGTERM);
        self.sweep(tokio::time::Instant::now() + grace).await;
    }

    async fn sweep(&mut self, deadline: tokio::time::Instant) {
        while !self.is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(POLL).await;
        }
        self.signal(libc::SIGKILL);
        // The group is gone: its id may be reused, so never signal it again.
        self.pgid = None;
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.signal(libc::SIGKILL);
    }
}
