//! YAML (and JSON, its subset) loaded into a small tree that remembers where
//! every node stands in the source, so that validation can say `file:line:col`.

use std::fmt;

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, ScalarStyle, YamlData};

/// A position in a source text: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// One YAML node with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub at: Pos,
}

/// The value of a node, resolved by the YAML 1.2 core schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Keys in source order; keys are kept as nodes for their positions.
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// The YAML type's name, for messages such as "expected a string, found a list".
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// A YAML syntax error with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub at: Pos,
    pub message: String,
}

/// Parses every document of `text`. Duplicate keys are syntax errors;
/// aliases are expanded (with saphyr's budget against alias bombs).
pub fn parse_documents(text: &str) -> Result<Vec<Node>, SyntaxError> {
    let docs = MarkedYaml::load_from_str(text).map_err(|e| SyntaxError {
        at: Pos { line: e.marker().line(), col: e.marker().col() + 1 },
        message: e.info().to_string(),
    })?;
    Ok(docs.iter().map(convert).collect())
}

fn convert(node: &MarkedYaml<'_>) -> Node {
    let at = Pos { line: node.span.start.line(), col: node.span.start.col() + 1 };
    let value = match &node.data {
        YamlData::Value(scalar) => scalar_value(scalar),
        YamlData::Representation(text, style, _) => representation_value(text, *style),
        YamlData::Sequence(items) => Value::Seq(items.iter().map(convert).collect()),
        YamlData::Mapping(map) => Value::Map(map.iter().map(|(k, v)| (convert(k), convert(v))).collect()),
        YamlData::Tagged(_, inner) => return convert(inner),
        YamlData::Alias(_) | YamlData::BadValue => Value::Null,
    };
    Node { value, at }
}

fn scalar_value(scalar: &Scalar<'_>) -> Value {
    match scalar {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Bool(*b),
        Scalar::Integer(i) => Value::Int(*i),
        Scalar::FloatingPoint(f) => Value::Float(f.into_inner()),
        Scalar::String(s) => Value::Str(s.to_string()),
    }
}

fn representation_value(text: &str, style: ScalarStyle) -> Value {
    if style != ScalarStyle::Plain {
        return Value::Str(text.to_string());
    }
    scalar_value(&Scalar::parse_from_cow(text.to_string().into()))
}

impl Node {
    /// Converts to JSON, dropping positions. Non-string keys become strings.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(entries.iter().map(|(k, v)| (k.key_text(), v.to_json())).collect()),
        }
    }

    /// The text of a node used as a mapping key.
    pub fn key_text(&self) -> String {
        match &self.value {
            Value::Str(s) => s.clone(),
            Value::Null => "null".to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Seq(_) | Value::Map(_) => self.to_json().to_string(),
        }
    }

    /// Looks a key up in a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => {
                entries.iter().find(|(k, _)| matches!(&k.value, Value::Str(s) if s == key)).map(|(_, v)| v)
            }
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let docs = parse_documents("a: 1\nb:\n  - x\n  - 'y'\n").unwrap();
        let b = docs[0].get("b").unwrap();
        let Value::Seq(items) = &b.value else { panic!("not a list") };
        assert_eq!(items[1].at, Pos { line: 4, col: 5 });
        assert_eq!(items[1].value, Value::Str("y".into()));
    }

    #[test]
    fn quoted_numbers_stay_strings() {
        let docs = parse_documents("a: '1'\nb: 1\nc: true\nd: ~\ne: 1.5\n").unwrap();
        let d = &docs[0];
        assert_eq!(d.get("a").unwrap().value, Value::Str("1".into()));
        assert_eq!(d.get("b").unwrap().value, Value::Int(1));
        assert_eq!(d.get("c").unwrap().value, Value::Bool(true));
        assert_eq!(d.get("d").unwrap().value, Value::Null);
        assert_eq!(d.get("e").unwrap().value, Value::Float(1.5));
    }

    #[test]
    fn several_documents() {
        let docs = parse_documents("a: 1\n---\nb: 2\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].get("b").unwrap().at.line, 3);
    }

    #[test]
    fn syntax_error_has_position() {
        let err = parse_documents("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.at.line >= 1, "{err:?}");
        assert!(!err.message.is_empty());
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        let err = parse_documents("a: 1\na: 2\n").unwrap_err();
        assert_eq!(err.at.line, 2);
        assert!(err.message.contains("duplicate"), "{}", err.message);
    }
}
