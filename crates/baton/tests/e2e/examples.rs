//! The workflows in `examples/` apply and run to success through the CLI,
//! as the README's tour does (with their state in a private directory).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::server::{Server, text};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn run(s: &Server, args: &[&str]) -> (Option<i32>, String) {
    let out = s.cli(args);
    (out.status.code(), format!("{}{}", text(&out.stdout), text(&out.stderr)))
}

#[test]
fn the_examples_validate_and_apply() {
    let s = Server::start();
    let dir = examples();
    s.ok(&["validate", "-f", dir.to_str().unwrap()]);
    let applied = s.ok(&["apply", "-f", dir.to_str().unwrap()]);
    for name in ["cert-expiry", "deploy-web", "nightly-backup"] {
        assert!(applied.contains(&format!("workflow/{name} in default: created (v1)")), "{applied}");
    }
}

#[test]
fn deploy_succeeds_then_a_failed_health_check_rolls_back() {
    let s = Server::start();
    s.ok(&["apply", "-f", examples().join("deploy-with-rollback.yaml").to_str().unwrap()]);
    let root = s.path("web");
    let root_input = format!("root={}", root.display());
    let health = format!("health_url={}/api/v1/health", s.url);
    for version in ["1.0.0", "1.1.0"] {
        let version_input = format!("version={version}");
        let (code, out) = run(
            &s,
            &["run", "deploy-web", "--input", &version_input, "--input", &health, "--input", &root_input, "--follow"],
        );
        assert_eq!(code, Some(0), "{out}");
    }
    let current = || std::fs::read_link(root.join("current")).unwrap();
    assert_eq!(current(), root.join("releases/1.1.0"));

    let down = "health_url=http://127.0.0.1:9/healthz";
    let (code, out) = run(
        &s,
        &["run", "deploy-web", "--input", "version=1.2.0", "--input", down, "--input", &root_input, "--follow"],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("compensate:switch") && out.contains("run failed"), "{out}");
    assert_eq!(current(), root.join("releases/1.1.0"), "the rollback restored the previous release");
}

#[test]
fn nightly_backup_archives_verifies_and_keeps_the_newest() {
    let s = Server::start();
    s.ok(&["apply", "-f", examples().join("nightly-backup.yaml").to_str().unwrap()]);
    let source = s.path("data");
    std::fs::create_dir_all(source.join("db")).unwrap();
    std::fs::write(source.join("db/dump.sql"), "CREATE TABLE t (x INTEGER);\n").unwrap();
    let backups = s.path("backups");
    let inputs =
        [format!("source_dir={}", source.display()), format!("backup_dir={}", backups.display()), "keep=2".into()];
    for _ in 0..3 {
        let mut args = vec!["run", "nightly-backup", "--follow"];
        for i in &inputs {
            args.extend(["--input", i.as_str()]);
        }
        let (code, out) = run(&s, &args);
        assert_eq!(code, Some(0), "{out}");
        // Archive names carry the time to the second.
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    let archives: Vec<String> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tar.gz"))
        .collect();
    assert_eq!(archives.len(), 2, "{archives:?}");
}

/// A local TLS endpoint with a 30-day certificate, or `None` without openssl.
fn tls_endpoint(dir: &Path, port: u16) -> Option<Child> {
    let (key, cert) = (dir.join("key.pem"), dir.join("cert.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    if !made.success() {
        return None;
    }
    let child = Command::new("openssl")
        .args(["s_server", "-accept", &port.to_string(), "-www", "-cert"])
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if std::time::Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Some(child)
}

#[test]
fn cert_expiry_passes_a_fresh_certificate_and_flags_one_inside_the_window() {
    let s = Server::start();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let Some(mut tls) = tls_endpoint(s.dir.path(), port) else {
        eprintln!("skipped: openssl is not available to serve a test certificate");
        return;
    };
    s.ok(&["apply", "-f", examples().join("cert-expiry.yaml").to_str().unwrap()]);
    let targets = format!("targets=[\"localhost:{port}\"]");
    let (code, out) = run(&s, &["run", "cert-expiry", "--input", &targets, "--follow"]);
    let (strict_code, strict_out) =
        run(&s, &["run", "cert-expiry", "--input", &targets, "--input", "warn_days=45", "--follow"]);
    let _ = tls.kill();
    let _ = tls.wait();
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(strict_code, Some(1), "{strict_out}");
}
