//! `baton cancel RUN`.

use anyhow::Result;
use baton_store::RunRecord;

use crate::client::{Client, segment};

pub async fn cancel(client: &Client, run: &str) -> Result<()> {
    let run: RunRecord = client.post(&format!("/api/v1/runs/{}/cancel", segment(run)), &()).await?;
    println!("run {}: cancel requested (it was {})", run.id, run.state);
    Ok(())
}
