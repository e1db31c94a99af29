//! GIF metadata removal. A GIF is a header, a screen descriptor (with an optional colour table)
//! and a sequence of blocks, each a fixed part followed by length-prefixed data sub-blocks ending
//! with an empty one: images (frames), extensions (graphic control, plain text, comment,
//! application) and the trailer. The cleaner walks the blocks without decoding any pixel and
//! copies every block byte for byte except the ones that carry metadata:
//!
//! - comment extensions (`0x21 0xFE`);
//! - application extensions other than the animation loop (`NETSCAPE2.0`, `ANIMEXTS1.0`), e.g.
//!   XMP (`XMP DataXMP`) or an ICC profile;
//! - extensions of an unknown label (no decoder renders them);
//! - whatever follows the trailer (a file appended to the image).
//!
//! Frames, their graphic control extensions, plain-text extensions (graphic blocks by the
//! specification) and the loop extension stay. Bounds: one pass over the bytes (each step
//! consumes at least one byte, so a file of millions of tiny blocks costs as many cheap steps
//! and nothing more), an output no longer than the input plus one byte, and no frame may declare
//! more pixels than an image may have (a later frame is never decoded here, but a browser would).
//! A file that does not parse is refused like the other malformed images: `Undecodable`.

use super::media::MediaError;

const IMAGE: u8 = 0x2c;
const EXTENSION: u8 = 0x21;
const TRAILER: u8 = 0x3b;
const PLAIN_TEXT: u8 = 0x01;
const GRAPHIC_CONTROL: u8 = 0xf9;
const COMMENT: u8 = 0xfe;
const APPLICATION: u8 = 0xff;

/// The application extensions kept (their first sub-block: identifier and authentication code):
/// the animation loop count, Netscape's and its twin.
const KEPT_APPLICATIONS: [&[u8; 12]; 2] = [b"\x0bNETSCAPE2.0", b"\x0bANIMEXTS1.0"];

fn bad(what: &str) -> MediaError {
    MediaError::Undecodable(format!("malformed GIF: {what}"))
}

/// A position in the bytes; every read is checked.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], MediaError> {
        let end = self.at.checked_add(n).filter(|&end| end <= self.bytes.len()).ok_or_else(|| bad("truncated"))?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    fn byte(&mut self) -> Result<u8, MediaError> {
        Ok(self.take(1)?[0])
    }

    /// Skips a colour table if the `packed` field of its descriptor says there is one.
    fn colour_table(&mut self, packed: u8) -> Result<(), MediaError> {
        if packed & 0x80 != 0 {
            self.take(3 << ((packed & 0x07) + 1))?;
        }
        Ok(())
    }

    /// Skips data sub-blocks through the empty one that ends them.
    fn sub_blocks(&mut self) -> Result<(), MediaError> {
        loop {
            match self.byte()? {
                0 => return Ok(()),
                len => {
                    self.take(usize::from(len))?;
                }
            }
        }
    }
}

/// The GIF `bytes` without its metadata blocks; `None` when nothing was removed. A frame larger
/// than `max_pixels` is `TooManyPixels`.
pub(crate) fn clean(bytes: &[u8], max_pixels: u64) -> Result<Option<Vec<u8>>, MediaError> {
    let mut reader = Reader { bytes, at: 0 };
    let header = reader.take(6)?;
    if header != b"GIF87a" && header != b"GIF89a" {
        return Err(bad("no GIF header"));
    }
    let screen = reader.take(7)?;
    reader.colour_table(screen[4])?;
    let mut out = Vec::with_capacity(bytes.len() + 1);
    out.extend_from_slice(&bytes[..reader.at]);
    let (mut removed, mut frames) = (false, 0u64);
    loop {
        let start = reader.at;
        let Ok(introducer) = reader.byte() else {
            // The file ends between blocks without a trailer: browsers show such a file, so it
            // is accepted, ended properly.
            if frames == 0 {
                return Err(bad("no image"));
            }
            out.push(TRAILER);
            return Ok(Some(out));
        };
        let keep = match introducer {
            IMAGE => {
                let descriptor = reader.take(9)?;
                let width = u16::from_le_bytes([descriptor[4], descriptor[5]]);
                let height = u16::from_le_bytes([descriptor[6], descriptor[7]]);
                if u64::from(width) * u64::from(height) > max_pixels {
                    let (width, height) = (u32::from(width), u32::from(height));
                    return Err(MediaError::TooManyPixels { width, height, max: max_pixels });
                }
                reader.colour_table(descriptor[8])?;
                reader.byte()?; // the LZW minimum code size
                reader.sub_blocks()?;
                frames += 1;
                true
            }
            EXTENSION => {
                let label = reader.byte()?;
                let keep = match label {
                    GRAPHIC_CONTROL | PLAIN_TEXT => true,
                    APPLICATION => bytes
                        .get(reader.at..reader.at + 12)
                        .is_some_and(|id| KEPT_APPLICATIONS.iter().any(|kept| kept.as_slice() == id)),
                    COMMENT => false,
                    // Labels no decoder renders.
                    _ => false,
                };
                reader.sub_blocks()?;
                keep
            }
            TRAILER => {
                if frames == 0 {
                    return Err(bad("no image"));
                }
                out.push(TRAILER);
                removed |= reader.at < bytes.len();
                break;
            }
            _ => return Err(bad("unknown block")),
        };
        if keep {
            out.extend_from_slice(&bytes[start..reader.at]);
        } else {
            removed = true;
        }
    }
    Ok(removed.then_some(out))
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use image::codecs::gif::{GifEncoder, Repeat};
    use image::{AnimationDecoder, Delay, Frame, RgbaImage};

    use super::*;

    const MAX: u64 = 1_000_000;

    /// An animated GIF (three frames, a loop extension, a delay per frame) as image-rs writes it.
    fn animated() -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut encoder = GifEncoder::new(&mut out);
            encoder.set_repeat(Repeat::Infinite).unwrap();
            let frames = (0..3u8).map(|i| {
                let image = RgbaImage::from_fn(12, 8, |x, y| image::Rgba([i * 80, x as u8 * 20, y as u8 * 30, 255]));
                Frame::from_parts(image, 0, 0, Delay::from_numer_denom_ms(100, 1))
            });
            encoder.encode_frames(frames).unwrap();
        }
        out
    }

    /// Where the blocks start in an image-rs GIF (header, screen, global colour table if any).
    fn blocks_start(gif: &[u8]) -> usize {
        let packed = gif[10];
        13 + if packed & 0x80 != 0 { 3 << ((packed & 7) + 1) } else { 0 }
    }

    fn comment(text: &[u8]) -> Vec<u8> {
        let mut out = vec![EXTENSION, COMMENT];
        for part in text.chunks(255) {
            out.push(part.len() as u8);
            out.extend_from_slice(part);
        }
        out.push(0);
        out
    }

    /// An XMP application extension as Adobe writes it: the packet raw, then the 258-byte
    /// "magic trailer" that makes the raw bytes parse as sub-blocks.
    fn xmp(packet: &[u8]) -> Vec<u8> {
        let mut out = vec![EXTENSION, APPLICATION, 11];
        out.extend_from_slice(b"XMP DataXMP");
        out.extend_from_slice(packet);
        out.push(1);
        out.extend((0..=255u8).rev());
        out.push(0);
        out
    }

    fn insert(gif: &[u8], at: usize, block: &[u8]) -> Vec<u8> {
        let mut out = gif[..at].to_vec();
        out.extend_from_slice(block);
        out.extend_from_slice(&gif[at..]);
        out
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    fn frames(gif: &[u8]) -> usize {
        let decoder = image::codecs::gif::GifDecoder::new(Cursor::new(gif)).unwrap();
        decoder.into_frames().collect_frames().unwrap().len()
    }

    #[test]
    fn comments_and_xmp_are_removed_and_everything_else_is_kept_byte_for_byte() {
        let original = animated();
        assert!(contains(&original, b"NETSCAPE2.0"), "the encoder writes a loop extension");
        assert_eq!(frames(&original), 3);
        let start = blocks_start(&original);
        let packet = b"<x:xmpmeta><exif:GPSLatitude>48,51.5N</exif:GPSLatitude></x:xmpmeta>";
        let tagged = insert(&original, start, &xmp(packet));
        // A comment between the frames too, and one before the trailer.
        let tagged = insert(&tagged, tagged.len() - 1, &comment(b"shot at 12 Rue Example"));
        let tagged = insert(&tagged, start, &comment(&[b'c'; 600]));
        assert_eq!(frames(&tagged), 3, "the tagged file is a valid GIF");
        assert!(contains(&tagged, b"GPSLatitude") && contains(&tagged, b"Rue Example"));
        let cleaned = clean(&tagged, MAX).unwrap().expect("metadata removed");
        assert_eq!(cleaned, original);
        assert!(clean(&original, MAX).unwrap().is_none(), "a clean file is left alone");
    }

    #[test]
    fn other_application_blocks_and_unknown_extensions_go_the_loop_stays() {
        let original = animated();
        let start = blocks_start(&original);
        let mut icc = vec![EXTENSION, APPLICATION, 11];
        icc.extend_from_slice(b"ICCRGBG1012");
        icc.extend_from_slice(&[4, b'a', b'b', b'c', b'd', 0]);
        let tagged = insert(&original, start, &icc);
        let tagged = insert(&tagged, start, &[EXTENSION, 0x42, 2, b'h', b'i', 0]);
        // The loop extension's twin, which some old tools write.
        let anim = [&[EXTENSION, APPLICATION, 11][..], b"ANIMEXTS1.0", &[3, 1, 0, 0, 0]].concat();
        let tagged = insert(&tagged, start, &anim);
        let cleaned = clean(&tagged, MAX).unwrap().unwrap();
        assert_eq!(cleaned, insert(&original, start, &anim));
    }

    #[test]
    fn bytes_after_the_trailer_go_and_a_missing_trailer_is_added() {
        let original = animated();
        let mut appended = original.clone();
        appended.extend_from_slice(b"PK\x03\x04 a zip file");
        assert_eq!(clean(&appended, MAX).unwrap().unwrap(), original);
        let cut = &original[..original.len() - 1];
        assert_eq!(clean(cut, MAX).unwrap().unwrap(), original);
    }

    #[test]
    fn a_frame_over_the_pixel_limit_is_refused() {
        let original = animated();
        // A second 60,000 × 60,000 frame (a few bytes of LZW data), after the real ones.
        let huge = [IMAGE, 0, 0, 0, 0, 0x60, 0xea, 0x60, 0xea, 0, 2, 2, 0x4c, 0x01, 0];
        let tagged = insert(&original, original.len() - 1, &huge);
        let err = clean(&tagged, MAX).unwrap_err();
        assert!(matches!(err, MediaError::TooManyPixels { width: 60_000, height: 60_000, .. }), "{err}");
    }

    #[test]
    fn malformed_files_are_refused_never_a_panic() {
        let original = animated();
        let tagged = insert(&original, blocks_start(&original), &xmp(b"<x:xmpmeta/>"));
        // Every truncation and every single-byte change: an answer, no panic, no growth.
        for len in 0..tagged.len() {
            if let Ok(Some(out)) = clean(&tagged[..len], MAX) {
                assert!(out.len() <= len + 1);
            }
        }
        for at in 0..tagged.len() {
            for value in [0x00, 0x01, 0x21, 0x2c, 0x3b, 0x80, 0xff] {
                let mut changed = tagged.clone();
                changed[at] = value;
                if let Ok(Some(out)) = clean(&changed, MAX) {
                    assert!(out.len() <= changed.len() + 1);
                }
            }
        }
        assert!(matches!(clean(b"GIF89a", MAX), Err(MediaError::Undecodable(_))));
        assert!(matches!(clean(b"GIF89a\x01\0\x01\0\0\0\0\x3b", MAX), Err(MediaError::Undecodable(_))));
        let mut unknown = original.clone();
        unknown.insert(blocks_start(&original), 0x99);
        assert!(matches!(clean(&unknown, MAX), Err(MediaError::Undecodable(_))));
    }

    #[test]
    fn millions_of_tiny_blocks_cost_one_pass() {
        let original = animated();
        let start = blocks_start(&original);
        // Two million empty comments (6 MB): each a three-byte block.
        let mut tagged = original[..start].to_vec();
        for _ in 0..2_000_000 {
            tagged.extend_from_slice(&[EXTENSION, COMMENT, 0]);
        }
        tagged.extend_from_slice(&original[start..]);
        assert_eq!(clean(&tagged, MAX).unwrap().unwrap(), original);
    }
}
