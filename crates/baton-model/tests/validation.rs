//! Every class of validation problem: the message and where it points.

use baton_model::{Diagnostic, Resource, load};

fn problems(text: &str) -> Vec<Diagnostic> {
    load("w.yaml", text).expect_err("the workflow should be rejected")
}

fn one_problem(text: &str) -> Diagnostic {
    let mut all = problems(text);
    assert_eq!(all.len(), 1, "expected one problem, got: {all:#?}");
    all.remove(0)
}

fn at(d: &Diagnostic) -> (usize, usize) {
    (d.line.expect("a line"), d.column.expect("a column"))
}

const HEAD: &str = "apiVersion: baton/v1\nkind: Workflow\nmetadata:\n  name: w\nspec:\n";

#[test]
fn a_valid_workflow_loads() {
    let text = format!(
        "{HEAD}  inputs:\n    host: {{type: string, default: db1}}\n  steps:\n    - id: a\n      kind: shell\n      with: {{run: 'echo ${{{{ inputs.host }}}}'}}\n    - id: b\n      kind: noop\n      needs: [a]\n      if: steps.a.exit_code == 0\n"
    );
    let resources = load("w.yaml", &text).unwrap();
    let Resource::Workflow(w) = &resources[0] else { panic!("not a workflow") };
    assert_eq!(w.workflow.spec.steps.len(), 2);
    assert_eq!(w.dag.order, vec![0, 1]);
}

#[test]
fn yaml_syntax_error_points_at_the_fault() {
    let d = one_problem("apiVersion: baton/v1\nkind: [Workflow\nmetadata: {}\n");
    assert!(d.message.starts_with("YAML syntax:"), "{d}");
    assert_eq!(d.file.as_deref(), Some("w.yaml"));
    assert!(d.line.unwrap() >= 2, "{d}");
}

#[test]
fn unknown_fields_are_all_reported_with_suggestions() {
    let text = format!(
        "{HEAD}  stepz: []\n  steps:\n    - id: a\n      kind: noop\n      nedds: [b]\n    - id: b\n      kind: shell\n      with: {{run: x, shel: bash}}\n"
    );
    let all = problems(&text);
    let paths: Vec<&str> = all.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(paths, vec!["spec.stepz", "spec.steps[0].nedds", "spec.steps[1].with.shel"], "{all:#?}");
    assert_eq!(at(&all[0]), (6, 3));
    assert_eq!(at(&all[1]), (10, 7));
    assert!(all[1].message.contains("did you mean `needs`"), "{}", all[1]);
    assert!(all[2].message.contains("did you mean `shell`"), "{}", all[2]);
}

#[test]
fn duplicate_step_ids() {
    let text = format!("{HEAD}  steps:\n    - id: a\n      kind: noop\n    - id: a\n      kind: noop\n");
    let d = one_problem(&text);
    assert_eq!(d.path, "spec.steps[1].id");
    assert_eq!(at(&d), (9, 11));
    assert_eq!(d.message, "duplicate step id `a`: already used by spec.steps[0] (line 7)");
}

#[test]
fn needs_naming_a_missing_step() {
    let text = format!(
        "{HEAD}  steps:\n    - id: a\n      kind: noop\n      needs: [a2, zz]\n    - id: a2\n      kind: noop\n"
    );
    let d = one_problem(&text);
    assert_eq!(d.path, "spec.steps[0].needs[1]");
    assert_eq!(at(&d), (9, 19));
    assert!(d.message.contains("needs `zz`, but no step has that id"), "{d}");
}

#[test]
fn a_cycle_is_named_step_by_step() {
    let text = format!(
        "{HEAD}  steps:\n    - id: a\n      kind: noop\n      needs: [c]\n    - id: b\n      kind: noop\n      needs: [a]\n    - id: c\n      kind: noop\n      needs: [b]\n    - id: d\n      kind: noop\n"
    );
    let d = one_problem(&text);
    assert!(d.message.contains("a → c → b → a"), "{d}");
    assert_eq!(d.path, "spec.steps[0].needs[0]");
    assert_eq!(at(&d), (9, 15));
}

#[test]
fn cel_that_does_not_compile() {
    let text = format!("{HEAD}  steps:\n    - id: a\n      kind: noop\n      if: 'true &&'\n");
    let d = one_problem(&text);
    assert_eq!(d.path, "spec.steps[0].if");
    assert_eq!(at(&d), (9, 11));
    assert!(d.message.starts_with("CEL does not compile"), "{d}");
}

#[test]
fn cel_in_a_template_that_does_not_compile() {
    let text = format!(
        "{HEAD}  steps:\n    - id: a\n      kind: shell\n      with:\n        run: 'echo ${{{{ inputs. }}}}'\n"
    );
    let d = one_problem(&text);
    assert_eq!(d.path, "spec.steps[0].with.run");
    assert_eq!(at(&d), (10, 14));
    assert!(d.message.contains("CEL does not compile"), "{d}");
}

#[test]
fn cel_referring_to_an_unknown_step() {
    let text = format!(
        "{HEAD}  steps:\n    - id: build\n      kind: noop\n    - id: ship\n      kind: noop\n      needs: [build]\n      if: steps.biuld.outputs.ok\n"
    );
    let d = one_problem(&text);
    assert_eq!(d.path, "spec.steps[1].if");
    assert_eq!(at(&d), (12, 11));
    assert!(d.message.contains("unknown step `biuld`"), "{d}");
}

#[test]
fn cel_referring_to_a_step_outside_needs() {
    let text = format!(
        "{HEAD}  steps:\n    - id: build\n      kind: noop\n    - id: ship\n      kind: noop\n      with: {{outputs: '${{{{ steps.build.outputs }}}}'}}\n"
    );
    let d = one_problem(&text);
    assert_eq!(d.path, "spec.steps[1].with.outputs");
    assert!(d.message.contains("add it to `needs`"), "{d}");
}

#[test]
fn bad_durations() {
    let text = format!(
        "{HEAD}  timeout: 10\n  steps:\n    - id: a\n      kind: sleep\n      with: {{duration: 5 parsecs}}\n      timeout: soon\n"
    );
    let all = problems(&text);
    assert_eq!(all.len(), 3, "{all:#?}");
    assert_eq!((all[0].path.as_str(), at(&all[0])), ("spec.timeout", (6, 12)));
    assert!(all[0].message.contains("needs a unit"), "{}", all[0]);
    assert_eq!(all[1].path, "spec.steps[0].with.duration");
    assert!(all[1].message.contains("`5 parsecs` is not a duration"), "{}", all[1]);
    assert_eq!((all[2].path.as_str(), at(&all[2])), ("spec.steps[0].timeout", (11, 16)));
}

#[test]
fn every_problem_of_a_file_at_once_across_documents() {
    let text = format!(
        "{HEAD}  steps:\n    - id: a-b\n      kind: nope\n---\napiVersion: baton/v2\nkind: Workflow\nmetadata: {{name: Bad_Name}}\nspec: {{steps: []}}\n"
    );
    let all = problems(&text);
    let messages: Vec<String> = all.iter().map(|d| d.to_string()).collect();
    assert_eq!(all.len(), 5, "{messages:#?}");
    assert!(messages[0].contains("step id `a-b`") && messages[0].contains("use `_`"));
    assert!(messages[1].contains("unknown step kind `nope`"));
    assert!(messages[2].contains("unsupported apiVersion `baton/v2`"));
    assert!(messages[3].contains("`Bad_Name` is not a valid name"));
    assert!(messages[4].contains("at least one step"));
}

#[test]
fn missing_required_fields_and_wrong_types() {
    let text = format!(
        "{HEAD}  inputs:\n    n: {{type: integer, default: x}}\n  steps:\n    - kind: shell\n      with: {{}}\n      max_parallel: 0\n"
    );
    let all = problems(&text);
    let messages: Vec<String> = all.iter().map(|d| d.to_string()).collect();
    assert!(
        messages.iter().any(|m| m.contains("spec.inputs.n.default: default \"x\" is not of type integer")),
        "{messages:#?}"
    );
    assert!(messages.iter().any(|m| m.contains("spec.steps[0]: missing required field `id`")), "{messages:#?}");
    assert!(messages.iter().any(|m| m.contains("spec.steps[0].with: missing required field `run`")), "{messages:#?}");
    assert!(messages.iter().any(|m| m.contains("0 is out of range")), "{messages:#?}");
}

#[test]
fn decoding_graph_and_expression_problems_come_together() {
    let text = format!(
        "{HEAD}  timeout: 10\n  steps:\n    - id: a\n      kind: shell\n      needs: [c]\n      with: {{run: 'echo ${{{{ steps.zz.outputs }}}}'}}\n    - id: b\n      kind: noop\n      needs: [a]\n      retrry: 3\n    - id: c\n      kind: noop\n      needs: [b]\n      if: 'inputs.x =='\n"
    );
    let all = problems(&text);
    let paths: Vec<&str> = all.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "spec.timeout",
            "spec.steps[0].needs[0]",
            "spec.steps[0].with.run",
            "spec.steps[1].retrry",
            "spec.steps[2].if"
        ],
        "{all:#?}"
    );
    assert!(all[1].message.contains("a → c → b → a"));
    assert!(all[2].message.contains("unknown step `zz`"));
}

#[test]
fn a_schedule_loads_with_its_defaults() {
    let text = "apiVersion: baton/v1\nkind: Schedule\nmetadata: {name: nightly}\nspec:\n  workflow: backup\n  cron: '30 2 * * *'\n";
    let Resource::Schedule(s) = load("s.yaml", text).unwrap().remove(0) else { panic!("not a schedule") };
    let spec = &s.spec;
    assert_eq!((spec.timezone.as_str(), spec.enabled, spec.misfire_limit), ("UTC", true, 10));
    assert_eq!((spec.misfire.as_str(), spec.overlap.as_str()), ("fire_once", "skip"));
}

#[test]
fn every_schedule_problem_with_its_place() {
    let text = "apiVersion: baton/v1\nkind: Schedule\nmetadata: {name: s}\nspec:\n  workflow: Bad_Name\n  cron: '0 0 * * 8'\n  timezone: Mars/Base\n  start: '2026-05-01T00:00:00Z'\n  end: '2026-04-01T00:00:00Z'\n  overlap: sometimes\n  jitter: 5\n  max_executions: 0\n  colour: red\n";
    let all = problems(text);
    let got: Vec<(String, (usize, usize))> = all.iter().map(|d| (d.path.clone(), at(d))).collect();
    assert_eq!(
        got,
        vec![
            ("spec.workflow".into(), (5, 13)),
            ("spec.cron".into(), (6, 9)),
            ("spec.timezone".into(), (7, 13)),
            ("spec.end".into(), (9, 8)),
            ("spec.overlap".into(), (10, 12)),
            ("spec.jitter".into(), (11, 11)),
            ("spec.max_executions".into(), (12, 19)),
            ("spec.colour".into(), (13, 3)),
        ],
        "{all:#?}"
    );
    assert_eq!(all[1].message, "day-of-week field `8`: 8 is out of range 0-7");
    assert!(all[2].message.contains("unknown time zone `Mars/Base`"));
    assert!(all[3].message.contains("is not after `start`"));
    assert!(all[4].message.contains("expected one of: allow, skip, queue, cancel_previous"));
}
