//! Reading typed values out of a [`Node`] tree while collecting every problem,
//! so that one `baton validate` reports all of them at once.

use std::collections::{BTreeMap, HashMap};

use crate::diagnostic::Diagnostics;
use crate::duration::Duration;
use crate::yaml::{Node, Pos, Value};

/// Collects problems while fields are read.
#[derive(Default)]
pub struct Decoder {
    pub problems: Diagnostics,
    /// Where each field path stands, for checks made after decoding.
    pub locs: Locations,
}

/// Field path → position, e.g. `spec.steps[2].needs[0]` → 14:13.
#[derive(Debug, Default, Clone)]
pub struct Locations(HashMap<String, Pos>);

impl Locations {
    pub fn get(&self, path: &str) -> Option<Pos> {
        self.0.get(path).copied()
    }

    /// Records `node` and everything below it.
    pub fn record(&mut self, path: &str, node: &Node) {
        self.0.insert(path.to_string(), node.at);
        match &node.value {
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.record(&index(path, i), item);
                }
            }
            Value::Map(entries) => {
                for (k, v) in entries {
                    self.record(&join(path, &k.key_text()), v);
                }
            }
            _ => {}
        }
    }
}

/// The entries of a mapping node whose keys were checked against a schema.
pub struct Fields<'n> {
    pub node: &'n Node,
    pub path: String,
}

impl Decoder {
    pub fn error(&mut self, at: Pos, path: &str, message: impl Into<String>) {
        self.problems.push(Some(at), path, message);
    }

    /// Treats `node` as a mapping with the `known` keys; reports other keys
    /// (with the nearest known key as a suggestion) and non-mappings.
    pub fn fields<'n>(&mut self, node: &'n Node, path: &str, known: &[&str]) -> Option<Fields<'n>> {
        let Value::Map(entries) = &node.value else {
            self.error(node.at, path, format!("expected a mapping, found {}", node.value.type_name()));
            return None;
        };
        for (key, _) in entries {
            let name = key.key_text();
            if !known.contains(&name.as_str()) {
                let message = unknown_field_message(&name, known);
                self.error(key.at, &join(path, &name), message);
            }
        }
        Some(Fields { node, path: path.to_string() })
    }

    pub fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            other => {
                self.error(node.at, path, format!("expected a string, found {}", other.type_name()));
                None
            }
        }
    }

    pub fn bool(&mut self, node: &Node, path: &str) -> Option<bool> {
        match &node.value {
            Value::Bool(b) => Some(*b),
            other => {
                self.error(node.at, path, format!("expected true or false, found {}", other.type_name()));
                None
            }
        }
    }

    /// A whole number in `min..=max`.
    pub fn int_in(&mut self, node: &Node, path: &str, min: i64, max: i64) -> Option<i64> {
        match &node.value {
            Value::Int(i) if (min..=max).contains(i) => Some(*i),
            Value::Int(i) => {
                self.error(node.at, path, format!("{i} is out of range: expected {min} to {max}"));
                None
            }
            other => {
                self.error(node.at, path, format!("expected a whole number, found {}", other.type_name()));
                None
            }
        }
    }

    /// A number (integer or decimal) in `min..=max`.
    pub fn number_in(&mut self, node: &Node, path: &str, min: f64, max: f64) -> Option<f64> {
        let value = match &node.value {
            Value::Int(i) => *i as f64,
            Value::Float(f) => *f,
            other => {
                self.error(node.at, path, format!("expected a number, found {}", other.type_name()));
                return None;
            }
        };
        if !(min..=max).contains(&value) {
            self.error(node.at, path, format!("{value} is out of range: expected {min} to {max}"));
            return None;
        }
        Some(value)
    }

    pub fn duration(&mut self, node: &Node, path: &str) -> Option<Duration> {
        match &node.value {
            Value::Str(s) => match s.parse::<Duration>() {
                Ok(d) => Some(d),
                Err(e) => {
                    self.error(node.at, path, e.to_string());
                    None
                }
            },
            Value::Int(i) => {
                self.error(node.at, path, format!("a duration needs a unit: write `{i}s`, `{i}m` or `{i}h`"));
                None
            }
            other => {
                self.error(
                    node.at,
                    path,
                    format!("expected a duration such as `30s` or `5m`, found {}", other.type_name()),
                );
                None
            }
        }
    }

    /// A list of strings; also accepts a single string as a list of one.
    pub fn string_list(&mut self, node: &Node, path: &str) -> Vec<(String, Pos)> {
        match &node.value {
            Value::Str(s) => vec![(s.clone(), node.at)],
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| self.string(item, &index(path, i)).map(|s| (s, item.at)))
                .collect(),
            other => {
                self.error(node.at, path, format!("expected a list of strings, found {}", other.type_name()));
                Vec::new()
            }
        }
    }

    /// A mapping of string keys to string values (labels, headers, env).
    pub fn string_map(&mut self, node: &Node, path: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let Value::Map(entries) = &node.value else {
            self.error(node.at, path, format!("expected a mapping, found {}", node.value.type_name()));
            return out;
        };
        for (key, value) in entries {
            let key_text = key.key_text();
            let field_path = join(path, &key_text);
            let text = match &value.value {
                Value::Str(s) => Some(s.clone()),
                Value::Int(i) => Some(i.to_string()),
                Value::Float(f) => Some(f.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                other => {
                    self.error(value.at, &field_path, format!("expected a string, found {}", other.type_name()));
                    None
                }
            };
            if let Some(text) = text {
                out.insert(key_text, text);
            }
        }
        out
    }
}

impl<'n> Fields<'n> {
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.node.get(key)
    }

    pub fn path_of(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// Reads a field that must be present, reporting its absence at the mapping.
    pub fn required(&self, decoder: &mut Decoder, key: &str) -> Option<&'n Node> {
        let found = self.get(key);
        if found.is_none() {
            decoder.error(self.node.at, &self.path, format!("missing required field `{key}`"));
        }
        found
    }
}

/// `a.b`, or `b` at the top.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

/// `a[3]`.
pub fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

fn unknown_field_message(name: &str, known: &[&str]) -> String {
    let nearest = known
        .iter()
        .map(|k| (strsim::levenshtein(name, k), *k))
        .filter(|(distance, k)| *distance <= 2.max(k.len() / 3))
        .min();
    let list = known.join(", ");
    match nearest {
        Some((_, k)) => {
            format!("unknown field `{name}`: did you mean `{k}`? (expected one of: {list})")
        }
        None => format!("unknown field `{name}` (expected one of: {list})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_documents;

    #[test]
    fn unknown_field_suggests_the_nearest() {
        let doc = &parse_documents("nedds: [a]\nid: x\n").unwrap()[0];
        let mut d = Decoder::default();
        d.fields(doc, "spec.steps[0]", &["id", "needs"]);
        let problems = std::mem::take(&mut d.problems).into_sorted();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].path, "spec.steps[0].nedds");
        assert_eq!(problems[0].line, Some(1));
        assert!(problems[0].message.contains("did you mean `needs`"), "{}", problems[0].message);
    }

    #[test]
    fn integer_duration_asks_for_a_unit() {
        let doc = &parse_documents("timeout: 30\n").unwrap()[0];
        let mut d = Decoder::default();
        assert!(d.duration(doc.get("timeout").unwrap(), "timeout").is_none());
        let problems = d.problems.into_sorted();
        assert!(problems[0].message.contains("`30s`"), "{}", problems[0].message);
    }
}
