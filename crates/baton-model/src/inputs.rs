//! A run's inputs checked against the workflow's declarations: defaults
//! filled in, types enforced, strings from a command line converted.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

use crate::workflow::{InputSpec, InputType};

/// Resolves `given` against `declared`; every problem is reported at once.
pub fn resolve(declared: &BTreeMap<String, InputSpec>, given: &Map<String, Json>) -> Result<Json, Vec<String>> {
    let mut problems = Vec::new();
    for name in given.keys().filter(|k| !declared.contains_key(*k)) {
        let known: Vec<&str> = declared.keys().map(String::as_str).collect();
        let list = if known.is_empty() { "none".to_string() } else { known.join(", ") };
        problems.push(format!("unknown input `{name}` (declared inputs: {list})"));
    }
    let mut resolved = Map::new();
    for (name, spec) in declared {
        match (given.get(name), &spec.default) {
            (Some(value), _) => match coerce(spec.kind, value) {
                Some(v) => {
                    resolved.insert(name.clone(), v);
                }
                None => problems.push(format!(
                    "input `{name}` must be of type {}, got {value}{}",
                    spec.kind.name(),
                    hint(spec.kind)
                )),
            },
            (None, Some(default)) => {
                resolved.insert(name.clone(), default.clone());
            }
            (None, None) if spec.required => problems.push(format!("input `{name}` is required")),
            (None, None) => {
                resolved.insert(name.clone(), Json::Null);
            }
        }
    }
    if problems.is_empty() { Ok(Json::Object(resolved)) } else { Err(problems) }
}

/// How to write a value of `kind` on a command line.
fn hint(kind: InputType) -> &'static str {
    match kind {
        InputType::List => " (give a list as JSON, e.g. --input name='[\"a\",\"b\"]')",
        InputType::Object => " (give an object as JSON, e.g. --input name='{\"k\":\"v\"}')",
        _ => "",
    }
}

/// The value as `kind`, converting from text where the text says so
/// (`--input replicas=3` arrives as the string "3").
fn coerce(kind: InputType, value: &Json) -> Option<Json> {
    if kind.admits(value) {
        return Some(value.clone());
    }
    let text = value.as_str()?;
    let parsed = match kind {
        InputType::String => return None,
        InputType::Integer => text.trim().parse::<i64>().ok().map(Json::from),
        InputType::Number => {
            text.trim().parse::<f64>().ok().and_then(|f| serde_json::Number::from_f64(f).map(Json::Number))
        }
        InputType::Boolean => match text.trim() {
            "true" => Some(Json::Bool(true)),
            "false" => Some(Json::Bool(false)),
            _ => None,
        },
        InputType::List | InputType::Object => serde_json::from_str(text).ok(),
    };
    parsed.filter(|v| kind.admits(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn declared() -> BTreeMap<String, InputSpec> {
        let spec = |kind, required, default: Option<Json>| InputSpec { kind, required, default, description: None };
        BTreeMap::from([
            ("host".to_string(), spec(InputType::String, true, None)),
            ("replicas".to_string(), spec(InputType::Integer, false, Some(json!(2)))),
            ("hosts".to_string(), spec(InputType::List, false, None)),
        ])
    }

    fn given(v: Json) -> Map<String, Json> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn defaults_and_conversions() {
        let r = resolve(&declared(), &given(json!({"host": "db1", "hosts": "[\"a\",\"b\"]"}))).unwrap();
        assert_eq!(r, json!({"host": "db1", "replicas": 2, "hosts": ["a", "b"]}));
        let r = resolve(&declared(), &given(json!({"host": "db1", "replicas": "5"}))).unwrap();
        assert_eq!(r["replicas"], json!(5));
        assert_eq!(r["hosts"], Json::Null);
    }

    #[test]
    fn every_problem_is_reported() {
        let problems = resolve(&declared(), &given(json!({"replicas": "many", "colour": "red"}))).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("unknown input `colour`"));
        assert!(problems.iter().any(|p| p.contains("`host` is required")));
        assert!(problems.iter().any(|p| p.contains("`replicas` must be of type integer")));
    }
}
