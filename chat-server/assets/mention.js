// The @mention grammar, mirrored from chat-core/src/mention.rs (keep the two in step; the
// browser tests compare them on a corpus of tricky inputs).
//
// A mention is `@` + a name where:
// - the `@` starts the text or follows a character that is not a letter, digit, `_`, `.`, `-`
//   or `@` (so `bob@example.com` mentions nobody);
// - the name is the longest run of `A-Z a-z 0-9 _ . -` after the `@`, minus trailing `.`/`-`,
//   and the name (trailing . and - dropped) is at most 32 characters long;
// - it is not inside a code span: a run of N backticks opens a span that the next run of
//   exactly N backticks closes; an unmatched run is literal text;
// - `@room` and `@here` (any case) are the special targets.

export const MAX_NAME_LEN = 32;

/** Whether `ch` (one UTF-16 unit) may appear in a user or room name. */
export function isNameChar(ch) {
  return /^[A-Za-z0-9_.-]$/.test(ch);
}

function runLen(text, at) {
  let n = 0;
  while (at + n < text.length && text[at + n] === '`') n++;
  return n;
}

function closingRun(text, from, len) {
  let i = from;
  while (i < text.length) {
    if (text[i] === '`') {
      const run = runLen(text, i);
      if (run === len) return i;
      i += run;
    } else {
      i += 1;
    }
  }
  return -1;
}

// The character before `at`, as a whole code point (so astral letters count as letters).
function charBefore(text, at) {
  if (at === 0) return null;
  const cp = text.codePointAt(at - 1);
  if (at >= 2 && cp >= 0xdc00 && cp <= 0xdfff) {
    return String.fromCodePoint(text.codePointAt(at - 2));
  }
  return String.fromCodePoint(cp);
}

function boundaryBefore(text, at) {
  const c = charBefore(text, at);
  if (c === null) return true;
  // Rust's char::is_alphanumeric: Unicode Alphabetic or Numeric.
  return !(/^[\p{Alphabetic}\p{N}]$/u.test(c) || c === '_' || c === '.' || c === '-' || c === '@');
}

/**
 * The mentions in `text`, in order: `{target, start, end}` where `target` is `{user: name}`,
 * `{room: true}` or `{here: true}` and `start..end` spans `@name` (UTF-16 offsets).
 */
export function mentions(text) {
  const out = [];
  let pos = 0;
  while (pos < text.length) {
    let i = pos;
    while (i < text.length && text[i] !== '@' && text[i] !== '`') i++;
    if (i >= text.length) break;
    if (text[i] === '`') {
      const run = runLen(text, i);
      const close = closingRun(text, i + run, run);
      pos = close >= 0 ? close + run : i + run;
      continue;
    }
    let end = i + 1;
    while (end < text.length && isNameChar(text[end])) end++;
    pos = Math.max(end, i + 1);
    if (!boundaryBefore(text, i)) continue;
    let nameEnd = end;
    while (nameEnd > i + 1 && (text[nameEnd - 1] === '.' || text[nameEnd - 1] === '-')) nameEnd--;
    const name = text.slice(i + 1, nameEnd);
    if (name.length === 0 || name.length > MAX_NAME_LEN) continue;
    const lower = name.toLowerCase();
    let target;
    if (lower === 'room') target = { room: true };
    else if (lower === 'here') target = { here: true };
    else target = { user: name };
    out.push({ target, start: i, end: nameEnd });
  }
  return out;
}

/**
 * Splits a message into text and mention segments for rendering. A user mention counts only
 * when the server resolved it (it is in `resolved`, the message's `mentions`: room members,
 * sender excluded); `@room`/`@here` always count. `mine` marks segments that mention `me`.
 */
export function segments(text, resolved, me) {
  const names = new Set((resolved || []).map((n) => n.toLowerCase()));
  const out = [];
  let last = 0;
  for (const m of mentions(text)) {
    let counts = false;
    let mine = false;
    if (m.target.user !== undefined) {
      const name = m.target.user.toLowerCase();
      counts = names.has(name);
      mine = name === me && names.has(me);
    } else {
      counts = true;
      mine = names.has(me);
    }
    if (!counts) continue;
    if (m.start > last) out.push({ text: text.slice(last, m.start) });
    out.push({ text: text.slice(m.start, m.end), mention: true, mine });
    last = m.end;
  }
  if (last < text.length) out.push({ text: text.slice(last) });
  return out;
}

/**
 * The partial mention being typed at `caret` in `text`, or null: `{start, query}` where
 * `start` is the offset of the `@` and `query` the name typed so far.
 */
export function partialAt(text, caret) {
  let i = caret;
  while (i > 0 && isNameChar(text[i - 1])) i--;
  if (i === 0 || text[i - 1] !== '@') return null;
  const at = i - 1;
  if (!boundaryBefore(text, at)) return null;
  // Inside a code span? Count backtick runs before the `@` with the real grammar: if the
  // `@` would be skipped, it is inside code.
  const probe = text.slice(0, at) + '@x';
  const found = mentions(probe).some((m) => m.start === at);
  if (!found) return null;
  const query = text.slice(i, caret);
  if (query.length > MAX_NAME_LEN) return null;
  return { start: at, query };
}
