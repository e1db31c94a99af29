//! Harness for the `mention` fuzz target (also replayed by `chat-core`'s corpus test).
//!
//! Soundness: every mention `chat_core::mention::mentions` reports is `@` + a valid user name
//! (1–32 bytes of `A-Z a-z 0-9 _ . -`, not ending in `.`/`-`), the `@` sits at an allowed
//! boundary (start of text, or after a character that is not alphanumeric, `_`, `.`, `-`, `@`),
//! the name is the whole name run after the `@` (only trailing `.`/`-` dropped), and the `@` is
//! outside code spans. Code spans are computed here by an independent, deliberately naive
//! reference. Completeness: every `@` the reference grammar accepts (with a name run of at most
//! 32 bytes after dropping trailing punctuation) is reported, in order. Never a panic.

use chat_core::mention::{MentionTarget, mentions};

const MAX_NAME: usize = 32;

fn name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-'
}

/// `code[i]` is true when byte `i` lies inside a code span (delimiters included). A run of N
/// backticks opens a span that the next run of exactly N backticks closes; an unmatched run is
/// literal text. Quadratic and simple on purpose: it is the reference, not the implementation.
fn code_mask(bytes: &[u8]) -> Vec<bool> {
    let runs: Vec<(usize, usize)> = {
        let mut runs = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'`' {
                let start = i;
                while i < bytes.len() && bytes[i] == b'`' {
                    i += 1;
                }
                runs.push((start, i - start));
            } else {
                i += 1;
            }
        }
        runs
    };
    let mut mask = vec![false; bytes.len()];
    let mut r = 0;
    while r < runs.len() {
        let (start, len) = runs[r];
        match (r + 1..runs.len()).find(|&k| runs[k].1 == len) {
            Some(k) => {
                let end = runs[k].0 + len;
                mask[start..end].iter_mut().for_each(|m| *m = true);
                r = k + 1;
            }
            None => r += 1,
        }
    }
    mask
}

fn boundary_ok(text: &str, at: usize) -> bool {
    match text[..at].chars().last() {
        None => true,
        Some(c) => !(c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '@')),
    }
}

/// The reference grammar: `(start, end)` of every mention whose name (trailing `.`/`-` dropped)
/// is 1–32 bytes.
fn reference(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let code = code_mask(bytes);
    let mut found = Vec::new();
    for (i, &b) in bytes.iter().enumerate() {
        if b != b'@' || code[i] || !boundary_ok(text, i) {
            continue;
        }
        let run = bytes[i + 1..].iter().take_while(|&&b| name_byte(b)).count();
        let mut name = run;
        while name > 0 && matches!(bytes[i + name], b'.' | b'-') {
            name -= 1;
        }
        if name > 0 && name <= MAX_NAME {
            found.push((i, i + 1 + name));
        }
    }
    found
}

/// Checks one input (invalid UTF-8 is replaced, so every input is a text).
pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();
    let bytes = text.as_bytes();
    let code = code_mask(bytes);
    let mut reported = Vec::new();
    let mut last_end = 0;
    for m in mentions(text) {
        assert!(m.start >= last_end && m.start < m.end, "mentions out of order: {m:?}");
        last_end = m.end;
        let span = text.get(m.start..m.end).unwrap_or_else(|| panic!("span off char boundaries: {m:?}"));
        let name = span.strip_prefix('@').unwrap_or_else(|| panic!("span does not start with '@': {span:?}"));
        assert!((1..=MAX_NAME).contains(&name.len()), "bad name length: {name:?}");
        assert!(name.bytes().all(name_byte), "name holds a non-name byte: {name:?}");
        assert!(!name.ends_with(['.', '-']), "name keeps trailing punctuation: {name:?}");
        // The name is the whole run: only '.'/'-' may follow it inside the run.
        let rest = bytes[m.end..].iter().take_while(|&&b| name_byte(b));
        assert!(rest.clone().all(|&b| b == b'.' || b == b'-'), "name cut short: {name:?} in {text:?}");
        assert!(boundary_ok(text, m.start), "mention after a word character: {text:?} at {}", m.start);
        assert!(!code[m.start], "mention inside a code span: {text:?} at {}", m.start);
        let expected = if name.eq_ignore_ascii_case("room") {
            MentionTarget::Room
        } else if name.eq_ignore_ascii_case("here") {
            MentionTarget::Here
        } else {
            MentionTarget::User(name)
        };
        assert_eq!(m.target, expected, "wrong target for {name:?}");
        if let MentionTarget::User(user) = m.target {
            assert!(chat_core::UserName::new(user).is_ok(), "not a valid user name: {user:?}");
        }
        reported.push((m.start, m.end));
    }
    assert_eq!(reported, reference(text), "mentions differ from the reference grammar in {text:?}");
}
