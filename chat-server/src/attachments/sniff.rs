//! What a file is, from its first bytes (never from its name or the uploader's `Content-Type`),
//! and what it may be called.

/// The raster formats decoded, thumbnailed and served inline. Everything else is a download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Raster {
    Png,
    Jpeg,
    Gif,
    Webp,
}

impl Raster {
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Raster::Png => "image/png",
            Raster::Jpeg => "image/jpeg",
            Raster::Gif => "image/gif",
            Raster::Webp => "image/webp",
        }
    }

    pub(crate) fn format(self) -> image::ImageFormat {
        match self {
            Raster::Png => image::ImageFormat::Png,
            Raster::Jpeg => image::ImageFormat::Jpeg,
            Raster::Gif => image::ImageFormat::Gif,
            Raster::Webp => image::ImageFormat::WebP,
        }
    }

    /// The raster format of a stored `content_type`, if it is one.
    pub(crate) fn of_content_type(content_type: &str) -> Option<Raster> {
        [Raster::Png, Raster::Jpeg, Raster::Gif, Raster::Webp].into_iter().find(|r| r.content_type() == content_type)
    }
}

/// Bytes [`sniff`] needs to see.
pub(crate) const SNIFF_LEN: usize = 16;

/// The type of a file that starts with `head`: a raster image, or a media type for the
/// attachment metadata only (such files are always served as `application/octet-stream`
/// downloads, so a wrong guess here cannot make a browser render anything).
pub(crate) fn sniff(head: &[u8]) -> (Option<Raster>, &'static str) {
    let raster = if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Raster::Png)
    } else if head.starts_with(&[0xff, 0xd8, 0xff]) {
        Some(Raster::Jpeg)
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some(Raster::Gif)
    } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        Some(Raster::Webp)
    } else {
        None
    };
    if let Some(raster) = raster {
        return (Some(raster), raster.content_type());
    }
    let other = if head.starts_with(b"%PDF-") {
        "application/pdf"
    } else if head.starts_with(b"PK\x03\x04") {
        "application/zip"
    } else {
        "application/octet-stream"
    };
    (None, other)
}

/// Longest stored file name, in bytes.
pub(crate) const MAX_NAME_BYTES: usize = 200;

/// A file name safe to store and show: the last path component, without control or
/// bidirectional-override characters, trimmed, at most [`MAX_NAME_BYTES`] (cut at a character
/// boundary, keeping a short extension); `file` when nothing is left.
pub(crate) fn file_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = last
        .chars()
        .filter(|c| {
            !c.is_control() && !matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
        })
        .collect();
    let clean = clean.trim().trim_start_matches('.').trim();
    if clean.is_empty() {
        return "file".to_owned();
    }
    if clean.len() <= MAX_NAME_BYTES {
        return clean.to_owned();
    }
    let ext = clean.rfind('.').map(|at| &clean[at..]).filter(|e| e.len() <= 16).unwrap_or("");
    let mut cut = MAX_NAME_BYTES - ext.len();
    while !clean.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{ext}", &clean[..cut])
}

/// `filename="…"; filename*=UTF-8''…` for `Content-Disposition`: an ASCII fallback without
/// quotes or backslashes, and the exact name percent-encoded (RFC 6266, RFC 8187).
pub(crate) fn disposition_params(name: &str) -> String {
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_the_bytes() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest").0, Some(Raster::Png));
        assert_eq!(sniff(&[0xff, 0xd8, 0xff, 0xe0]).0, Some(Raster::Jpeg));
        assert_eq!(sniff(b"GIF89a..").0, Some(Raster::Gif));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 ").0, Some(Raster::Webp));
        assert_eq!(sniff(b"<!doctype html><script>"), (None, "application/octet-stream"));
        assert_eq!(sniff(b"<svg xmlns="), (None, "application/octet-stream"));
        assert_eq!(sniff(b"%PDF-1.7"), (None, "application/pdf"));
    }

    #[test]
    fn names_lose_paths_controls_and_length() {
        assert_eq!(file_name("../../etc/passwd"), "passwd");
        assert_eq!(file_name("C:\\Users\\a\\cat.png"), "cat.png");
        assert_eq!(file_name("a\u{202e}gnp.exe"), "agnp.exe");
        assert_eq!(file_name("x\r\nSet-Cookie: y"), "xSet-Cookie: y");
        assert_eq!(file_name(".."), "file");
        assert_eq!(file_name(""), "file");
        let long = format!("{}.jpeg", "é".repeat(300));
        let cut = file_name(&long);
        assert!(cut.len() <= MAX_NAME_BYTES && cut.ends_with(".jpeg"), "{cut}");
    }

    #[test]
    fn disposition_is_quoted_safely() {
        assert_eq!(disposition_params("a\"b.txt"), "filename=\"a_b.txt\"; filename*=UTF-8''a%22b.txt");
        assert_eq!(disposition_params("ü.png"), "filename=\"_.png\"; filename*=UTF-8''%C3%BC.png");
    }
}
