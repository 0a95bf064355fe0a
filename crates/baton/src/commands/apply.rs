//! `baton apply -f FILE…`: every file is checked first; if all are valid,
//! each is sent to the server, which stores changed workflows as new versions.

use anyhow::Result;
use baton_server::api::ApplyResult;
use reqwest::Method;

use crate::cli::{ApplyArgs, Output};
use crate::client::Client;
use crate::files;

/// Returns false when a file is invalid (then nothing was applied).
pub async fn apply(client: &Client, args: &ApplyArgs) -> Result<bool> {
    let sources = files::read_all(&args.files)?;
    let problems: Vec<_> = sources.iter().filter_map(|s| baton_model::load(&s.name, &s.text).err()).flatten().collect();
    if !problems.is_empty() {
        for p in &problems {
            println!("{p}");
        }
        eprintln!("{} problem(s) found; nothing was applied", problems.len());
        return Ok(false);
    }
    let mut all = Vec::new();
    for source in &sources {
        let request = client
            .request(Method::POST, "/api/v1/apply")
            .query(&[("file", source.name.as_str()), ("dry_run", if args.dry_run { "true" } else { "false" })])
            .header("content-type", "application/yaml")
            .body(source.text.clone());
        let result: ApplyResult = client.json(request).await?;
        all.extend(result.resources);
    }
    if args.output == Output::Json {
        crate::commands::print_json(&all)?;
        return Ok(true);
    }
    for r in &all {
        let outcome = match r.outcome.as_str() {
            "unchanged" => format!("unchanged (v{})", r.version),
            other => format!("{other} (v{})", r.version),
        };
        let dry = if r.dry_run { " [dry run]" } else { "" };
        println!("{}/{} in {}: {outcome}{dry}", r.kind.to_lowercase(), r.name, r.tenant);
    }
    Ok(true)
}
