//! Apply, run, watch, read logs; retries and the saga; timeouts.

use crate::server::{Server, read, step, text, time};

const HEAD: &str = "apiVersion: baton/v1\nkind: Workflow\nmetadata:\n  name: NAME\nspec:\n";

fn workflow(name: &str, body: &str) -> String {
    format!("{}{body}", HEAD.replace("NAME", name))
}

#[test]
fn apply_then_run_to_success_with_follow_and_logs() {
    let s = Server::start();
    let yaml = workflow(
        "hello",
        "  inputs:\n    who: {type: string, default: world}\n  steps:
    - id: greet
      kind: shell
      with: {run: 'echo \"hello ${{ inputs.who }}\"; echo \"{\\\"ok\\\": true}\" > $BATON_OUTPUT'}
    - id: after
      kind: noop
      needs: [greet]
      if: steps.greet.outputs.ok
",
    );
    let path = s.write("hello.yaml", &yaml);
    let applied = s.ok(&["apply", "-f", path.to_str().unwrap()]);
    assert_eq!(applied.trim(), "workflow/hello in default: created (v1)");
    let again = s.ok(&["apply", "-f", path.to_str().unwrap()]);
    assert_eq!(again.trim(), "workflow/hello in default: unchanged (v1)");

    let out = s.cli(&["run", "hello", "--input", "who=e2e", "--follow"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("greet") && stdout.contains("run succeeded"), "{stdout}");

    let runs: serde_json::Value = serde_json::from_str(&s.ok(&["get", "runs", "-o", "json"])).unwrap();
    let id = runs[0]["id"].as_str().unwrap().to_string();
    assert_eq!(runs[0]["state"], "succeeded");
    assert_eq!(s.ok(&["logs", &id, "greet"]), "hello e2e\n");
    let detail = s.detail(&id[..8]);
    assert_eq!(step(&detail, "after")["state"], "succeeded");
    assert_eq!(step(&detail, "greet")["outputs"]["ok"], true);

    let changed = yaml.replace("default: world", "default: moon");
    let path = s.write("hello.yaml", &changed);
    assert_eq!(s.ok(&["apply", "-f", path.to_str().unwrap()]).trim(), "workflow/hello in default: updated (v2)");
    assert_eq!(detail["version"], 1, "a run keeps the version it started with");
}

#[test]
fn a_failing_step_retries_with_backoff_then_compensation_runs_in_reverse() {
    let s = Server::start();
    let trail = s.path("trail");
    let t = trail.display();
    s.apply(
        "saga.yaml",
        &workflow(
            "saga",
            &format!(
                "  steps:
    - id: reserve
      kind: shell
      with: {{run: 'echo reserve >> {t}'}}
      compensate: {{kind: shell, with: {{run: 'echo release >> {t}'}}}}
    - id: charge
      kind: shell
      needs: [reserve]
      with: {{run: 'echo charge >> {t}'}}
      compensate: {{kind: shell, with: {{run: 'echo refund >> {t}'}}}}
    - id: ship
      kind: shell
      needs: [charge]
      with: {{run: 'echo ship-attempt >> {t}; exit 7'}}
      retry: {{max_attempts: 3, backoff: {{initial: 200ms, multiplier: 2, max: 1s}}}}
"
            ),
        ),
    );
    let out = s.cli(&["run", "saga", "--follow"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("run compensating"), "{}", text(&out.stdout));

    let runs: serde_json::Value = serde_json::from_str(&s.ok(&["get", "runs", "-o", "json"])).unwrap();
    let detail = s.detail(runs[0]["id"].as_str().unwrap());
    assert_eq!(detail["state"], "failed");
    assert_eq!(detail["reason"], "step `ship` failed after 3 attempts: exit code 7; compensated 2 step(s)");
    assert_eq!(read(&trail), "reserve\ncharge\nship-attempt\nship-attempt\nship-attempt\nrefund\nrelease\n");

    let attempts: Vec<&serde_json::Value> =
        detail["attempts"].as_array().unwrap().iter().filter(|a| a["key"] == "ship").collect();
    assert_eq!(attempts.len(), 3);
    let gap = |a: &serde_json::Value, b: &serde_json::Value| {
        (time(&b["started_at"]) - time(&a["finished_at"])).num_milliseconds()
    };
    assert!(gap(attempts[0], attempts[1]) >= 200, "first backoff {}ms", gap(attempts[0], attempts[1]));
    assert!(gap(attempts[1], attempts[2]) >= 400, "second backoff {}ms", gap(attempts[1], attempts[2]));
    assert_eq!(step(&detail, "compensate:charge")["state"], "succeeded");
}

#[test]
fn a_timeout_kills_the_whole_process_group() {
    let s = Server::start();
    let marker = 200_000 + std::process::id() % 100_000;
    s.apply(
        "hang.yaml",
        &workflow("hang", &format!("  steps:\n    - id: hang\n      kind: shell\n      timeout: 1s\n      with: {{run: 'sleep {marker} & sleep {marker}'}}\n")),
    );
    let out = s.cli(&["run", "hang", "--follow"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("timed out after 1s"), "{}", text(&out.stdout));
    let pattern = format!("sleep {marker}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while count(&pattern) > 0 {
        assert!(std::time::Instant::now() < deadline, "`{pattern}` processes survived the timeout");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn count(pattern: &str) -> usize {
    let out = std::process::Command::new("pgrep").args(["-f", "-x", pattern]).output().unwrap();
    text(&out.stdout).lines().count()
}

#[test]
fn cancel_stops_a_run() {
    let s = Server::start();
    s.apply(
        "slow.yaml",
        &workflow("slow", "  steps:\n    - id: wait\n      kind: shell\n      with: {run: 'sleep 300'}\n"),
    );
    let id = s.start_run("slow", &[]);
    s.until(&id, "the step to run", |d| d["steps"].as_array().is_some_and(|s| !s.is_empty()));
    let out = s.ok(&["cancel", &id]);
    assert!(out.contains("cancel requested"), "{out}");
    let detail = s.finished(&id);
    assert_eq!(detail["state"], "cancelled");
    assert_eq!(step(&detail, "wait")["state"], "cancelled");
}

#[test]
fn an_http_step_exposes_status_headers_and_json_body() {
    let s = Server::start();
    s.apply(
        "probe.yaml",
        &workflow(
            "probe",
            &format!(
                "  steps:
    - id: health
      kind: http
      with: {{url: '{}/api/v1/health', expect_status: [200]}}
    - id: seen
      kind: noop
      needs: [health]
      with:
        outputs:
          status: ${{{{ steps.health.outputs.status }}}}
          ok: ${{{{ steps.health.outputs.body.status == 'ok' }}}}
          type: ${{{{ steps.health.outputs.headers['content-type'] }}}}
    - id: missing
      kind: http
      needs: [seen]
      with: {{url: '{}/api/v1/nothing-here'}}
",
                s.url, s.url
            ),
        ),
    );
    let out = s.cli(&["run", "probe", "--follow"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let runs: serde_json::Value = serde_json::from_str(&s.ok(&["get", "runs", "-o", "json"])).unwrap();
    let detail = s.detail(runs[0]["id"].as_str().unwrap());
    assert_eq!(
        step(&detail, "seen")["outputs"],
        serde_json::json!({"status": 200, "ok": true, "type": "application/json"})
    );
    let missing = step(&detail, "missing");
    assert_eq!(missing["reason"], "HTTP status 404 (expected any 2xx)");
    assert_eq!(missing["outputs"]["status"], 404);
}
