//! The `baton` binary: the command line, configuration and wiring. The only
//! crate that names a concrete storage backend.

mod cli;
mod client;
mod commands;
mod files;
mod serve;

use std::process::ExitCode;

use baton_model::RunState;
use clap::Parser;

use cli::{Cli, Command};

/// Exit codes: 0 success; 1 the run failed, or files are invalid; 2 bad
/// usage or a request the server refused (or could not be reached); 3 the
/// run was cancelled; 4 it timed out.
fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_)) {
        // A client piped into `head` should stop quietly, as other CLIs do.
        // SAFETY: restoring the default disposition of a signal before any thread starts.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    init_tracing(matches!(cli.command, Command::Serve(_)));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let client = client::Client::new(&cli.server);
    match cli.command {
        Command::Serve(args) => serve::serve(args).await.map(|_| ExitCode::SUCCESS),
        Command::Validate(args) => {
            Ok(if commands::validate::validate(&args)? { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Apply(args) => {
            Ok(if commands::apply::apply(&client, &args).await? { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Get(args) => commands::get::get(&client, &args.what).await.map(|_| ExitCode::SUCCESS),
        Command::Run(args) => {
            commands::run::run(&client, &args).await.map(|state| state.map_or(ExitCode::SUCCESS, exit_code))
        }
        Command::Logs(args) => commands::logs::logs(&client, &args.run, args.step.as_deref(), args.attempt)
            .await
            .map(|_| ExitCode::SUCCESS),
        Command::Cancel(args) => commands::cancel::cancel(&client, &args.run).await.map(|_| ExitCode::SUCCESS),
        Command::Cron(command) => commands::cron::cron(&command).map(|_| ExitCode::SUCCESS),
        Command::Schedule(command) => commands::schedule::command(&client, &command).await.map(|_| ExitCode::SUCCESS),
        Command::Trigger(command) => commands::trigger::command(&client, &command).await.map(|_| ExitCode::SUCCESS),
        Command::Webhook(command) => commands::trigger::webhook(&command).map(|_| ExitCode::SUCCESS),
    }
}

/// `baton run --follow` exits with the run's outcome.
fn exit_code(state: RunState) -> ExitCode {
    match state {
        RunState::Succeeded => ExitCode::SUCCESS,
        RunState::Cancelled => ExitCode::from(3),
        RunState::TimedOut => ExitCode::from(4),
        _ => ExitCode::FAILURE,
    }
}

/// Logs go to stderr; `BATON_LOG` (or `RUST_LOG`) filters them.
fn init_tracing(server: bool) {
    let default = if server { "info,sqlx=warn" } else { "warn" };
    let filter =
        std::env::var("BATON_LOG").or_else(|_| std::env::var("RUST_LOG")).unwrap_or_else(|_| default.to_string());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .init();
}
