//! Webhook signatures, the Stripe scheme: the header
//! `Baton-Signature: t=<unix seconds>,v1=<hex>` where the hex is
//! HMAC-SHA256 over `<t>.<raw body>` with the trigger's secret. Several `v1`
//! entries may be present (a sender rotating its own secret).

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const HEADER: &str = "baton-signature";

/// Why a signature was refused. The caller answers only "invalid
/// signature"; the kind is for counters and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No header, or one that does not parse.
    Malformed,
    /// The timestamp is further from now than the tolerance.
    Stale,
    /// No `v1` matches any active secret.
    Mismatch,
    /// Valid, but this signature was delivered before.
    Replayed,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Malformed => "malformed",
            Refusal::Stale => "stale",
            Refusal::Mismatch => "mismatch",
            Refusal::Replayed => "replayed",
        }
    }
}

/// The header value that signs `body` at `t` with `secret`.
pub fn sign(secret: &[u8], t: i64, body: &[u8]) -> String {
    let code = mac(secret, t, body).finalize();
    format!("t={t},v1={}", hex(&code.into_bytes()))
}

/// At most this many `v1` entries are looked at (a sender rotating its
/// secret sends two); more make the header malformed.
const MAX_CANDIDATES: usize = 8;

/// Checks `header` against `body` and each secret; on success, the key that
/// names this delivery for replay detection: the timestamp and a digest of
/// the body, which is what every valid signature of it covers (keying on a
/// signature's text would let another spelling, or the same call signed
/// with the other secret, pass as new).
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secrets: &[Vec<u8>],
    now: DateTime<Utc>,
    tolerance: std::time::Duration,
) -> Result<String, Refusal> {
    let (t, candidates) = parse(header.ok_or(Refusal::Malformed)?)?;
    if now.timestamp().abs_diff(t) > tolerance.as_secs() {
        return Err(Refusal::Stale);
    }
    // The body is hashed once per secret, however many candidates there are.
    let expected: Vec<Hmac<Sha256>> = secrets.iter().map(|s| mac(s, t, body)).collect();
    for candidate in &candidates {
        let Some(code) = unhex(candidate) else { continue };
        // `verify_slice` compares in constant time.
        if expected.iter().any(|m| m.clone().verify_slice(&code).is_ok()) {
            return Ok(delivery_key(t, body));
        }
    }
    Err(Refusal::Mismatch)
}

/// `t=<t>,sha256=<hex of the body's SHA-256>`.
fn delivery_key(t: i64, body: &[u8]) -> String {
    use sha2::Digest;
    format!("t={t},sha256={}", hex(&Sha256::digest(body)))
}

fn mac(secret: &[u8], t: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// `t=…,v1=…[,v1=…]`; other schemes (`v0=…`) are ignored as Stripe does.
fn parse(header: &str) -> Result<(i64, Vec<&str>), Refusal> {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = Some(value.parse::<i64>().map_err(|_| Refusal::Malformed)?),
            Some(("v1", value)) => v1.push(value),
            _ => {}
        }
    }
    match t {
        Some(t) if !v1.is_empty() && v1.len() <= MAX_CANDIDATES => Ok((t, v1)),
        _ => Err(Refusal::Malformed),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    // Hex digits only: `from_str_radix` would also take a sign (`+f`).
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTES_5: std::time::Duration = std::time::Duration::from_secs(300);

    fn at(t: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(t, 0).unwrap()
    }

    #[test]
    fn a_signature_verifies_against_its_secret() {
        let header = sign(b"0123456789abcdef", 1_800_000_000, b"{\"a\":1}");
        assert!(header.starts_with("t=1800000000,v1="), "{header}");
        let secrets = [b"0123456789abcdef".to_vec()];
        let key = verify(Some(&header), b"{\"a\":1}", &secrets, at(1_800_000_010), MINUTES_5).unwrap();
        // SHA-256 of `{"a":1}`, computed independently (sha256sum).
        assert_eq!(key, "t=1800000000,sha256=015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862");
    }

    #[test]
    fn a_known_vector() {
        // HMAC-SHA256(key "key", "1.x"), computed independently (Python's hmac module).
        let header = sign(b"key", 1, b"x");
        assert_eq!(header, "t=1,v1=fc4913c41a7bf793267e2a384f3261c9436ec2cd097bd745e7b0d99113f510ec");
    }

    #[test]
    fn every_refusal() {
        let secrets = [b"0123456789abcdef".to_vec()];
        let now = at(1_800_000_000);
        let good = sign(&secrets[0], 1_800_000_000, b"body");
        assert_eq!(verify(None, b"body", &secrets, now, MINUTES_5), Err(Refusal::Malformed));
        assert_eq!(verify(Some("v1=abc"), b"body", &secrets, now, MINUTES_5), Err(Refusal::Malformed));
        assert_eq!(verify(Some("t=x,v1=abc"), b"body", &secrets, now, MINUTES_5), Err(Refusal::Malformed));
        assert_eq!(verify(Some(&good), b"bodx", &secrets, now, MINUTES_5), Err(Refusal::Mismatch));
        let other = sign(b"another-secret-0000", 1_800_000_000, b"body");
        assert_eq!(verify(Some(&other), b"body", &secrets, now, MINUTES_5), Err(Refusal::Mismatch));
        let old = sign(&secrets[0], 1_800_000_000 - 301, b"body");
        assert_eq!(verify(Some(&old), b"body", &secrets, now, MINUTES_5), Err(Refusal::Stale));
        let future = sign(&secrets[0], 1_800_000_000 + 301, b"body");
        assert_eq!(verify(Some(&future), b"body", &secrets, now, MINUTES_5), Err(Refusal::Stale));
        let edge = sign(&secrets[0], 1_800_000_000 - 300, b"body");
        assert!(verify(Some(&edge), b"body", &secrets, now, MINUTES_5).is_ok(), "the tolerance is inclusive");
    }

    #[test]
    fn either_of_two_secrets_and_any_of_several_signatures() {
        let (old, new) = (b"old-secret-0123456789".to_vec(), b"new-secret-0123456789".to_vec());
        let now = at(1_800_000_000);
        let by_old = sign(&old, 1_800_000_000, b"b");
        let both = [old.clone(), new.clone()];
        assert!(verify(Some(&by_old), b"b", &both, now, MINUTES_5).is_ok());
        assert_eq!(verify(Some(&by_old), b"b", std::slice::from_ref(&new), now, MINUTES_5), Err(Refusal::Mismatch));
        // A sender signing with two secrets of its own sends two v1 entries.
        let by_new = sign(&new, 1_800_000_000, b"b");
        let v1_new = by_new.split_once(",v1=").unwrap().1;
        let header = format!("t=1800000000,v1={},v1={v1_new}", "0".repeat(64));
        let key = verify(Some(&header), b"b", std::slice::from_ref(&new), now, MINUTES_5).unwrap();
        // Whichever secret or entry matched, the delivery has one key.
        assert_eq!(verify(Some(&by_old), b"b", &both, now, MINUTES_5).unwrap(), key);
        assert_eq!(verify(Some(&by_new), b"b", &both, now, MINUTES_5).unwrap(), key);
    }

    #[test]
    fn only_hex_digits_count_and_candidates_are_bounded() {
        let secrets = [b"0123456789abcdef".to_vec()];
        let now = at(1_800_000_000);
        let good = sign(&secrets[0], 1_800_000_000, b"body");
        let v1 = good.split_once(",v1=").unwrap().1;
        // `+f` parses as 0x0f with from_str_radix: another spelling of the same MAC.
        let pair = (0..v1.len()).step_by(2).find(|i| &v1[*i..=*i] == "0").expect("this vector has a 0x pair");
        let header = format!("t=1800000000,v1={}+{}", &v1[..pair], &v1[pair + 1..]);
        assert_eq!(verify(Some(&header), b"body", &secrets, now, MINUTES_5), Err(Refusal::Mismatch));
        let many = format!("t=1800000000{}", format!(",v1={v1}").repeat(MAX_CANDIDATES + 1));
        assert_eq!(verify(Some(&many), b"body", &secrets, now, MINUTES_5), Err(Refusal::Malformed));
        let extreme = format!("t={},v1={v1}", i64::MIN);
        assert_eq!(verify(Some(&extreme), b"body", &secrets, now, MINUTES_5), Err(Refusal::Stale), "no overflow");
    }
}
