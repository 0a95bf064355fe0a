//! Webhooks with the real binary over HTTP: a body signed by
//! `baton webhook sign` starts a run (202 only once it is recorded), and
//! every refusal answers as documented.

use serde_json::{Value as Json, json};

use crate::server::{Server, text};

const SECRET: &str = "e2e-secret-0123456789abcdef";

const RESOURCES: &str = "apiVersion: baton/v1\nkind: Workflow\nmetadata: {name: deploy}\nspec:\n  inputs:\n    sha: {type: string}\n  steps: [{id: a, kind: noop}]\n---\napiVersion: baton/v1\nkind: Trigger\nmetadata: {name: push}\nspec:\n  type: webhook\n  workflow: deploy\n  filter: body.ref == 'refs/heads/main'\n  inputs: {sha: body.after}\n  webhook:\n    secrets: [{env: HOOK_SECRET}]\n    max_body_bytes: 256\n    rate_limit: {per_second: 0.001, burst: 5}\n";

struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: Json,
}

/// Signs with the CLI, as a user scripting a sender would.
fn signature(s: &Server, body: &str, at: Option<i64>) -> String {
    let file = s.write("body.json", body);
    let mut args = vec!["webhook".to_string(), "sign".into(), "--secret-env".into(), "HOOK_SECRET".into()];
    args.extend(["-f".into(), file.display().to_string()]);
    if let Some(t) = at {
        args.extend(["--timestamp".into(), t.to_string()]);
    }
    let out = std::process::Command::new(crate::server::BATON).args(&args).env("HOOK_SECRET", SECRET).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).trim().to_string()
}

fn post(s: &Server, path: &str, signature: Option<&str>, body: &str) -> Answer {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut request = reqwest::Client::new().post(format!("{}{path}", s.url)).body(body.to_string());
        if let Some(sig) = signature {
            request = request.header("Baton-Signature", sig);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
        let body = response.json().await.unwrap_or(Json::Null);
        Answer { status, retry_after, body }
    })
}

fn hook(s: &Server, body: &str) -> Answer {
    post(s, "/hooks/default/push", Some(&signature(s, body, None)), body)
}

#[test]
fn signed_calls_start_runs_and_every_refusal_answers_as_documented() {
    let s = Server::start_with_env(&[("HOOK_SECRET", SECRET)]);
    s.apply("push.yaml", RESOURCES);

    let push = r#"{"ref": "refs/heads/main", "after": "abc123"}"#;
    let sig = signature(&s, push, None);
    let accepted = post(&s, "/hooks/default/push", Some(&sig), push);
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    assert_eq!(accepted.body["status"], "started");
    let run = accepted.body["run_id"].as_str().unwrap().to_string();
    let detail = s.finished(&run);
    assert_eq!((detail["state"].clone(), detail["inputs"].clone()), (json!("succeeded"), json!({"sha": "abc123"})));

    // The same signed call again: a replay.
    let replay = post(&s, "/hooks/default/push", Some(&sig), push);
    assert_eq!(replay.status, 401);
    assert_eq!(replay.body["detail"], "invalid signature", "no detail beyond that: {}", replay.body);

    let ignored = hook(&s, r#"{"ref": "refs/heads/feature", "after": "x"}"#);
    assert_eq!((ignored.status, ignored.body["status"].clone()), (200, json!("ignored")));

    let forged = format!("t={},v1={}", chrono::Utc::now().timestamp(), "0".repeat(64));
    let wrong = post(&s, "/hooks/default/push", Some(&forged), push);
    assert_eq!((wrong.status, wrong.body["detail"].clone()), (401, json!("invalid signature")));
    let stale_at = chrono::Utc::now().timestamp() - 600;
    let stale = post(&s, "/hooks/default/push", Some(&signature(&s, push, Some(stale_at))), push);
    assert_eq!((stale.status, stale.body["detail"].clone()), (401, json!("invalid signature")));
    let unsigned = post(&s, "/hooks/default/push", None, push);
    assert_eq!(unsigned.status, 401);

    let big = format!(r#"{{"ref": "refs/heads/main", "after": "{}"}}"#, "a".repeat(300));
    let too_large = hook(&s, &big);
    assert_eq!(too_large.status, 413, "{}", too_large.body);

    assert_eq!(post(&s, "/hooks/default/nope", Some(&sig), push).status, 404);

    // Five tokens: the first call, the ignored call, and three more (a replay gives its token back).
    for n in 0..3 {
        assert_eq!(hook(&s, &format!(r#"{{"ref": "refs/heads/main", "after": "n{n}"}}"#)).status, 202);
    }
    let limited = hook(&s, r#"{"ref": "refs/heads/main", "after": "late"}"#);
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert!(limited.retry_after.is_some_and(|r| r.parse::<u64>().unwrap() >= 1));

    let listed: Json = serde_json::from_str(&s.ok(&["get", "triggers", "-o", "json"])).unwrap();
    let counters = &listed[0]["counters"];
    assert_eq!(counters["started"], 4, "{counters}");
    assert_eq!(counters["ignored"], 1, "{counters}");
    assert_eq!(counters["invalid_signature"], 4, "replay, wrong, stale, unsigned: {counters}");
    assert_eq!((counters["replayed"].clone(), counters["stale_timestamp"].clone()), (json!(1), json!(1)));

    assert_eq!((counters["too_large"].clone(), counters["rate_limited"].clone()), (json!(1), json!(1)));
    assert!(s.log().contains("webhook signature refused"), "refusals are logged");
    assert!(!s.log().contains(SECRET), "the secret never reaches the log");

    let history: Vec<Json> = serde_json::from_str(&s.ok(&["trigger", "history", "push", "-o", "json"])).unwrap();
    let outcomes: Vec<&str> = history.iter().map(|d| d["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes.iter().filter(|o| **o == "started").count(), 4);
    assert_eq!(outcomes.iter().filter(|o| **o == "ignored").count(), 1);
    assert!(s.ok(&["get", "triggers"]).contains("POST /hooks/default/push"));
}

#[test]
fn a_trigger_whose_secret_variable_is_unset_is_refused_at_apply() {
    let s = Server::start();
    let path = s.write("push.yaml", RESOURCES);
    let out = s.cli(&["apply", "-f", path.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = text(&out.stderr) + &text(&out.stdout);
    assert!(err.contains("spec.webhook.secrets[0].env") && err.contains("`HOOK_SECRET` is not set"), "{err}");
    assert!(!s.ok(&["get", "workflows"]).contains("deploy"), "nothing of the file was applied");
}
