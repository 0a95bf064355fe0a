//! `baton validate` reports every problem with its place, and fails.

use crate::server::{BATON, text};

#[test]
fn validate_reports_every_problem_with_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "apiVersion: baton/v1\nkind: Workflow\nmetadata: {name: bad}\nspec:\n  steps:\n    - id: a\n      kind: noop\n      needs: [b]\n    - id: b\n      kind: noop\n      needs: [a]\n      timeout: soon\n",
    )
    .unwrap();
    let out = std::process::Command::new(BATON).args(["validate", "-f"]).arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    let file = path.display().to_string();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0].starts_with(&format!("{file}:8:15: spec.steps[0].needs[0]: `needs` forms a cycle: a → b → a")),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with(&format!("{file}:12:16: spec.steps[1].timeout: `soon` is not a duration")),
        "{stdout}"
    );

    let good = dir.path().join("good.yaml");
    std::fs::write(
        &good,
        "apiVersion: baton/v1\nkind: Workflow\nmetadata: {name: ok}\nspec:\n  steps:\n    - {id: a, kind: noop}\n",
    )
    .unwrap();
    let out = std::process::Command::new(BATON).args(["validate", "-f"]).arg(&good).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}
