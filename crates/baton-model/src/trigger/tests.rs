use super::*;
use crate::Resource;

fn load(spec: &str) -> Result<CompiledTrigger, Vec<String>> {
    let yaml = format!("apiVersion: baton/v1\nkind: Trigger\nmetadata: {{name: hook}}\nspec:\n{spec}");
    match crate::load("t.yaml", &yaml) {
        Ok(mut r) => match r.remove(0) {
            Resource::Trigger(t) => Ok(*t),
            other => panic!("not a trigger: {other:?}"),
        },
        Err(problems) => Err(problems.iter().map(|p| p.to_string()).collect()),
    }
}

fn problems(spec: &str) -> String {
    load(spec).expect_err("should be rejected").join("\n")
}

const WEBHOOK: &str = "  type: webhook\n  workflow: deploy\n  webhook:\n    secrets: [{env: HOOK_SECRET}]\n";

#[test]
fn a_webhook_trigger_with_defaults() {
    let t = load(WEBHOOK).unwrap();
    let spec = &t.trigger.spec;
    assert_eq!(spec.kind, TriggerType::Webhook);
    assert!(spec.enabled);
    let hook = spec.webhook.as_ref().unwrap();
    assert_eq!(hook.secrets, vec![SecretRef::Env("HOOK_SECRET".into())]);
    assert_eq!(hook.tolerance, Duration::from_secs(300));
    assert_eq!(hook.max_body_bytes, 1024 * 1024);
    assert_eq!(hook.rate_limit, DEFAULT_RATE);
    assert!(t.filter.is_none() && t.inputs.is_empty());
}

#[test]
fn a_webhook_trigger_with_everything() {
    let spec = "  type: webhook\n  workflow: deploy\n  filter: 'body.ref == \"refs/heads/main\"'\n  inputs:\n    sha: body.after\n    agent: headers['user-agent']\n  webhook:\n    secrets: [{value: 'old-secret-0123456789'}, {env: NEW_SECRET}]\n    tolerance: 2m\n    max_body_bytes: 4096\n    rate_limit: {per_second: 0.5, burst: 3}\n";
    let t = load(spec).unwrap();
    let hook = t.trigger.spec.webhook.as_ref().unwrap();
    assert_eq!(hook.secrets.len(), 2);
    assert_eq!(hook.tolerance, Duration::from_secs(120));
    assert_eq!(hook.max_body_bytes, 4096);
    assert_eq!(hook.rate_limit, RateLimit { per_second: 0.5, burst: 3 });
    assert!(t.filter.is_some());
    let names: Vec<&str> = t.inputs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["agent", "sha"]);
}

#[test]
fn an_event_trigger() {
    let spec = "  type: event\n  workflow: page\n  filter: event.run.workflow == 'deploy'\n  inputs: {failed: event.run.id}\n  event: {on: [run.failed, run.timed_out], max_depth: 2}\n";
    let t = load(spec).unwrap();
    let event = t.trigger.spec.event.as_ref().unwrap();
    assert_eq!(event.on, ["run.failed", "run.timed_out"]);
    assert_eq!(event.max_depth, 2);
    let defaults = load("  type: event\n  workflow: page\n  event: {on: [schedule.misfired]}\n").unwrap();
    assert_eq!(defaults.trigger.spec.event.unwrap().max_depth, DEFAULT_MAX_DEPTH);
}

#[test]
fn the_section_must_match_the_type() {
    let p = problems("  type: webhook\n  workflow: deploy\n");
    assert!(p.contains("a `webhook` trigger needs a `webhook` section"), "{p}");
    let p = problems(&format!("{WEBHOOK}  event: {{on: [run.failed]}}\n"));
    assert!(p.contains("spec.event") && p.contains("does not apply to a `webhook` trigger"), "{p}");
    let p = problems("  type: cron\n  workflow: deploy\n");
    assert!(p.contains("spec.type") && p.contains("unknown value `cron`"), "{p}");
    let p = problems("  workflow: deploy\n  webhook: {secrets: [{env: A}]}\n");
    assert!(p.contains("missing required field `type`"), "{p}");
}

#[test]
fn secrets_are_checked() {
    let p = problems("  type: webhook\n  workflow: d\n  webhook: {secrets: []}\n");
    assert!(p.contains("spec.webhook.secrets") && p.contains("0 secrets given"), "{p}");
    let p = problems("  type: webhook\n  workflow: d\n  webhook: {secrets: [{env: A}, {env: B}, {env: C}]}\n");
    assert!(p.contains("3 secrets given: give one, or two while rotating"), "{p}");
    let p = problems("  type: webhook\n  workflow: d\n  webhook: {secrets: [{value: short}]}\n");
    assert!(p.contains("spec.webhook.secrets[0].value") && p.contains("at least 16 characters"), "{p}");
    let p = problems("  type: webhook\n  workflow: d\n  webhook: {secrets: [{env: 'A-B'}]}\n");
    assert!(p.contains("spec.webhook.secrets[0].env") && p.contains("not an environment variable name"), "{p}");
    let p = problems("  type: webhook\n  workflow: d\n  webhook: {secrets: [{env: A, value: '0123456789abcdef'}]}\n");
    assert!(p.contains("spec.webhook.secrets[0]") && p.contains("exactly one of `env`"), "{p}");
}

#[test]
fn limits_are_checked() {
    let base = "  type: webhook\n  workflow: d\n  webhook:\n    secrets: [{env: A}]\n";
    let p = problems(&format!("{base}    tolerance: 2h\n"));
    assert!(p.contains("spec.webhook.tolerance") && p.contains("out of range"), "{p}");
    let p = problems(&format!("{base}    max_body_bytes: 0\n"));
    assert!(p.contains("spec.webhook.max_body_bytes"), "{p}");
    let p = problems(&format!("{base}    rate_limit: {{per_second: 0}}\n"));
    assert!(p.contains("spec.webhook.rate_limit.per_second"), "{p}");
    let p = problems(&format!("{base}    rate_limit: {{burst: 1, every: 2}}\n"));
    assert!(p.contains("spec.webhook.rate_limit.every"), "{p}");
}

#[test]
fn event_types_are_checked() {
    let p = problems("  type: event\n  workflow: d\n  event: {on: [run.failed, run.exploded]}\n");
    assert!(p.contains("spec.event.on[1]") && p.contains("unknown event type `run.exploded`"), "{p}");
    let p = problems("  type: event\n  workflow: d\n  event: {on: []}\n");
    assert!(p.contains("at least one event type"), "{p}");
    let p = problems("  type: event\n  workflow: d\n  event: {on: [run.failed], max_depth: 0}\n");
    assert!(p.contains("spec.event.max_depth"), "{p}");
}

#[test]
fn expressions_are_checked_where_they_stand() {
    let p = problems(&format!("{WEBHOOK}  filter: inputs.x == 1\n"));
    assert!(p.contains("t.yaml:9") && p.contains("spec.filter"), "{p}");
    assert!(p.contains("unknown name `inputs`: an expression here may read body, headers"), "{p}");
    let p = problems(&format!("{WEBHOOK}  inputs: {{sha: 'body.after +'}}\n"));
    assert!(p.contains("spec.inputs.sha") && p.contains("CEL does not compile"), "{p}");
    let p = problems("  type: event\n  workflow: d\n  filter: body.x\n  event: {on: [run.failed]}\n");
    assert!(p.contains("unknown name `body`: an expression here may read event"), "{p}");
    let p = problems(&format!("{WEBHOOK}  filter: nosuch(body)\n"));
    assert!(p.contains("unknown function `nosuch`"), "{p}");
}

#[test]
fn secret_values_are_redacted_for_display() {
    let spec = "  type: webhook\n  workflow: d\n  webhook: {secrets: [{value: '0123456789abcdef'}, {env: NEXT}]}\n";
    let shown = load(spec).unwrap().trigger.redacted();
    let secrets = &shown.spec.webhook.as_ref().unwrap().secrets;
    assert_eq!(secrets, &[SecretRef::Value(REDACTED.into()), SecretRef::Env("NEXT".into())]);
    assert!(!serde_json::to_string(&shown).unwrap().contains("0123456789abcdef"));
}
