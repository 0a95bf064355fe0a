//! `baton run NAME --input k=v [--follow]`.

use anyhow::Result;
use baton_model::RunState;
use baton_server::api::StartRun;
use baton_store::RunRecord;
use serde_json::Value as Json;

use crate::cli::{Output, RunArgs};
use crate::client::{Client, segment};

/// Starts the run; with `--follow`, returns how it ended.
pub async fn run(client: &Client, args: &RunArgs) -> Result<Option<RunState>> {
    let inputs = args.inputs.iter().map(|(k, v)| (k.clone(), Json::String(v.clone()))).collect();
    let body = StartRun { inputs, version: args.version };
    let path = format!("/api/v1/workflows/{}/runs?tenant={}", segment(&args.workflow), segment(&args.tenant));
    let run: RunRecord = client.post(&path, &body).await?;
    if !args.follow {
        if args.output == Output::Json {
            crate::commands::print_json(&run)?;
        } else {
            println!("run {} started: {} v{}", run.id, run.workflow, run.version);
        }
        return Ok(None);
    }
    let state = super::follow::follow(client, &run.id.to_string(), args.output == Output::Json).await?;
    Ok(Some(state))
}
