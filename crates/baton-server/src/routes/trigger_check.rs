//! What a trigger must fit at apply time: its workflow exists, it maps
//! only inputs the workflow declares and every required one, and the
//! environment variables holding its secrets are set on this node.

use std::collections::BTreeMap;

use baton_model::Diagnostic;
use baton_model::trigger::{SecretRef, Trigger};
use baton_model::workflow::InputSpec;

pub fn check(t: &Trigger, inputs: Option<&BTreeMap<String, InputSpec>>, file: &str) -> Vec<Diagnostic> {
    let name = &t.metadata.name;
    let at = |path: String, message: String| {
        Diagnostic::new(None, path, format!("trigger `{name}`: {message}")).in_file(file)
    };
    let mut problems = secrets(t).into_iter().map(|(path, m)| at(path, m)).collect::<Vec<_>>();
    let Some(declared) = inputs else {
        let message = format!(
            "workflow `{}` not found in tenant `{}` (apply it first, or earlier in the same file)",
            t.spec.workflow, t.metadata.tenant
        );
        problems.push(at("spec.workflow".into(), message));
        return problems;
    };
    for input in t.spec.inputs.keys().filter(|k| !declared.contains_key(*k)) {
        let known: Vec<&str> = declared.keys().map(String::as_str).collect();
        let list = if known.is_empty() { "none".to_string() } else { known.join(", ") };
        problems.push(at(format!("spec.inputs.{input}"), format!("unknown input `{input}` (declared inputs: {list})")));
    }
    let unmapped =
        declared.iter().filter(|(k, spec)| spec.required && spec.default.is_none() && !t.spec.inputs.contains_key(*k));
    for (input, _) in unmapped {
        let message = format!("workflow `{}` requires input `{input}`: map it under spec.inputs", t.spec.workflow);
        problems.push(at("spec.inputs".into(), message));
    }
    problems
}

fn secrets(t: &Trigger) -> Vec<(String, String)> {
    let Some(hook) = &t.spec.webhook else { return Vec::new() };
    hook.secrets
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match s {
            SecretRef::Env(var) if std::env::var(var).map_or(true, |v| v.is_empty()) => Some((
                format!("spec.webhook.secrets[{i}].env"),
                format!("`{var}` is not set in the server's environment (set it, then restart baton)"),
            )),
            _ => None,
        })
        .collect()
}
