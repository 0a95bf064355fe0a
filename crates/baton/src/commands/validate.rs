//! `baton validate -f FILE…`: checks resources locally, no server needed.

use anyhow::Result;
use serde_json::json;

use crate::cli::{Output, ValidateArgs};
use crate::files;

/// Returns whether everything is valid.
pub fn validate(args: &ValidateArgs) -> Result<bool> {
    let sources = files::read_all(&args.files)?;
    let mut resources = 0;
    let mut problems = Vec::new();
    for source in &sources {
        match baton_model::load(&source.name, &source.text) {
            Ok(found) => resources += found.len(),
            Err(mut found) => problems.append(&mut found),
        }
    }
    if args.output == Output::Json {
        crate::commands::print_json(
            &json!({"valid": problems.is_empty(), "resources": resources, "errors": problems}),
        )?;
        return Ok(problems.is_empty());
    }
    for p in &problems {
        println!("{p}");
    }
    if problems.is_empty() {
        eprintln!("{resources} resource(s) in {} file(s): valid", sources.len());
    } else {
        eprintln!("{} problem(s) in {} file(s)", problems.len(), sources.len());
    }
    Ok(problems.is_empty())
}
