//! Limits and sizes the engine runs with.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Step attempts (noop, shell, http) executing at once across all runs.
    pub slots: usize,
    /// Bytes of combined stdout/stderr kept per attempt.
    pub log_cap: usize,
    /// Bytes of the end of stdout and of stderr kept with the step.
    pub tail_bytes: usize,
    /// Time between SIGTERM and SIGKILL when a shell step is stopped.
    pub kill_grace: Duration,
    /// How long a graceful shutdown waits for runs to park.
    pub shutdown_grace: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            slots: 64,
            log_cap: 1024 * 1024,
            tail_bytes: 4096,
            kill_grace: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}
