//! `baton cron next|explain`: the contract scripts rely on.

use crate::server::{BATON, text};

fn baton(args: &[&str]) -> std::process::Output {
    std::process::Command::new(BATON).args(args).output().unwrap()
}

#[test]
fn cron_next_prints_instants_with_the_zone_offset() {
    let out = baton(&[
        "cron",
        "next",
        "--tz",
        "Europe/Amsterdam",
        "--after",
        "2026-03-28T00:00:00Z",
        "-n",
        "3",
        "--",
        "30 2 * * *",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "2026-03-28T02:30:00+01:00\n2026-03-29T03:00:00+02:00\n2026-03-30T02:30:00+02:00\n");
    assert!(text(&out.stderr).contains("does not exist (clocks went forward)"), "{}", text(&out.stderr));
    let words = baton(&["cron", "next", "--after", "2026-01-01T00:00:00Z", "-n", "2", "--", "0", "9", "*", "*", "1-5"]);
    assert_eq!(text(&words.stdout), "2026-01-01T09:00:00+00:00\n2026-01-02T09:00:00+00:00\n");
}

#[test]
fn an_invalid_expression_exits_2_with_the_reason() {
    let out = baton(&["cron", "next", "--", "0 0 * * 8"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stderr).trim(), "error: day-of-week field `8`: 8 is out of range 0-7");
    assert!(out.stdout.is_empty());
}

#[test]
fn cron_explain_says_it_in_words() {
    let out = baton(&["cron", "explain", "--", "0 9 * * 1-5"]);
    assert_eq!(text(&out.stdout), "at 09:00, Monday through Friday\n");
}
