//! The command line: what a user types.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "baton", version, about = "baton runs an operations team's automation: durable workflows from YAML.")]
pub struct Cli {
    /// The baton server the client commands talk to.
    #[arg(long, global = true, env = "BATON_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: REST API and engine, state in one SQLite file.
    Serve(ServeArgs),
    /// Store resources from YAML or JSON files (a new version when a workflow changed).
    Apply(ApplyArgs),
    /// Check resource files without a server; every problem with file:line:col.
    Validate(ValidateArgs),
    /// List workflows or runs, or show one run.
    Get(GetArgs),
    /// Start a run of a workflow.
    Run(RunArgs),
    /// Print the logs of a run's steps.
    Logs(LogsArgs),
    /// Cancel a run: stop its steps now (no compensation).
    Cancel(CancelArgs),
    /// Cron expressions: when they fire, in words (no server needed).
    #[command(subcommand)]
    Cron(CronCommand),
    /// Pause, resume, fire by hand, delete a schedule; its history; counts.
    #[command(subcommand)]
    Schedule(ScheduleCommand),
    /// Webhook and event triggers: history, delete.
    #[command(subcommand)]
    Trigger(TriggerCommand),
    /// Webhook helpers: sign a body as a sender would.
    #[command(subcommand)]
    Webhook(WebhookCommand),
}

#[derive(Debug, Subcommand)]
pub enum TriggerCommand {
    /// The latest deliveries and what became of them.
    History {
        #[command(flatten)]
        trigger: ResourceName,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(short, long, value_enum, default_value_t)]
        output: Output,
    },
    /// Removes a trigger and its history.
    Delete(ResourceName),
}

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Prints the `Baton-Signature` header value for a body, e.g.
    /// curl -H "Baton-Signature: $(baton webhook sign --secret-env HOOK_SECRET -f body.json)" …
    Sign(WebhookSignArgs),
}

#[derive(Debug, Args)]
pub struct WebhookSignArgs {
    /// The environment variable holding the secret.
    #[arg(long, conflicts_with = "secret", required_unless_present = "secret")]
    pub secret_env: Option<String>,
    /// The secret itself (it shows in the shell's history: prefer --secret-env).
    #[arg(long)]
    pub secret: Option<String>,
    /// The body to sign; standard input when absent or `-`.
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    /// Unix seconds to sign at; now when absent.
    #[arg(long)]
    pub timestamp: Option<i64>,
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Stop firing (due times are recorded as paused).
    Pause(ResourceName),
    /// Fire again.
    Resume(ResourceName),
    /// Fire now, under the schedule's overlap policy.
    Trigger(ResourceName),
    /// Remove the schedule and its history.
    Delete(ResourceName),
    /// Every due time and what became of it, newest first.
    History {
        #[command(flatten)]
        schedule: ResourceName,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(short, long, value_enum, default_value_t)]
        output: Output,
    },
    /// Counts across schedules, and fires of the last `--hours` by outcome.
    Stats {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long, default_value_t = 24)]
        hours: i64,
        #[arg(short, long, value_enum, default_value_t)]
        output: Output,
    },
}

#[derive(Debug, Args)]
pub struct ResourceName {
    pub name: String,
    #[arg(long, default_value = "default")]
    pub tenant: String,
}

#[derive(Debug, Subcommand)]
pub enum CronCommand {
    /// The next fire instants, one per line (RFC 3339 with the zone's offset).
    Next(CronNextArgs),
    /// When the expression fires, in words.
    Explain(CronExplainArgs),
}

#[derive(Debug, Args)]
pub struct CronNextArgs {
    /// IANA time zone whose wall time the fields match.
    #[arg(long, default_value = "UTC")]
    pub tz: String,
    /// Start after this instant (RFC 3339); now when absent.
    #[arg(long)]
    pub after: Option<String>,
    /// How many fires.
    #[arg(short = 'n', default_value_t = 5)]
    pub count: usize,
    /// DST rule: `auto` (Debian cron's), `wall_clock` or `elapsed`.
    #[arg(long, default_value = "auto")]
    pub dst: String,
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Output,
    /// The expression (after `--`), e.g. `0 9 * * 1-5`.
    #[arg(required = true, num_args = 1.., allow_hyphen_values = true)]
    pub expr: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CronExplainArgs {
    #[arg(required = true, num_args = 1.., allow_hyphen_values = true)]
    pub expr: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "BATON_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// SQLite database file (created if missing).
    #[arg(long, env = "BATON_DATABASE", default_value = "./baton.db")]
    pub database: PathBuf,
    /// Step attempts executing at once, across all runs.
    #[arg(long, env = "BATON_SLOTS", default_value_t = 64)]
    pub slots: usize,
    /// Bytes of output kept per step attempt.
    #[arg(long, env = "BATON_LOG_CAP", default_value_t = 1024 * 1024)]
    pub log_cap: usize,
    /// `full` syncs every commit to disk (survives power loss); `normal` only
    /// at checkpoints (survives a killed process, faster).
    #[arg(long, env = "BATON_SYNC", value_enum, default_value_t = Sync::Normal)]
    pub sync: Sync,
    /// On SIGTERM/SIGINT, how long running steps may take to finish before
    /// they are interrupted (they run again at the next start).
    #[arg(long, env = "BATON_SHUTDOWN_GRACE", default_value = "10s", value_parser = parse_duration)]
    pub shutdown_grace: std::time::Duration,
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    text.parse::<baton_model::Duration>().map(|d| d.std()).map_err(|e| e.to_string())
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Sync {
    Normal,
    Full,
}

#[derive(Debug, Clone, Copy, Default, ValueEnum, PartialEq, Eq)]
pub enum Output {
    #[default]
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Files or directories (every .yaml, .yml and .json inside); `-` reads standard input.
    #[arg(short = 'f', long = "filename", required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Report what would change without storing anything.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[arg(short = 'f', long = "filename", required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    #[command(subcommand)]
    pub what: GetWhat,
}

#[derive(Debug, Subcommand)]
pub enum GetWhat {
    /// The latest version of every workflow.
    #[command(alias = "workflow", alias = "wf")]
    Workflows {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(short, long, value_enum, default_value_t)]
        output: Output,
    },
    /// Schedules with their next fire; with a name, its next five and recent history.
    #[command(alias = "schedule")]
    Schedules {
        name: Option<String>,
        #[arg(long)]
        tenant: Option<String>,
        #[arg(short, long, value_enum, default_value_t)]
        output: Output,
    },
    /// Runs, newest first; with an id (or a unique prefix), that run and its steps.
    /// Webhook and event triggers, with this server's counters.
    #[command(alias = "trigger")]
    Triggers {
        name: Option<String>,
        #[arg(long)]
        tenant: Option<String>,
        #[arg(short, long, value_enum, default_value_t)]
        output: Output,
    },
    #[command(alias = "run")]
    Runs {
        id: Option<String>,
        #[arg(long)]
        workflow: Option<String>,
        /// Comma-separated states, or `active`.
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(short, long, value_enum, default_value_t)]
        output: Output,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The workflow's name.
    pub workflow: String,
    /// An input, `name=value` (repeatable); lists and objects as JSON.
    #[arg(short, long = "input", value_parser = parse_input)]
    pub inputs: Vec<(String, String)>,
    #[arg(long, default_value = "default")]
    pub tenant: String,
    /// Run this version instead of the latest.
    #[arg(long)]
    pub version: Option<u32>,
    /// Show progress live and exit with the run's outcome.
    #[arg(long)]
    pub follow: bool,
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Output,
}

fn parse_input(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("`{text}` is not name=value")),
    }
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Run id or a unique prefix of it.
    pub run: String,
    /// One step (e.g. `build`, `deploy[2]`); every step when absent.
    pub step: Option<String>,
    /// An earlier attempt; the latest when absent.
    #[arg(long)]
    pub attempt: Option<u32>,
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    /// Run id or a unique prefix of it.
    pub run: String,
}
