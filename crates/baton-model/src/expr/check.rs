//! Which names an expression reads, checked against what exists where it
//! stands: inputs, steps (and whether they are certain to have run), `run`'s
//! fields, and functions.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use cel::common::ast::{Expr as Ast, IdedExpr};

#[cfg(doc)]
use super::ROOTS;
use super::{ENV, RUN_FIELDS, STEP_FIELDS};

/// What an expression may refer to at its place in a workflow.
pub struct RefScope<'a> {
    /// The variables in scope: [`ROOTS`] in a workflow; `body` and
    /// `headers` in a webhook trigger; `event` in an event trigger.
    pub roots: &'a [&'a str],
    pub inputs: &'a [String],
    /// Every step id of the workflow, for messages.
    pub step_ids: &'a [String],
    /// For a step id: `None` if there is no such step, else whether its
    /// outputs are certain to exist when this expression runs (an ancestor).
    pub visible: &'a dyn Fn(&str) -> Option<bool>,
    /// Inside a `for_each` step: `item` and `index` are defined.
    pub has_item: bool,
}

/// Every problem with the names `expr` reads.
pub(super) fn problems(expr: &IdedExpr, scope: &RefScope<'_>) -> Vec<String> {
    let mut checker = Checker { scope, bound: Vec::new(), problems: Vec::new() };
    checker.walk(expr);
    checker.problems.dedup();
    checker.problems
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
                self.function(call);
                match &call.target {
                    // `math.abs(x)`: `math` names functions, not a variable.
                    Some(target) if self.namespace(target).is_some() => {}
                    Some(target) => self.walk(target),
                    None => {}
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

    /// A call of a function CEL does not have fails every time it runs: say so now.
    fn function(&mut self, call: &cel::common::ast::CallExpr) {
        let name = call.func_name.as_str();
        if name.starts_with(['_', '@', '!', '-']) {
            return; // operators
        }
        let (probe, shown) = match &call.target {
            None => (format!("{name}()"), name.to_string()),
            Some(target) => match self.namespace(target) {
                Some(ns) => (format!("{ns}.{name}()"), format!("{ns}.{name}")),
                None => (format!("null.{name}()"), format!(".{name}()")),
            },
        };
        if !function_exists(&probe) {
            self.problems.push(format!("unknown function `{shown}`"));
        }
    }

    /// The target of `ns.f(…)` when it is a plain name and not a variable.
    fn namespace<'e>(&self, target: &'e IdedExpr) -> Option<&'e str> {
        match &target.expr {
            Ast::Ident(name) if !self.is_bound(name) && !self.scope.roots.contains(&name.as_str()) => Some(name),
            _ => None,
        }
    }

    fn is_bound(&self, name: &str) -> bool {
        self.bound.iter().any(|b| b == name)
    }

    fn ident(&mut self, name: &str) {
        if self.is_bound(name) {
            return;
        }
        if !self.scope.roots.contains(&name) {
            let roots = self.scope.roots.join(", ");
            self.problems.push(format!("unknown name `{name}`: an expression here may read {roots}"));
        } else if (name == "item" || name == "index") && !self.scope.has_item {
            self.problems.push(format!("`{name}` is only defined in a step with `for_each`"));
        }
    }

    /// `a.b.c` where `a` is not a comprehension variable.
    fn chain(&mut self, chain: &[&str]) {
        self.ident(chain[0]);
        if !self.scope.roots.contains(&chain[0]) {
            return;
        }
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
        match (self.scope.visible)(id) {
            None => {
                let known = self.scope.step_ids.join(", ");
                self.problems.push(format!("refers to unknown step `{id}` (steps: {known})"));
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

/// Whether CEL (with baton's extensions) declares the function `probe`
/// calls: calling it with no arguments tells, by the kind of error. The
/// answer is remembered; the set of functions never changes while running.
fn function_exists(probe: &str) -> bool {
    static SEEN: LazyLock<Mutex<HashMap<String, bool>>> = LazyLock::new(Mutex::default);
    if let Some(known) = SEEN.lock().unwrap_or_else(|e| e.into_inner()).get(probe) {
        return *known;
    }
    let known = match ENV.compile(probe) {
        // Not a plain call after all: nothing to say about it here.
        Err(_) => true,
        Ok(program) => {
            let context = cel::Context::with_env(ENV.clone());
            !matches!(program.execute(&context), Err(cel::ExecutionError::UndeclaredReference(_)))
        }
    };
    SEEN.lock().unwrap_or_else(|e| e.into_inner()).insert(probe.to_string(), known);
    known
}
