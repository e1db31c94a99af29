//! What counts as one emoji for a reaction.
//!
//! A reaction is exactly one emoji sequence: at most [`MAX_EMOJI_BYTES`] bytes, not plain ASCII,
//! and shaped as one extended grapheme cluster of the kinds emoji use, without a Unicode table:
//! - a pair of regional indicators (a flag), or
//! - a base character (any non-ASCII character that is not a control, a space, a mark or a
//!   joiner; or a keycap base `0-9 # *`) followed by any number of extenders (variation
//!   selectors, skin-tone modifiers, combining marks such as the keycap U+20E3, tag characters),
//!   and optionally `ZWJ` + another base with its extenders, repeated (`👩‍💻`, `🏳️‍🌈`).
//!
//! Two bases without a joiner (`👍👍`, `ab`), a lone mark, a dangling joiner, plain ASCII and the
//! characters `send_message` refuses are not one emoji.

/// Longest reaction, in bytes.
pub const MAX_EMOJI_BYTES: usize = 32;

const ZWJ: char = '\u{200D}';

fn is_regional_indicator(c: char) -> bool {
    ('\u{1F1E6}'..='\u{1F1FF}').contains(&c)
}

/// Characters that extend the cluster before them.
fn is_extender(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'     // combining diacritical marks
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}'   // combining marks for symbols (keycap U+20E3)
        | '\u{FE00}'..='\u{FE0F}'   // variation selectors
        | '\u{FE20}'..='\u{FE2F}'
        | '\u{1F3FB}'..='\u{1F3FF}' // skin tones
        | '\u{E0020}'..='\u{E007F}' // tags (subdivision flags)
        | '\u{E0100}'..='\u{E01EF}')
}

fn is_base(c: char) -> bool {
    if c.is_ascii() {
        return matches!(c, '0'..='9' | '#' | '*');
    }
    !c.is_control()
        && !c.is_whitespace()
        && !is_extender(c)
        && !is_regional_indicator(c)
        && !matches!(c, ZWJ | '\u{200C}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Whether `s` is one emoji as described in the [module docs](self).
pub(crate) fn is_one_emoji(s: &str) -> bool {
    if s.is_empty() || s.len() > MAX_EMOJI_BYTES || s.is_ascii() || crate::chat::refused_char(s).is_some() {
        return false;
    }
    let mut chars = s.chars();
    let Some(first) = chars.next() else { return false };
    if is_regional_indicator(first) {
        return matches!((chars.next(), chars.next()), (Some(c), None) if is_regional_indicator(c));
    }
    if !is_base(first) {
        return false;
    }
    let mut after_joiner = false;
    for c in chars {
        if after_joiner {
            if !is_base(c) {
                return false;
            }
            after_joiner = false;
        } else if c == ZWJ {
            after_joiner = true;
        } else if !is_extender(c) {
            return false;
        }
    }
    !after_joiner
}

#[cfg(test)]
mod tests {
    use super::is_one_emoji;

    #[test]
    fn emoji_sequences_are_one_and_the_rest_are_not() {
        for ok in [
            "👍",
            "👍🏽",
            "❤️",
            "1️⃣",
            "#️⃣",
            "🇫🇷",
            "👩‍💻",
            "🏳️‍🌈",
            "👨‍👩‍👧‍👦",
            "🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}",
            "☺",
            "é",
        ] {
            assert!(is_one_emoji(ok), "{ok:?}");
        }
        for bad in [
            "",
            "a",
            ":)",
            "1",
            "👍👍",
            "👍 ",
            " 👍",
            "👍\u{200D}",
            "\u{200D}👍",
            "\u{301}",
            "🇫",
            "🇫🇷🇫",
            "a\u{301}",
            "\u{202E}👍",
            "👍\n",
            "\u{FE0F}",
            "👍a",
        ] {
            assert!(!is_one_emoji(bad), "{bad:?}");
        }
        let long: String = "👍\u{1F3FB}".chars().chain(std::iter::repeat_n('\u{FE0F}', 10)).collect();
        assert!(!is_one_emoji(&long), "over 32 bytes");
    }
}
