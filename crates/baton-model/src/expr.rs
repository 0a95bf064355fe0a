//! CEL expressions and `${{ … }}` templates: compiled when a workflow is
//! applied (so a typo fails at apply time, not at 3 a.m.) and evaluated
//! against a run's bindings (`inputs`, `steps`, `run`, `item`, `index`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, LazyLock};

use cel::common::ast::{Expr as Ast, IdedExpr};
use serde_json::Value as Json;

/// The names an expression may start from.
pub const ROOTS: &[&str] = &["inputs", "steps", "run", "item", "index"];
/// What `steps.<id>` holds.
pub const STEP_FIELDS: &[&str] = &["status", "outputs", "exit_code", "stdout", "stderr", "attempts"];
/// What `run` holds.
pub const RUN_FIELDS: &[&str] = &["id", "workflow", "version", "tenant", "created_at"];

static STDLIB: LazyLock<Arc<cel::Env>> = LazyLock::new(|| Arc::new(cel::Env::stdlib()));

/// A compiled CEL expression with its source text.
#[derive(Clone)]
pub struct Expr {
    source: String,
    program: Arc<cel::Program>,
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expr({:?})", self.source)
    }
}

impl Expr {
    /// Compiles `source`; the error is CEL's own message with a caret under the fault.
    pub fn compile(source: &str) -> Result<Self, String> {
        let program = cel::Program::compile(source).map_err(|e| {
            let text = e.to_string().replace("ERROR: <input>:", "at ");
            format!("CEL does not compile: {text}")
        })?;
        Ok(Expr { source: source.to_string(), program: Arc::new(program) })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Problems with the names this expression reads, given what is in scope.
    pub fn check(&self, scope: &RefScope<'_>) -> Vec<String> {
        let mut checker = Checker { scope, bound: Vec::new(), problems: Vec::new() };
        checker.walk(self.program.expression());
        checker.problems.dedup();
        checker.problems
    }
}

/// What an expression may refer to at its place in a workflow.
pub struct RefScope<'a> {
    pub inputs: &'a [String],
    /// Every step id of the workflow, with whether its outputs are certain to
    /// exist when this expression runs (it is an ancestor in the DAG).
    pub steps: &'a BTreeMap<String, bool>,
    /// Inside a `for_each` step: `item` and `index` are defined.
    pub has_item: bool,
}

struct Checker<'s, 'a> {
    scope: &'s RefScope<'a>,
    bound: Vec<String>,
    problems: Vec<String>,
}

impl Checker<'_, '_> {
    fn walk(&mut self, e: &IdedExpr) {
        match &e.expr {
            Ast::Ident(name) => self.ident(name),
            Ast::Select(select) => match select_chain(e) {
                Some(chain) if !self.is_bound(chain[0]) => self.chain(&chain),
                _ => self.walk(&select.operand),
            },
            Ast::Call(call) => {
                self.index_call(call);
                if let Some(target) = &call.target {
                    self.walk(target);
                }
                call.args.iter().for_each(|a| self.walk(a));
            }
            Ast::Comprehension(c) => {
                self.walk(&c.iter_range);
                self.walk(&c.accu_init);
                let vars = [Some(&c.iter_var), c.iter_var2.as_ref(), Some(&c.accu_var)];
                let pushed = vars.iter().flatten().count();
                self.bound.extend(vars.into_iter().flatten().cloned());
                self.walk(&c.loop_cond);
                self.walk(&c.loop_step);
                self.walk(&c.result);
                self.bound.truncate(self.bound.len() - pushed);
            }
            Ast::List(list) => list.elements.iter().for_each(|x| self.walk(x)),
            Ast::Map(map) => map.entries.iter().for_each(|entry| self.entry(&entry.expr)),
            Ast::Struct(s) => s.entries.iter().for_each(|entry| self.entry(&entry.expr)),
            Ast::Literal(_) | Ast::Unspecified => {}
        }
    }

    fn entry(&mut self, entry: &cel::common::ast::EntryExpr) {
        match entry {
            cel::common::ast::EntryExpr::StructField(f) => self.walk(&f.value),
            cel::common::ast::EntryExpr::MapEntry(m) => {
                self.walk(&m.key);
                self.walk(&m.value);
            }
        }
    }

    fn is_bound(&self, name: &str) -> bool {
        self.bound.iter().any(|b| b == name)
    }

    fn ident(&mut self, name: &str) {
        if self.is_bound(name) {
            return;
        }
        if !ROOTS.contains(&name) {
            self.problems.push(format!("unknown name `{name}`: an expression may read {}", ROOTS.join(", ")));
        } else if (name == "item" || name == "index") && !self.scope.has_item {
            self.problems.push(format!("`{name}` is only defined in a step with `for_each`"));
        }
    }

    /// `a.b.c` where `a` is not a comprehension variable.
    fn chain(&mut self, chain: &[&str]) {
        self.ident(chain[0]);
        match chain {
            ["steps", id, rest @ ..] => {
                self.step_ref(id);
                if let Some(field) = rest.first()
                    && !STEP_FIELDS.contains(field)
                {
                    self.problems
                        .push(format!("`steps.{id}.{field}` does not exist: a step has {}", STEP_FIELDS.join(", ")));
                }
            }
            ["inputs", name, ..] if !self.scope.inputs.iter().any(|i| i == name) => {
                let known = if self.scope.inputs.is_empty() {
                    "the workflow declares no inputs".to_string()
                } else {
                    format!("declared inputs: {}", self.scope.inputs.join(", "))
                };
                self.problems.push(format!("unknown input `{name}` ({known})"));
            }
            ["run", field, ..] if !RUN_FIELDS.contains(field) => {
                self.problems.push(format!("`run.{field}` does not exist: run has {}", RUN_FIELDS.join(", ")));
            }
            _ => {}
        }
    }

    /// `steps["id"]`.
    fn index_call(&mut self, call: &cel::common::ast::CallExpr) {
        if call.func_name != "_[_]" || call.args.len() != 2 {
            return;
        }
        let is_steps = matches!(&call.args[0].expr, Ast::Ident(n) if n == "steps" && !self.is_bound(n));
        if let (true, Ast::Literal(cel::common::ast::LiteralValue::String(id))) = (is_steps, &call.args[1].expr) {
            let id: &str = id.inner();
            self.step_ref(id);
        }
    }

    fn step_ref(&mut self, id: &str) {
        match self.scope.steps.get(id) {
            None => {
                let known: Vec<&str> = self.scope.steps.keys().map(String::as_str).collect();
                self.problems.push(format!(
                    "refers to unknown step `{id}` (steps: {})",
                    known.join(", ")
                ));
            }
            Some(false) => self.problems.push(format!(
                "refers to step `{id}`, which is not among the steps this one needs (directly or through others): add it to `needs`"
            )),
            Some(true) => {}
        }
    }
}

/// `steps.deploy.outputs` → `["steps", "deploy", "outputs"]`; `None` if the
/// chain does not start from a plain name or contains a `has()` test.
fn select_chain(e: &IdedExpr) -> Option<Vec<&str>> {
    let mut segments = Vec::new();
    let mut current = e;
    loop {
        match &current.expr {
            Ast::Ident(name) => {
                segments.push(name.as_str());
                segments.reverse();
                return Some(segments);
            }
            Ast::Select(s) => {
                segments.push(s.field.as_str());
                current = &s.operand;
            }
            _ => return None,
        }
    }
}

/// An expression failed at run time; the message says which and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{source_text}`: {reason}")]
pub struct EvalError {
    pub source_text: String,
    pub reason: String,
}

/// The variables an expression reads, converted to CEL once per step.
pub struct Bindings {
    context: cel::Context<'static, 'static>,
}

impl Bindings {
    pub fn new(vars: &BTreeMap<&str, Json>) -> Self {
        let mut context = cel::Context::with_env(STDLIB.clone());
        for (name, value) in vars {
            context.add_variable_from_value(*name, to_cel(value));
        }
        Bindings { context }
    }

    pub fn eval(&self, expr: &Expr) -> Result<Json, EvalError> {
        let error = |reason: String| EvalError { source_text: expr.source.clone(), reason };
        let value = expr.program.execute(&self.context).map_err(|e| error(friendly_execution_error(&e)))?;
        value.json().map_err(|e| error(format!("its value cannot be expressed as JSON: {e}")))
    }

    pub fn eval_bool(&self, expr: &Expr) -> Result<bool, EvalError> {
        match self.eval(expr)? {
            Json::Bool(b) => Ok(b),
            other => Err(EvalError {
                source_text: expr.source.clone(),
                reason: format!("a condition must be true or false, got {other}"),
            }),
        }
    }

    pub fn eval_list(&self, expr: &Expr) -> Result<Vec<Json>, EvalError> {
        match self.eval(expr)? {
            Json::Array(items) => Ok(items),
            other => Err(EvalError {
                source_text: expr.source.clone(),
                reason: format!("for_each must give a list, got {other}"),
            }),
        }
    }
}

/// JSON to CEL, with whole numbers as CEL `int` (as a user expects
/// `item * 10` to work) unless they only fit an unsigned 64-bit integer.
fn to_cel(value: &Json) -> cel::Value {
    match value {
        Json::Null => cel::Value::Null,
        Json::Bool(b) => cel::Value::Bool(*b),
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => cel::Value::Int(i),
            (None, Some(u)) => cel::Value::UInt(u),
            _ => cel::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => cel::Value::String(Arc::new(s.clone())),
        Json::Array(items) => cel::Value::List(Arc::new(items.iter().map(to_cel).collect())),
        Json::Object(map) => {
            let entries: std::collections::HashMap<cel::objects::Key, cel::Value> =
                map.iter().map(|(k, v)| (cel::objects::Key::String(Arc::new(k.clone())), to_cel(v))).collect();
            cel::Value::Map(cel::objects::Map { map: Arc::new(entries) })
        }
    }
}

fn friendly_execution_error(e: &cel::ExecutionError) -> String {
    match e {
        cel::ExecutionError::NoSuchKey(key) => {
            format!("no such key `{key}` (guard optional fields with has(...))")
        }
        other => other.to_string(),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope_steps() -> BTreeMap<String, bool> {
        BTreeMap::from([("build".to_string(), true), ("later".to_string(), false)])
    }

    fn check(source: &str, has_item: bool) -> Vec<String> {
        let inputs = vec!["host".to_string()];
        let steps = scope_steps();
        let scope = RefScope { inputs: &inputs, steps: &steps, has_item };
        Expr::compile(source).unwrap().check(&scope)
    }

    #[test]
    fn compile_error_names_the_position() {
        let err = Expr::compile("inputs.host ==").unwrap_err();
        assert!(err.starts_with("CEL does not compile"), "{err}");
        assert!(err.contains("at 1:"), "{err}");
    }

    #[test]
    fn known_references_pass() {
        assert!(check("steps.build.outputs.ok && inputs.host != ''", false).is_empty());
        assert!(check("[1, 2].map(x, x * 2).size() > 0", false).is_empty());
        assert!(check("item.name == run.workflow", true).is_empty());
        assert!(check("has(steps.build.outputs.code)", false).is_empty());
    }

    #[test]
    fn unknown_step_is_named() {
        let problems = check("steps.biuld.outputs.x == 1", false);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("unknown step `biuld`"), "{}", problems[0]);
        let problems = check("steps['nope'].status == 'succeeded'", false);
        assert!(problems[0].contains("unknown step `nope`"), "{problems:?}");
    }

    #[test]
    fn step_outside_needs_is_named() {
        let problems = check("steps.later.outputs.x == 1", false);
        assert!(problems[0].contains("not among the steps this one needs"), "{problems:?}");
    }

    #[test]
    fn unknown_roots_inputs_and_fields() {
        assert!(check("input.host == 'x'", false)[0].contains("unknown name `input`"));
        assert!(check("inputs.hots == 'x'", false)[0].contains("unknown input `hots`"));
        assert!(check("steps.build.output", false)[0].contains("`steps.build.output` does not exist"));
        assert!(check("item == 1", false)[0].contains("only defined in a step with `for_each`"));
    }

    #[test]
    fn templates_render_with_types() {
        let bindings = Bindings::new(&BTreeMap::from([("inputs", json!({"n": 3, "host": "db1"}))]));
        let whole = Template::parse("${{ inputs.n }}").unwrap().unwrap();
        assert_eq!(whole.render(&bindings).unwrap(), json!(3));
        let mixed = Template::parse("ping ${{ inputs.host }} x${{ inputs.n }}").unwrap().unwrap();
        assert_eq!(mixed.render(&bindings).unwrap(), json!("ping db1 x3"));
        let map = Template::parse("${{ {'a': {'b': inputs.n}} }}").unwrap().unwrap();
        assert_eq!(map.render(&bindings).unwrap(), json!({"a": {"b": 3}}));
        let arithmetic = Template::parse("${{ inputs.n * 10 + 1 }}").unwrap().unwrap();
        assert_eq!(arithmetic.render(&bindings).unwrap(), json!(31), "JSON numbers are CEL ints");
    }

    #[test]
    fn unclosed_template_is_an_error() {
        let err = Template::parse("echo ${{ inputs.host").unwrap_err();
        assert!(err.contains("not closed"), "{err}");
        assert!(Template::parse("plain ${HOME}").unwrap().is_none());
    }

    #[test]
    fn missing_key_error_suggests_has() {
        let bindings = Bindings::new(&BTreeMap::from([("inputs", json!({}))]));
        let expr = Expr::compile("inputs.absent == 1").unwrap();
        let err = bindings.eval(&expr).unwrap_err();
        assert!(err.reason.contains("has("), "{err}");
    }

    #[test]
    fn template_value_compiles_nested_strings() {
        let tv = TemplateValue::compile(&json!({"run": "echo ${{ inputs.host }}", "n": 1})).unwrap();
        let paths: Vec<String> = tv.templates().into_iter().map(|(p, _)| p).collect();
        assert_eq!(paths, vec!["run".to_string()]);
        let errors = TemplateValue::compile(&json!({"env": {"A": "${{ 1 + }}"}})).unwrap_err();
        assert_eq!(errors[0].0, "env.A");
    }
}
