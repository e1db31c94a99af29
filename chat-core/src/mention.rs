//! The `@mention` grammar.
//!
//! A mention is `@` followed by a name, where:
//! - the `@` is at the start of the text or follows a character that is not a letter, digit,
//!   `_`, `.`, `-` or `@` (so `bob@example.com` mentions nobody);
//! - the name is the longest run of `A-Z a-z 0-9 _ . -` after the `@`, minus trailing `.` and
//!   `-` (sentence punctuation), and is 1–32 characters long (a longer name is not a mention);
//! - it is not inside a code span: a run of N backticks opens a span that the next run of exactly
//!   N backticks closes (this covers `inline` and ```` ``` ```` fenced blocks); an unmatched run is
//!   literal text;
//! - `@room` and `@here` (any case) are the special targets "every member" and "members online".
//!
//! Parsing is syntax only; [`Chat`](crate::Chat) resolves names against the room's members.
//!
//! ```
//! use chat_core::mention::{mentions, MentionTarget};
//! let found: Vec<_> = mentions("hi @Bob, mail bob@example.com or `@carol`; @here.")
//!     .map(|m| m.target)
//!     .collect();
//! assert_eq!(found, [MentionTarget::User("Bob"), MentionTarget::Here]);
//! ```

use crate::name::{MAX_NAME_LEN, is_name_byte};

/// What a mention points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MentionTarget<'a> {
    /// A user name as written (compare case-insensitively).
    User(&'a str),
    /// `@room`: every member of the room.
    Room,
    /// `@here`: every member online now.
    Here,
}

/// One mention found in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mention<'a> {
    /// What it points at.
    pub target: MentionTarget<'a>,
    /// Byte offset of the `@`.
    pub start: usize,
    /// Byte offset just past the name (trailing punctuation excluded).
    pub end: usize,
}

/// Iterates over the mentions in `text`, in order.
pub fn mentions(text: &str) -> Mentions<'_> {
    Mentions { text, pos: 0 }
}

/// Iterator returned by [`mentions`].
#[derive(Debug, Clone)]
pub struct Mentions<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Iterator for Mentions<'a> {
    type Item = Mention<'a>;

    fn next(&mut self) -> Option<Mention<'a>> {
        let bytes = self.text.as_bytes();
        while self.pos < bytes.len() {
            let i = self.pos + bytes[self.pos..].iter().position(|&b| b == b'@' || b == b'`')?;
            if bytes[i] == b'`' {
                let run = run_len(bytes, i);
                self.pos = match closing_run(bytes, i + run, run) {
                    Some(close) => close + run,
                    None => i + run,
                };
                continue;
            }
            // bytes[i] == b'@'
            let mut end = i + 1;
            while end < bytes.len() && is_name_byte(bytes[end]) {
                end += 1;
            }
            self.pos = end.max(i + 1);
            if !boundary_before(self.text, i) {
                continue;
            }
            let mut name_end = end;
            while name_end > i + 1 && matches!(bytes[name_end - 1], b'.' | b'-') {
                name_end -= 1;
            }
            let name = &self.text[i + 1..name_end];
            if name.is_empty() || name.len() > MAX_NAME_LEN {
                continue;
            }
            let target = if name.eq_ignore_ascii_case("room") {
                MentionTarget::Room
            } else if name.eq_ignore_ascii_case("here") {
                MentionTarget::Here
            } else {
                MentionTarget::User(name)
            };
            return Some(Mention { target, start: i, end: name_end });
        }
        None
    }
}

/// Whether an `@` at byte `at` may start a mention.
fn boundary_before(text: &str, at: usize) -> bool {
    match text[..at].chars().next_back() {
        None => true,
        Some(c) => !(c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '@')),
    }
}

/// Length of the backtick run starting at `at`.
fn run_len(bytes: &[u8], at: usize) -> usize {
    bytes[at..].iter().take_while(|&&b| b == b'`').count()
}

/// Start of the next run of exactly `len` backticks at or after `from`.
fn closing_run(bytes: &[u8], from: usize, len: usize) -> Option<usize> {
    let mut i = from;
    while i < bytes.len() {
        if bytes[i] == b'`' {
            let run = run_len(bytes, i);
            if run == len {
                return Some(i);
            }
            i += run;
        } else {
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(text: &str) -> Vec<String> {
        mentions(text)
            .map(|m| match m.target {
                MentionTarget::User(u) => u.to_ascii_lowercase(),
                MentionTarget::Room => "@room".into(),
                MentionTarget::Here => "@here".into(),
            })
            .collect()
    }

    #[test]
    fn plain_and_punctuated() {
        assert_eq!(users("@alice hi"), ["alice"]);
        assert_eq!(users("hi @alice."), ["alice"]);
        assert_eq!(users("hi @alice-- and @bob.jones!"), ["alice", "bob.jones"]);
        assert_eq!(users("(@ALICE)"), ["alice"]);
        assert_eq!(users("@alice,@bob"), ["alice", "bob"]);
    }

    #[test]
    fn not_in_emails_or_words() {
        assert!(users("mail bob@example.com").is_empty());
        assert!(users("x_@bob a.@bob a-@bob @@bob").is_empty());
        assert!(users("é@bob").is_empty());
        assert_eq!(users("«@bob»"), ["bob"]);
    }

    #[test]
    fn not_in_code() {
        assert!(users("`@alice`").is_empty());
        assert!(users("```\n@alice\n```").is_empty());
        assert_eq!(users("`` ` @alice ``@bob"), ["bob"]);
        assert_eq!(users("unclosed ` @alice"), ["alice"]);
        assert_eq!(users("``` @a ` @b ```"), Vec::<String>::new());
    }

    #[test]
    fn length_bounds_and_specials() {
        assert!(users("@").is_empty());
        assert!(users("@.").is_empty());
        let long = format!("@{}", "a".repeat(33));
        assert!(users(&long).is_empty());
        let max = format!("@{}", "a".repeat(32));
        assert_eq!(users(&max).len(), 1);
        let max_then_stop = format!("@{}.", "a".repeat(32));
        assert_eq!(users(&max_then_stop).len(), 1, "punctuation is dropped before the length check");
        assert_eq!(users("@room @Here"), ["@room", "@here"]);
        assert_eq!(users("@roomy"), ["roomy"]);
    }

    #[test]
    fn spans_point_at_the_name() {
        let text = "hey @bob.";
        let m = mentions(text).next().unwrap();
        assert_eq!(&text[m.start..m.end], "@bob");
    }
}
