//! A workflow checked as a whole and ready to run: its DAG resolved and every
//! CEL expression compiled and checked against what is in scope where it stands.

use std::collections::{BTreeSet, HashMap};

use crate::dag::{self, Dag};
use crate::decode::{Locations, index, join};
use crate::diagnostic::Diagnostics;
use crate::expr::{Expr, ROOTS, RefScope, TemplateValue};
use crate::workflow::{Action, StepSpec, Workflow};

#[derive(Debug, Clone)]
pub struct CompiledWorkflow {
    pub workflow: Workflow,
    pub dag: Dag,
    /// Same order as `workflow.spec.steps`.
    pub steps: Vec<CompiledStep>,
}

#[derive(Debug, Clone)]
pub struct CompiledStep {
    pub condition: Option<Expr>,
    pub for_each: Option<Expr>,
    pub with: TemplateValue,
    pub compensate_with: Option<TemplateValue>,
}

impl CompiledWorkflow {
    /// Checks and compiles `workflow`; `locs` places problems in the source
    /// (empty when the workflow comes from storage).
    pub fn compile(workflow: Workflow, locs: &Locations) -> Result<Self, Diagnostics> {
        let mut problems = Diagnostics::default();
        check_timeouts(&workflow, locs, &mut problems);
        let dag = dag::check(&workflow.spec.steps, locs, "spec", &mut problems);
        // Expressions are checked even when the graph is broken; without a
        // graph, every step counts as reachable.
        let ancestors = dag.as_ref().map(Dag::ancestors);
        let steps = compile_steps(&workflow, ancestors.as_deref(), locs, &mut problems);
        match dag {
            Some(dag) if problems.is_empty() => Ok(CompiledWorkflow { workflow, dag, steps }),
            _ => Err(problems),
        }
    }

    pub fn step_index(&self, id: &str) -> Option<usize> {
        self.workflow.spec.steps.iter().position(|s| s.id == id)
    }
}

fn check_timeouts(workflow: &Workflow, locs: &Locations, problems: &mut Diagnostics) {
    let mut zero = |path: String| problems.push(locs.get(&path), path, "a timeout must be longer than zero");
    if workflow.spec.timeout.is_some_and(|t| t.std().is_zero()) {
        zero("spec.timeout".to_string());
    }
    for (i, step) in workflow.spec.steps.iter().enumerate() {
        let step_path = index("spec.steps", i);
        if step.action.timeout.is_some_and(|t| t.std().is_zero()) {
            zero(join(&step_path, "timeout"));
        }
        if let Some(c) = &step.compensate
            && c.timeout.is_some_and(|t| t.std().is_zero())
        {
            zero(join(&join(&step_path, "compensate"), "timeout"));
        }
    }
}

fn compile_steps(
    workflow: &Workflow,
    ancestors: Option<&[BTreeSet<usize>]>,
    locs: &Locations,
    problems: &mut Diagnostics,
) -> Vec<CompiledStep> {
    let inputs: Vec<String> = workflow.spec.inputs.keys().cloned().collect();
    let steps = &workflow.spec.steps;
    let ids: Vec<String> = steps.iter().map(|s| s.id.clone()).collect();
    let positions: HashMap<&str, usize> = ids.iter().enumerate().map(|(j, id)| (id.as_str(), j)).collect();
    steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            // Steps an expression here may read: its ancestors (all steps when
            // the graph is broken), and for a compensation the step itself.
            let seen_from = |with_self: bool| {
                let positions = &positions;
                move |id: &str| {
                    let j = *positions.get(id)?;
                    Some(ancestors.is_none_or(|a| a[i].contains(&j)) || (with_self && i == j))
                }
            };
            let (before, undo) = (seen_from(false), seen_from(true));
            let mut compiler = StepCompiler {
                locs,
                problems: &mut *problems,
                path: index("spec.steps", i),
                inputs: &inputs,
                ids: &ids,
            };
            compiler.step(step, &before, &undo)
        })
        .collect()
}

struct StepCompiler<'a> {
    locs: &'a Locations,
    problems: &'a mut Diagnostics,
    path: String,
    inputs: &'a [String],
    ids: &'a [String],
}

impl StepCompiler<'_> {
    fn step(
        &mut self,
        step: &StepSpec,
        before: &dyn Fn(&str) -> Option<bool>,
        with_self: &dyn Fn(&str) -> Option<bool>,
    ) -> CompiledStep {
        let (inputs, step_ids, fan_out) = (self.inputs, self.ids, step.for_each.is_some());
        let roots = ROOTS;
        let outer = RefScope { roots, inputs, step_ids, visible: before, has_item: false };
        let inner = RefScope { roots, inputs, step_ids, visible: before, has_item: fan_out };
        let undo = RefScope { roots, inputs, step_ids, visible: with_self, has_item: fan_out };
        let condition = step.condition.as_deref().and_then(|s| self.expr(s, "if", &outer));
        let for_each = step.for_each.as_deref().and_then(|s| self.expr(s, "for_each", &outer));
        let with = self.with(&step.action, "with", &inner);
        let compensate_with = step.compensate.as_ref().map(|c| self.with(c, "compensate.with", &undo));
        CompiledStep { condition, for_each, with, compensate_with }
    }

    fn expr(&mut self, source: &str, field: &str, scope: &RefScope<'_>) -> Option<Expr> {
        let path = join(&self.path, field);
        match Expr::compile(source) {
            Ok(expr) => {
                for problem in expr.check(scope) {
                    self.problems.push(self.locs.get(&path), path.clone(), problem);
                }
                Some(expr)
            }
            Err(e) => {
                self.problems.push(self.locs.get(&path), path, e);
                None
            }
        }
    }

    fn with(&mut self, action: &Action, field: &str, scope: &RefScope<'_>) -> TemplateValue {
        let base = join(&self.path, field);
        match TemplateValue::compile(&action.with) {
            Ok(value) => {
                for (rel, template) in value.templates() {
                    let path = join(&base, &rel);
                    for expr in template.exprs() {
                        for problem in expr.check(scope) {
                            self.problems.push(self.locs.get(&path), path.clone(), problem);
                        }
                    }
                }
                value
            }
            Err(errors) => {
                for (rel, e) in errors {
                    let path = join(&base, &rel);
                    self.problems.push(self.locs.get(&path), path, e);
                }
                TemplateValue::Literal(action.with.clone())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_workflows_can_be_shared_between_tasks() {
        fn shareable<T: Send + Sync>() {}
        shareable::<CompiledWorkflow>();
    }
}
