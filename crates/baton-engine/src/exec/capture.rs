//! A step's output as it streams in: the combined log up to a cap, and the
//! last bytes of stdout and stderr for quick display and for CEL.

use std::collections::VecDeque;

pub struct Capture {
    log: Vec<u8>,
    log_cap: usize,
    truncated: u64,
    stdout: Tail,
    stderr: Tail,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

struct Tail {
    bytes: VecDeque<u8>,
    cap: usize,
}

impl Tail {
    fn push(&mut self, chunk: &[u8]) {
        let chunk = &chunk[chunk.len().saturating_sub(self.cap)..];
        let overflow = (self.bytes.len() + chunk.len()).saturating_sub(self.cap);
        self.bytes.drain(..overflow);
        self.bytes.extend(chunk);
    }

    fn text(&self) -> String {
        let (a, b) = self.bytes.as_slices();
        String::from_utf8_lossy(&[a, b].concat()).into_owned()
    }
}

impl Capture {
    pub fn new(log_cap: usize, tail_cap: usize) -> Self {
        let tail = || Tail { bytes: VecDeque::with_capacity(tail_cap.min(4096)), cap: tail_cap };
        Capture { log: Vec::new(), log_cap, truncated: 0, stdout: tail(), stderr: tail() }
    }

    pub fn push(&mut self, stream: Stream, chunk: &[u8]) {
        let room = self.log_cap.saturating_sub(self.log.len());
        let kept = chunk.len().min(room);
        self.log.extend_from_slice(&chunk[..kept]);
        self.truncated += (chunk.len() - kept) as u64;
        match stream {
            Stream::Stdout => self.stdout.push(chunk),
            Stream::Stderr => self.stderr.push(chunk),
        }
    }

    /// Text written by baton itself (e.g. why a step was killed).
    pub fn note(&mut self, text: &str) {
        self.log.extend_from_slice(text.as_bytes());
    }

    pub fn log(&self) -> (String, u64) {
        (String::from_utf8_lossy(&self.log).into_owned(), self.truncated)
    }

    pub fn stdout_tail(&self) -> String {
        self.stdout.text()
    }

    pub fn stderr_tail(&self) -> String {
        self.stderr.text()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_is_capped_and_tails_keep_the_end() {
        let mut c = Capture::new(10, 4);
        c.push(Stream::Stdout, b"hello ");
        c.push(Stream::Stderr, b"oops ");
        c.push(Stream::Stdout, b"world");
        assert_eq!(c.log(), ("hello oops".to_string(), 6));
        assert_eq!(c.stdout_tail(), "orld");
        assert_eq!(c.stderr_tail(), "ops ");
    }
}
