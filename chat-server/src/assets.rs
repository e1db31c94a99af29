//! The web UI's static files, embedded in the binary (no build step, no CDN).
//!
//! The files live in `chat-server/assets/` and are compiled in with `include_bytes!`. Each has
//! a strong ETag computed at compile time (FNV-1a over the bytes, by a `const fn`), so the
//! server can answer `If-None-Match` revalidations with `304 Not Modified`. The page is a
//! handful of vanilla-JS ES modules; `docs/design.md` ("The web UI") describes them.

/// One embedded file.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// The bytes.
    pub body: &'static [u8],
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// A strong ETag (quoted), derived from the content.
    pub etag: &'static str,
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// 64-bit FNV-1a, usable in constants.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

/// Length of an ETag: a quote, 16 hex digits, a quote.
const ETAG_LEN: usize = 18;

/// The quoted hex ETag of `bytes`, as ASCII.
const fn etag_bytes(bytes: &[u8]) -> [u8; ETAG_LEN] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hash = fnv1a(bytes);
    let mut out = [b'"'; ETAG_LEN];
    let mut i = 0;
    while i < 16 {
        out[1 + i] = HEX[((hash >> (60 - 4 * i)) & 0xf) as usize];
        i += 1;
    }
    out
}

/// Turns ETag bytes (always ASCII) into a `&str` at compile time.
const fn ascii(bytes: &'static [u8]) -> &'static str {
    match std::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(_) => panic!("etag is ASCII"),
    }
}

/// Declares the embedded files: `name => content type`. Each becomes a table entry whose body
/// and ETag are constants.
macro_rules! embed {
    ($($name:literal => $ct:expr),* $(,)?) => {
        /// Every embedded file by name (the part after `/static/`).
        const FILES: &[(&str, Asset)] = &[$(
            ($name, {
                const BODY: &[u8] = include_bytes!(concat!("../assets/", $name));
                const TAG: &[u8; ETAG_LEN] = &etag_bytes(BODY);
                Asset { body: BODY, content_type: $ct, etag: ascii(TAG) }
            }),
        )*];
    };
}

embed! {
    "index.html" => HTML,
    "settings.html" => HTML,
    "admin.html" => HTML,
    "style.css" => CSS,
    "bell.svg" => SVG,
    "app.js" => JS,
    "api.js" => JS,
    "alerts.js" => JS,
    "attach.js" => JS,
    "bell.js" => JS,
    "client.js" => JS,
    "composer.js" => JS,
    "connection.js" => JS,
    "dom.js" => JS,
    "lifecycle.js" => JS,
    "mention.js" => JS,
    "message_menu.js" => JS,
    "message_view.js" => JS,
    "messages.js" => JS,
    "reactions.js" => JS,
    "room.js" => JS,
    "search.js" => JS,
    "sidebar.js" => JS,
    "store.js" => JS,
    "settings.js" => JS,
    "admin.js" => JS,
}

/// The embedded file at `path` (`"index.html"`, `"app.js"`, …), if any.
///
/// A leading `/` and a `static/` prefix are accepted too (`"/static/app.js"`), and `""` or
/// `"/"` mean `index.html`. Anything else (other directories, `..`) is not found.
pub fn asset(path: &str) -> Option<Asset> {
    let path = path.strip_prefix('/').unwrap_or(path);
    let path = path.strip_prefix("static/").unwrap_or(path);
    let path = if path.is_empty() { "index.html" } else { path };
    FILES.iter().find(|(name, _)| *name == path).map(|(_, a)| *a)
}

/// The names of all embedded files (for listings and tests).
pub fn names() -> impl Iterator<Item = &'static str> {
    FILES.iter().map(|(name, _)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(name: &str) -> &'static str {
        let a = asset(name).unwrap_or_else(|| panic!("{name} is embedded"));
        std::str::from_utf8(a.body).expect("text assets are UTF-8")
    }

    /// Every file in `chat-server/assets/` is embedded, and nothing else.
    #[test]
    fn table_matches_the_assets_directory() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/assets");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .expect("assets dir")
            .map(|e| e.expect("dir entry").file_name().into_string().expect("utf-8 name"))
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = names().map(String::from).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
    }

    #[test]
    fn lookups_and_content_types() {
        assert_eq!(asset("index.html").map(|a| a.content_type), Some(HTML));
        assert_eq!(asset("/").map(|a| a.body.len()), asset("index.html").map(|a| a.body.len()));
        assert_eq!(asset("/static/app.js").map(|a| a.content_type), Some(JS));
        assert_eq!(asset("static/style.css").map(|a| a.content_type), Some(CSS));
        assert_eq!(asset("bell.svg").map(|a| a.content_type), Some(SVG));
        assert!(asset("../Cargo.toml").is_none());
        assert!(asset("static/../index.html").is_none());
        assert!(asset("nope.js").is_none());
        for name in names() {
            let a = asset(name).expect("listed name resolves");
            assert!(!a.body.is_empty(), "{name} is empty");
            let expected = if name.ends_with(".js") {
                JS
            } else if name.ends_with(".css") {
                CSS
            } else if name.ends_with(".svg") {
                SVG
            } else {
                HTML
            };
            assert_eq!(a.content_type, expected, "{name}");
        }
    }

    #[test]
    fn etags_are_quoted_hashes_of_the_content() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c); // published FNV-1a test vector
        let mut seen = std::collections::HashSet::new();
        for name in names() {
            let a = asset(name).expect("listed");
            assert_eq!(a.etag.len(), ETAG_LEN);
            assert!(a.etag.starts_with('"') && a.etag.ends_with('"'));
            assert_eq!(a.etag[1..17], format!("{:016x}", fnv1a(a.body)));
            assert!(seen.insert(a.etag), "{name} shares an etag");
        }
    }

    /// The pages only reference files that exist, and load no script or style inline (the
    /// CSP `script-src 'self'; style-src 'self'` would block them).
    #[test]
    fn index_references_only_embedded_files_and_nothing_inline() {
        for page in names().filter(|n| n.ends_with(".html")) {
            page_references_only_embedded_files_and_nothing_inline(page);
        }
    }

    fn page_references_only_embedded_files_and_nothing_inline(page: &str) {
        let html = text(page);
        let mut refs = 0;
        for attr in ["src=\"/static/", "href=\"/static/"] {
            for (at, _) in html.match_indices(attr) {
                let rest = &html[at + attr.len()..];
                let name = &rest[..rest.find('"').expect("closing quote")];
                assert!(asset(name).is_some(), "{page} references missing {name}");
                refs += 1;
            }
        }
        assert!(refs >= 3, "{page}: expected the stylesheet, the script and the icon");
        let lower = html.to_ascii_lowercase();
        assert!(!lower.contains("<style"), "inline <style>");
        for tag in lower.split('<').skip(1).map(|t| &t[..t.find('>').expect("tag end")]) {
            for attr in tag.split_whitespace().skip(1) {
                assert!(!attr.starts_with("style="), "inline style attribute in <{tag}>");
                assert!(!(attr.starts_with("on") && attr.contains('=')), "inline handler in <{tag}>");
            }
        }
        assert!(!lower.contains("http://") && !lower.contains("https://"), "external URL (no CDN)");
        for (at, _) in lower.match_indices("<script") {
            let tag = &lower[at..at + lower[at..].find('>').expect("tag end")];
            assert!(tag.contains("src=\"/static/"), "inline script: {tag}");
        }
    }

    /// Every relative ES-module import resolves to an embedded file, and no module writes
    /// HTML from strings (user content goes through text nodes only).
    #[test]
    fn modules_import_embedded_files_and_never_parse_html() {
        for name in names().filter(|n| n.ends_with(".js")) {
            let js = text(name);
            for line in js.lines().map(str::trim) {
                if let Some(from) = line.strip_prefix("import ").and_then(|l| l.split(" from '").nth(1)) {
                    let target = from.trim_end_matches("';");
                    let target = target.strip_prefix("./").expect("relative import");
                    assert!(asset(target).is_some(), "{name} imports missing {target}");
                }
            }
            for banned in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"] {
                assert!(!js.contains(banned), "{name} uses {banned}");
            }
            assert!(!js.contains("http://") && !js.contains("https://"), "{name} names an external URL");
        }
    }
}
