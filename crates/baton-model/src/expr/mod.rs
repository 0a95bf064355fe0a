//! CEL expressions and `${{ … }}` templates: compiled when a workflow is
//! applied (so a typo fails at apply time, not at 3 a.m.) and evaluated
//! against a run's bindings (`inputs`, `steps`, `run`, `item`, `index`).

mod check;
mod template;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, LazyLock};

use serde_json::Value as Json;

pub use check::RefScope;
pub use template::{Template, TemplateValue};

/// The names an expression may start from.
pub const ROOTS: &[&str] = &["inputs", "steps", "run", "item", "index"];
/// What `steps.<id>` holds.
pub const STEP_FIELDS: &[&str] = &["status", "outputs", "exit_code", "stdout", "stderr", "attempts"];
/// What `run` holds.
pub const RUN_FIELDS: &[&str] = &["id", "workflow", "version", "tenant", "created_at"];

/// CEL's standard library with the `strings`, `lists` and `math` extensions
/// (`join`, `split`, `lowerAscii`, `math.abs`, …), shared by every expression.
static ENV: LazyLock<Arc<cel::Env>> = LazyLock::new(|| {
    let mut env = cel::Env::stdlib();
    for extension in [cel::extensions::strings, cel::extensions::lists, cel::extensions::math] {
        // Declaring the extensions on a fresh standard library cannot conflict.
        let _ = env.add_extension(extension);
    }
    Arc::new(env)
});

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
        let program = ENV.compile(source).map_err(|e| {
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
        check::problems(self.program.expression(), scope)
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
        let mut context = cel::Context::with_env(ENV.clone());
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn visible(id: &str) -> Option<bool> {
        match id {
            "build" => Some(true),
            "later" => Some(false),
            _ => None,
        }
    }

    fn check(source: &str, has_item: bool) -> Vec<String> {
        let inputs = vec!["host".to_string()];
        let ids = vec!["build".to_string(), "later".to_string()];
        let scope = RefScope { roots: ROOTS, inputs: &inputs, step_ids: &ids, visible: &visible, has_item };
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
    fn unknown_functions_are_caught_and_known_ones_pass() {
        let fine = [
            "size(inputs.host) > 0 && inputs.host.startsWith('db')",
            "inputs.host.matches('^db[0-9]+$')",
            "['a', 'b'].join(', ').lowerAscii() == 'a, b'",
            "math.abs(-1) == 1 && int('3') == 3 && string(1) == '1'",
            "inputs.host.split('.').size() > 0",
            "timestamp('2026-01-01T00:00:00Z') < timestamp('2027-01-01T00:00:00Z')",
        ];
        for source in fine {
            assert!(check(source, false).is_empty(), "{source}: {:?}", check(source, false));
        }
        assert_eq!(check("inputs.host.jion(',')", false), vec!["unknown function `.jion()`".to_string()]);
        assert_eq!(check("sise(inputs.host) > 0", false), vec!["unknown function `sise`".to_string()]);
        assert_eq!(check("math.nope(1) == 1", false), vec!["unknown function `math.nope`".to_string()]);
    }

    #[test]
    fn extension_functions_evaluate() {
        let bindings = Bindings::new(&BTreeMap::from([("inputs", json!({"xs": [{"t": "a"}, {"t": "b"}]}))]));
        let expr = Expr::compile("inputs.xs.map(c, c.t).join(', ')").unwrap();
        assert_eq!(bindings.eval(&expr).unwrap(), json!("a, b"));
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
