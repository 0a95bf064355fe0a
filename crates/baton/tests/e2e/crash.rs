//! A crash loses nothing: SIGKILL in the middle of work, restart, finish.

use std::collections::HashMap;

use crate::server::{Server, step, steps, time};

#[test]
fn a_run_killed_mid_way_finishes_after_restart_with_each_success_recorded_once() {
    let mut s = Server::start();
    let trail = s.path("trail");
    let mut yaml = String::from("apiVersion: baton/v1\nkind: Workflow\nmetadata: {name: twenty}\nspec:\n  steps:\n");
    for i in 0..20 {
        let needs = if i == 0 { String::new() } else { format!("\n      needs: [s{}]", i - 1) };
        yaml.push_str(&format!(
            "    - id: s{i}\n      kind: shell{needs}\n      with: {{run: 'sleep 0.2; echo $BATON_STEP:$BATON_ATTEMPT:$BATON_IDEMPOTENCY_KEY >> {}'}}\n",
            trail.display()
        ));
    }
    s.apply("twenty.yaml", &yaml);
    let id = s.start_run("twenty", &[]);
    s.until(&id, "five steps to succeed and a sixth to run", |d| {
        steps(d).iter().filter(|s| s["state"] == "succeeded").count() >= 5
            && steps(d).iter().any(|s| s["state"] == "running")
    });
    s.restart();
    let detail = s.finished(&id);
    assert_eq!(detail["state"], "succeeded", "{detail:#}");
    assert_eq!(steps(&detail).len(), 20);

    let mut successes: HashMap<String, usize> = HashMap::new();
    for a in detail["attempts"].as_array().unwrap() {
        if a["state"] == "succeeded" {
            *successes.entry(a["key"].as_str().unwrap().to_string()).or_default() += 1;
        }
    }
    for i in 0..20 {
        assert_eq!(successes.get(&format!("s{i}")), Some(&1), "step s{i}: {successes:?}");
    }
    let interrupted: Vec<&serde_json::Value> =
        detail["attempts"].as_array().unwrap().iter().filter(|a| a["state"] == "interrupted").collect();
    assert_eq!(interrupted.len(), 1, "the step in flight at the crash is recorded as interrupted");
    let again = step(&detail, interrupted[0]["key"].as_str().unwrap());
    assert_eq!(again["attempt"], 2, "and ran again");
    // A step that ran twice (interrupted, then again) kept its idempotency key.
    let lines = std::fs::read_to_string(&trail).unwrap();
    for line in lines.lines() {
        let parts: Vec<&str> = line.split(':').collect();
        assert_eq!(parts[2], format!("{id}/{}", parts[0]), "{line}");
    }
}

#[test]
fn a_sleeping_run_survives_a_restart_and_wakes_on_time() {
    let mut s = Server::start();
    s.apply(
        "nap.yaml",
        "apiVersion: baton/v1\nkind: Workflow\nmetadata: {name: nap}\nspec:\n  steps:\n    - id: nap\n      kind: sleep\n      with: {duration: 3s}\n    - id: after\n      kind: noop\n      needs: [nap]\n",
    );
    let id = s.start_run("nap", &[]);
    let waiting = s.until(&id, "the sleep to start", |d| {
        d["steps"].as_array().is_some_and(|st| st.iter().any(|x| x["key"] == "nap" && x["state"] == "waiting"))
    });
    let wake_at = time(&step(&waiting, "nap")["wake_at"]);
    let began = time(&step(&waiting, "nap")["started_at"]);
    assert_eq!((wake_at - began).num_milliseconds(), 3000);
    s.kill9();
    std::thread::sleep(std::time::Duration::from_secs(1));
    s.restart();
    let detail = s.finished(&id);
    assert_eq!(detail["state"], "succeeded");
    let woke = time(&step(&detail, "nap")["finished_at"]);
    let late = (woke - wake_at).num_milliseconds();
    assert!((0..1500).contains(&late), "woke {late}ms after its time (a restarted sleep would be ~1000ms+3000ms late)");
}
