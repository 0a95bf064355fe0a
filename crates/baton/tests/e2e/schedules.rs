//! Schedules with the real binary: they fire, and keep firing after a
//! SIGKILL and a restart, with the misfire policy applied to what was missed.

use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::server::Server;

const RESOURCES: &str = "apiVersion: baton/v1\nkind: Workflow\nmetadata: {name: tick}\nspec:\n  steps: [{id: a, kind: noop}]\n---\napiVersion: baton/v1\nkind: Schedule\nmetadata: {name: often}\nspec:\n  workflow: tick\n  cron: '*/2 * * * * *'\n  misfire: fire_once\n  overlap: allow\n";

fn history(s: &Server) -> Vec<Json> {
    let out = s.ok(&["schedule", "history", "often", "--limit", "1000", "-o", "json"]);
    let mut items: Vec<Json> = serde_json::from_str(&out).unwrap();
    items.reverse();
    items
}

fn wait_for(s: &Server, what: &str, check: impl Fn(&[Json]) -> bool) -> Vec<Json> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let h = history(s);
        if check(&h) {
            return h;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}: {h:#?}\n{}", s.log());
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn schedules_fire_and_keep_firing_after_a_kill_and_restart() {
    let mut s = Server::start();
    s.apply("often.yaml", RESOURCES);
    let before = wait_for(&s, "two fires", |h| h.iter().filter(|f| f["outcome"] == "fired").count() >= 2);
    let last_before = before.last().unwrap()["due_at"].as_str().unwrap().to_string();

    s.kill9();
    std::thread::sleep(Duration::from_secs(7));
    s.restart();

    let after = wait_for(&s, "the catch-up and new fires", |h| {
        let caught = h.iter().position(|f| f["outcome"] == "caught_up");
        caught.is_some_and(|i| h[i + 1..].iter().any(|f| f["outcome"] == "fired"))
    });
    let i = after.iter().position(|f| f["outcome"] == "caught_up").unwrap();
    let missed = &after[i - 1];
    assert_eq!(missed["outcome"], "missed", "{after:#?}");
    assert!(missed["count"].as_u64().unwrap() >= 2, "seven seconds down at one fire per two seconds: {missed}");
    assert!(missed["due_at"].as_str().unwrap() > last_before.as_str(), "nothing is counted twice");
    // Every due time appears once, in order.
    let dues: Vec<&str> = after.iter().map(|f| f["due_at"].as_str().unwrap()).collect();
    let mut sorted = dues.clone();
    sorted.dedup();
    assert_eq!(dues, sorted);
    // A fired due time has its run, and the run succeeded.
    let run = after.last().unwrap()["run_id"].as_str().unwrap().to_string();
    let detail = s.finished(&run);
    assert_eq!(detail["state"], "succeeded");
    assert!(detail["trigger"].as_str().unwrap().starts_with("schedule:often@"));
}

#[test]
fn get_schedules_shows_the_next_fire_in_both_zones() {
    let s = Server::start();
    s.apply(
        "nightly.yaml",
        "apiVersion: baton/v1\nkind: Workflow\nmetadata: {name: tick}\nspec:\n  steps: [{id: a, kind: noop}]\n---\napiVersion: baton/v1\nkind: Schedule\nmetadata: {name: nightly}\nspec:\n  workflow: tick\n  cron: '30 2 * * *'\n  timezone: Asia/Tokyo\n",
    );
    let out = s.ok(&["get", "schedules"]);
    assert!(out.contains("nightly") && out.contains("Asia/Tokyo") && out.contains("T02:30:00+09:00"), "{out}");
    let paused = s.ok(&["schedule", "pause", "nightly"]);
    assert!(paused.contains("paused"), "{paused}");
    let trig = s.ok(&["schedule", "trigger", "nightly"]);
    assert!(trig.contains("fired — run"), "{trig}");
}
