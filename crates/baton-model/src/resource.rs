//! Resource documents (`apiVersion`, `kind`, `metadata`, `spec`) read from
//! YAML or JSON text, checked completely before anything is stored.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::compiled::CompiledWorkflow;
use crate::decode::{Decoder, Fields};
use crate::diagnostic::Diagnostic;
use crate::schedule::{self, Schedule};
use crate::trigger::{self, CompiledTrigger, Trigger};
use crate::workflow::{API_VERSION, DEFAULT_TENANT, Metadata, Workflow};
use crate::workflow_decode::decode_spec;
use crate::yaml::{self, Node, Value};

/// The kinds of resource this version of baton knows.
pub const KINDS: &[&str] = &["Workflow", "Schedule", "Trigger"];
const TOP_FIELDS: &[&str] = &["apiVersion", "kind", "metadata", "spec"];
const METADATA_FIELDS: &[&str] = &["name", "tenant", "labels"];

/// A checked resource.
#[derive(Debug, Clone)]
pub enum Resource {
    Workflow(Box<CompiledWorkflow>),
    Schedule(Box<Schedule>),
    Trigger(Box<CompiledTrigger>),
}

impl Resource {
    pub fn kind(&self) -> &'static str {
        match self {
            Resource::Workflow(_) => "Workflow",
            Resource::Schedule(_) => "Schedule",
            Resource::Trigger(_) => "Trigger",
        }
    }

    pub fn metadata(&self) -> &Metadata {
        match self {
            Resource::Workflow(w) => &w.workflow.metadata,
            Resource::Schedule(s) => &s.metadata,
            Resource::Trigger(t) => &t.trigger.metadata,
        }
    }
}

/// Reads every document of `text`; returns all problems, each attributed to `file`.
pub fn load(file: &str, text: &str) -> Result<Vec<Resource>, Vec<Diagnostic>> {
    let docs = yaml::parse_documents(text)
        .map_err(|e| vec![Diagnostic::new(Some(e.at), "", format!("YAML syntax: {}", e.message)).in_file(file)])?;
    let mut resources = Vec::new();
    let mut problems = Vec::new();
    for doc in docs.iter().filter(|d| d.value != Value::Null) {
        match load_document(doc) {
            Ok(r) => resources.push(r),
            Err(mut p) => problems.append(&mut p),
        }
    }
    if resources.is_empty() && problems.is_empty() {
        problems.push(Diagnostic::new(None, "", "no resources in this file"));
    }
    if problems.is_empty() { Ok(resources) } else { Err(problems.into_iter().map(|d| d.in_file(file)).collect()) }
}

fn load_document(doc: &Node) -> Result<Resource, Vec<Diagnostic>> {
    let mut d = Decoder::default();
    d.locs.record("", doc);
    let Some(top) = d.fields(doc, "", TOP_FIELDS) else {
        return Err(d.problems.into_sorted());
    };
    check_api_version(&mut d, &top);
    let kind = top.required(&mut d, "kind").and_then(|n| check_kind(&mut d, n));
    let metadata = top.required(&mut d, "metadata").and_then(|n| decode_metadata(&mut d, n));
    if kind.as_deref() == Some("Schedule") {
        let spec = top.required(&mut d, "spec").and_then(|n| schedule::decode_spec(&mut d, n, "spec"));
        return match (metadata, spec) {
            (Some(metadata), Some(spec)) if d.problems.is_empty() => {
                Ok(Resource::Schedule(Box::new(Schedule { metadata, spec })))
            }
            _ => Err(d.problems.into_sorted()),
        };
    }
    if kind.as_deref() == Some("Trigger") {
        let spec = top.required(&mut d, "spec").and_then(|n| trigger::decode_spec(&mut d, n, "spec"));
        return match (metadata, spec) {
            (Some(metadata), Some(spec)) if d.problems.is_empty() => {
                CompiledTrigger::compile(Trigger { metadata, spec }, &d.locs).map(|t| Resource::Trigger(Box::new(t)))
            }
            _ => Err(d.problems.into_sorted()),
        };
    }
    let spec = top.required(&mut d, "spec").and_then(|n| decode_spec(&mut d, n, "spec"));
    let (Some(_), Some(metadata), Some(spec)) = (kind, metadata, spec) else {
        return Err(d.problems.into_sorted());
    };
    // The graph and expression checks run even after decoding problems, so
    // that one `validate` reports everything.
    match CompiledWorkflow::compile(Workflow { metadata, spec }, &d.locs) {
        Ok(compiled) if d.problems.is_empty() => Ok(Resource::Workflow(Box::new(compiled))),
        Ok(_) => Err(d.problems.into_sorted()),
        Err(more) => {
            let mut all = d.problems;
            all.extend(more);
            Err(all.into_sorted())
        }
    }
}

fn check_api_version(d: &mut Decoder, top: &Fields<'_>) {
    if let Some(n) = top.required(d, "apiVersion")
        && let Some(v) = d.string(n, "apiVersion")
        && v != API_VERSION
    {
        d.error(n.at, "apiVersion", format!("unsupported apiVersion `{v}` (expected `{API_VERSION}`)"));
    }
}

fn check_kind(d: &mut Decoder, node: &Node) -> Option<String> {
    let kind = d.string(node, "kind")?;
    if KINDS.contains(&kind.as_str()) {
        Some(kind)
    } else {
        d.error(node.at, "kind", format!("unknown kind `{kind}` (expected one of: {})", KINDS.join(", ")));
        None
    }
}

fn decode_metadata(d: &mut Decoder, node: &Node) -> Option<Metadata> {
    let fields = d.fields(node, "metadata", METADATA_FIELDS)?;
    let name = fields.required(d, "name").and_then(|n| checked_name(d, n, "metadata.name"));
    let tenant = match fields.get("tenant") {
        Some(n) => checked_name(d, n, "metadata.tenant")?,
        None => DEFAULT_TENANT.to_string(),
    };
    let labels = fields.get("labels").map(|n| d.string_map(n, "metadata.labels")).unwrap_or_else(BTreeMap::new);
    Some(Metadata { name: name?, tenant, labels })
}

fn checked_name(d: &mut Decoder, node: &Node, path: &str) -> Option<String> {
    let name = d.string(node, path)?;
    match name_problem(&name) {
        None => Some(name),
        Some(problem) => {
            d.error(node.at, path, problem);
            None
        }
    }
}

/// Names appear in URLs and command lines: lowercase letters, digits, `-`,
/// `_` and `.`, starting with a letter or digit, at most 63 characters.
pub fn name_problem(name: &str) -> Option<String> {
    let valid_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c);
    let starts_well = name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit());
    if name.is_empty() || name.len() > 63 || !starts_well || !name.chars().all(valid_char) {
        Some(format!(
            "`{name}` is not a valid name: use 1 to 63 lowercase letters, digits, `-`, `_` or `.`, starting with a letter or digit"
        ))
    } else {
        None
    }
}

/// A stable digest of a resource's content: equal content, equal hash,
/// whatever the formatting or key order of the source.
pub fn content_hash(resource: &impl serde::Serialize) -> String {
    // serde_json's map is ordered by key, so this text is canonical.
    let value = serde_json::to_value(resource).unwrap_or_default();
    let digest = Sha256::digest(value.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
