//! Strings with `${{ expr }}` parts, and the JSON trees (`with`) that hold them.

use serde_json::Value as Json;

use super::{Bindings, EvalError, Expr};

/// A string with embedded `${{ expr }}` parts.
/// A string with embedded `${{ expr }}` parts.
#[derive(Debug, Clone)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Expr(Expr),
}

impl Template {
    /// Parses `text`; `Ok(None)` when it holds no template at all.
    pub fn parse(text: &str) -> Result<Option<Self>, String> {
        if !text.contains("${{") {
            return Ok(None);
        }
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_string()));
            }
            let body = &rest[start + 3..];
            let end = closing_braces(body).ok_or_else(|| {
                format!("template `${{{{` at offset {} is not closed with `}}}}`", text.len() - rest.len() + start)
            })?;
            let source = body[..end].trim();
            if source.is_empty() {
                return Err("template `${{ }}` is empty".to_string());
            }
            parts.push(Part::Expr(Expr::compile(source)?));
            rest = &body[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Some(Template { parts }))
    }

    pub fn exprs(&self) -> impl Iterator<Item = &Expr> {
        self.parts.iter().filter_map(|p| match p {
            Part::Expr(e) => Some(e),
            Part::Text(_) => None,
        })
    }

    /// A template that is one expression and nothing else keeps the
    /// expression's type (`${{ inputs.replicas }}` stays a number);
    /// otherwise the parts are joined as text.
    pub fn render(&self, bindings: &Bindings) -> Result<Json, EvalError> {
        if let [Part::Expr(e)] = self.parts.as_slice() {
            return bindings.eval(e);
        }
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Expr(e) => match bindings.eval(e)? {
                    Json::String(s) => out.push_str(&s),
                    other => out.push_str(&other.to_string()),
                },
            }
        }
        Ok(Json::String(out))
    }
}

/// Finds the `}}` that closes a template body, skipping quoted strings and
/// nested braces of CEL map literals.
fn closing_braces(body: &str) -> Option<usize> {
    let bytes = body.as_bytes();
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match quote {
            Some(_) if c == b'\\' => i += 1,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'"' | b'\'' => quote = Some(c),
                b'{' => depth += 1,
                b'}' if depth > 0 => depth -= 1,
                b'}' if bytes.get(i + 1) == Some(&b'}') => return Some(i),
                _ => {}
            },
        }
        i += 1;
    }
    None
}

/// A JSON tree whose strings may be templates: the compiled form of `with`.
#[derive(Debug, Clone)]
pub enum TemplateValue {
    Literal(Json),
    Template(Template),
    List(Vec<TemplateValue>),
    Object(Vec<(String, TemplateValue)>),
}

impl TemplateValue {
    /// Compiles every template in `value`; problems come back with the
    /// JSON path (relative to `value`) where they stand.
    pub fn compile(value: &Json) -> Result<Self, Vec<(String, String)>> {
        let mut problems = Vec::new();
        let compiled = Self::compile_at(value, "", &mut problems);
        if problems.is_empty() { Ok(compiled) } else { Err(problems) }
    }

    fn compile_at(value: &Json, path: &str, problems: &mut Vec<(String, String)>) -> Self {
        match value {
            Json::String(s) => match Template::parse(s) {
                Ok(Some(t)) => TemplateValue::Template(t),
                Ok(None) => TemplateValue::Literal(value.clone()),
                Err(e) => {
                    problems.push((path.to_string(), e));
                    TemplateValue::Literal(value.clone())
                }
            },
            Json::Array(items) if items.iter().any(has_template) => TemplateValue::List(
                items.iter().enumerate().map(|(i, v)| Self::compile_at(v, &format!("{path}[{i}]"), problems)).collect(),
            ),
            Json::Object(map) if map.values().any(has_template) => TemplateValue::Object(
                map.iter()
                    .map(|(k, v)| {
                        let child = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                        (k.clone(), Self::compile_at(v, &child, problems))
                    })
                    .collect(),
            ),
            _ => TemplateValue::Literal(value.clone()),
        }
    }

    /// Every template with its JSON path, for reference checks.
    pub fn templates(&self) -> Vec<(String, &Template)> {
        let mut out = Vec::new();
        self.collect("", &mut out);
        out
    }

    fn collect<'t>(&'t self, path: &str, out: &mut Vec<(String, &'t Template)>) {
        match self {
            TemplateValue::Literal(_) => {}
            TemplateValue::Template(t) => out.push((path.to_string(), t)),
            TemplateValue::List(items) => {
                for (i, v) in items.iter().enumerate() {
                    v.collect(&format!("{path}[{i}]"), out);
                }
            }
            TemplateValue::Object(entries) => {
                for (k, v) in entries {
                    let child = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                    v.collect(&child, out);
                }
            }
        }
    }

    pub fn is_literal(&self) -> bool {
        matches!(self, TemplateValue::Literal(_))
    }

    /// The value with every template evaluated.
    pub fn render(&self, bindings: &Bindings) -> Result<Json, EvalError> {
        Ok(match self {
            TemplateValue::Literal(v) => v.clone(),
            TemplateValue::Template(t) => t.render(bindings)?,
            TemplateValue::List(items) => {
                Json::Array(items.iter().map(|v| v.render(bindings)).collect::<Result<_, _>>()?)
            }
            TemplateValue::Object(entries) => Json::Object(
                entries.iter().map(|(k, v)| Ok((k.clone(), v.render(bindings)?))).collect::<Result<_, EvalError>>()?,
            ),
        })
    }
}

fn has_template(value: &Json) -> bool {
    match value {
        Json::String(s) => s.contains("${{"),
        Json::Array(items) => items.iter().any(has_template),
        Json::Object(map) => map.values().any(has_template),
        _ => false,
    }
}
