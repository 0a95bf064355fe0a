//! Reading the files named by `-f`: files, directories of them, or stdin.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// One source text and the name to show for it.
pub struct Source {
    pub name: String,
    pub text: String,
}

pub fn read_all(paths: &[PathBuf]) -> Result<Vec<Source>> {
    let mut sources = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).context("reading standard input")?;
            sources.push(Source { name: "<stdin>".into(), text });
        } else if path.is_dir() {
            for file in resource_files(path)? {
                sources.push(read(&file)?);
            }
        } else {
            sources.push(read(path)?);
        }
    }
    Ok(sources)
}

fn read(path: &Path) -> Result<Source> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Source { name: path.display().to_string(), text })
}

/// `.yaml`, `.yml` and `.json` files directly inside `dir`, by name.
fn resource_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json")))
        .collect();
    files.sort();
    Ok(files)
}
