//! Images on upload (blocking code, run in `spawn_blocking` under a semaphore): dimensions and a
//! bounded decode (a decompression bomb is refused from its header, before any pixel is
//! allocated), a thumbnail, and a copy of the file without metadata (EXIF, GPS, XMP, comments),
//! which is what gets stored and served (GIF's blocks: `gif.rs`).

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageReader};

use super::sniff::Raster;

/// Bounds of image work.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MediaLimits {
    /// Most pixels (width × height) of an image that is decoded.
    pub(crate) max_pixels: u64,
    /// Longest side of a thumbnail.
    pub(crate) thumbnail_px: u32,
}

/// What processing an image made of it.
#[derive(Debug)]
pub(crate) struct Processed {
    pub(crate) width: u32,
    pub(crate) height: u32,
    /// The bytes to store instead of the upload (its metadata removed), if they differ.
    pub(crate) cleaned: Option<Vec<u8>>,
    /// The thumbnail and its media type.
    pub(crate) thumbnail: (Vec<u8>, &'static str),
}

/// Why an image was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MediaError {
    /// Its header declares more pixels than allowed (a decompression bomb, or just too big).
    #[error("the image is {width}×{height} pixels; at most {max} pixels are accepted")]
    TooManyPixels { width: u32, height: u32, max: u64 },
    /// It does not decode.
    #[error("the image cannot be decoded: {0}")]
    Undecodable(String),
}

fn undecodable(e: impl std::fmt::Display) -> MediaError {
    MediaError::Undecodable(e.to_string())
}

/// Checks, decodes, thumbnails and cleans the image `bytes` of format `raster`.
pub(crate) fn process(bytes: &[u8], raster: Raster, limits: MediaLimits) -> Result<Processed, MediaError> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), raster.format());
    let mut decoder_limits = image::Limits::default();
    // One side may not exceed the pixel budget on its own either; allocations are bounded by
    // the RGBA size of the largest accepted image (plus the decoder's working memory).
    let side = u32::try_from(limits.max_pixels).unwrap_or(u32::MAX);
    decoder_limits.max_image_width = Some(side);
    decoder_limits.max_image_height = Some(side);
    decoder_limits.max_alloc = Some(limits.max_pixels.saturating_mul(4).saturating_add(64 << 20));
    reader.limits(decoder_limits);
    let mut decoder = reader.into_decoder().map_err(|e| match e {
        image::ImageError::Limits(_) => MediaError::TooManyPixels { width: 0, height: 0, max: limits.max_pixels },
        other => undecodable(other),
    })?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > limits.max_pixels || width == 0 || height == 0 {
        return Err(MediaError::TooManyPixels { width, height, max: limits.max_pixels });
    }
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(undecodable)?;
    image.apply_orientation(orientation);
    let thumbnail = thumbnail(&image, limits.thumbnail_px)?;
    let cleaned = match raster {
        Raster::Jpeg => clean_jpeg(bytes, orientation.to_exif())?,
        Raster::Png => clean_png(bytes)?,
        Raster::Webp => clean_webp(bytes)?,
        Raster::Gif => super::gif::clean(bytes, limits.max_pixels)?,
    };
    let (width, height) = (image.width(), image.height());
    Ok(Processed { width, height, cleaned, thumbnail })
}

/// A thumbnail at most `px` on its longest side (never enlarged): PNG when the image has
/// transparency, JPEG otherwise.
fn thumbnail(image: &DynamicImage, px: u32) -> Result<(Vec<u8>, &'static str), MediaError> {
    let small = if image.width() > px || image.height() > px { image.thumbnail(px, px) } else { image.clone() };
    let mut out = Vec::new();
    if small.color().has_alpha() {
        small.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png).map_err(undecodable)?;
        Ok((out, "image/png"))
    } else {
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80);
        small.to_rgb8().write_with_encoder(encoder).map_err(undecodable)?;
        Ok((out, "image/jpeg"))
    }
}

/// An APP1 EXIF segment holding only an orientation tag (big-endian TIFF, one IFD entry), so a
/// photo taken sideways still shows upright once its real EXIF block is gone.
fn orientation_app1(exif: u8) -> Vec<u8> {
    let mut seg = vec![0xff, 0xe1, 0x00, 34];
    seg.extend_from_slice(b"Exif\0\0MM\0\x2a\0\0\0\x08");
    seg.extend_from_slice(&[0x00, 0x01, 0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, exif, 0x00, 0x00]);
    seg.extend_from_slice(&[0, 0, 0, 0]);
    seg
}

/// The JPEG without its APP1–APP15 segments (EXIF, GPS, XMP, …; APP14 "Adobe" stays: it says
/// how to decode the colours; APP2 stays only for an ICC profile) and comments; an orientation
/// other than 1 is kept in a minimal EXIF block. `None` when nothing was removed.
fn clean_jpeg(bytes: &[u8], orientation: u8) -> Result<Option<Vec<u8>>, MediaError> {
    let bad = || MediaError::Undecodable("malformed JPEG segments".into());
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..2]);
    let mut at = 2;
    let mut removed = false;
    // After SOI, or after a JFIF APP0 that comes first: where an EXIF APP1 belongs.
    let mut orientation_at = 2;
    let mut first = true;
    loop {
        // Markers may be preceded by fill bytes.
        while bytes.get(at) == Some(&0xff) && bytes.get(at + 1) == Some(&0xff) {
            at += 1;
        }
        let (Some(&0xff), Some(&marker)) = (bytes.get(at), bytes.get(at + 1)) else { return Err(bad()) };
        if marker == 0xda || marker == 0xd9 {
            // Start of scan (or end of image): the rest is entropy-coded data, copied as is.
            out.extend_from_slice(&bytes[at..]);
            break;
        }
        if (0xd0..=0xd7).contains(&marker) || marker == 0x01 {
            out.extend_from_slice(&bytes[at..at + 2]);
            at += 2;
            continue;
        }
        let len =
            usize::from(u16::from_be_bytes([*bytes.get(at + 2).ok_or_else(bad)?, *bytes.get(at + 3).ok_or_else(bad)?]));
        let end = at + 2 + len;
        if len < 2 || end > bytes.len() {
            return Err(bad());
        }
        let body = &bytes[at + 4..end];
        let keep = match marker {
            0xe2 => body.starts_with(b"ICC_PROFILE\0"),
            0xee => true,
            0xe1..=0xef | 0xfe => false,
            _ => true,
        };
        if keep {
            out.extend_from_slice(&bytes[at..end]);
            if first && marker == 0xe0 {
                orientation_at = out.len();
            }
        } else {
            removed = true;
        }
        first = false;
        at = end;
    }
    if !removed {
        return Ok(None);
    }
    if orientation > 1 {
        out.splice(orientation_at..orientation_at, orientation_app1(orientation));
    }
    Ok(Some(out))
}

/// PNG chunks that carry pixels or how to render them; every other chunk (`eXIf`, `tEXt`,
/// `zTXt`, `iTXt`, `tIME`, private ones) is dropped.
const PNG_KEPT: [&[u8; 4]; 15] = [
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"pHYs", b"bKGD",
    b"acTL", b"fcTL", b"fdAT",
];

/// The PNG without metadata chunks; `None` when nothing was removed.
fn clean_png(bytes: &[u8]) -> Result<Option<Vec<u8>>, MediaError> {
    let bad = || MediaError::Undecodable("malformed PNG chunks".into());
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..8]);
    let (mut at, mut removed) = (8, false);
    while at < bytes.len() {
        let len = bytes.get(at..at + 4).ok_or_else(bad)?;
        let len = u32::from_be_bytes(len.try_into().map_err(|_| bad())?) as usize;
        let end = at.checked_add(12 + len).filter(|&end| end <= bytes.len()).ok_or_else(bad)?;
        let kind = &bytes[at + 4..at + 8];
        if PNG_KEPT.iter().any(|k| k.as_slice() == kind) {
            out.extend_from_slice(&bytes[at..end]);
        } else {
            removed = true;
        }
        at = end;
        if kind == b"IEND" {
            // Anything after the end is not part of the image.
            removed |= at < bytes.len();
            break;
        }
    }
    Ok(removed.then_some(out))
}

/// The WebP without its `EXIF` and `XMP ` chunks (and their `VP8X` flags); `None` when nothing
/// was removed.
fn clean_webp(bytes: &[u8]) -> Result<Option<Vec<u8>>, MediaError> {
    let bad = || MediaError::Undecodable("malformed WebP chunks".into());
    let riff_end = (u32::from_le_bytes(bytes.get(4..8).ok_or_else(bad)?.try_into().map_err(|_| bad())?) as usize)
        .saturating_add(8)
        .min(bytes.len());
    let mut chunks = Vec::with_capacity(bytes.len());
    let (mut at, mut removed) = (12, false);
    while at + 8 <= riff_end {
        let kind = &bytes[at..at + 4];
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().map_err(|_| bad())?) as usize;
        let end = (at + 8).checked_add(len + (len & 1)).ok_or_else(bad)?.min(riff_end);
        if kind == b"EXIF" || kind == b"XMP " {
            removed = true;
        } else {
            let start = chunks.len();
            chunks.extend_from_slice(&bytes[at..end]);
            if kind == b"VP8X" && chunks.len() > start + 8 {
                chunks[start + 8] &= !0x0c;
            }
        }
        at = end;
    }
    if !removed {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(chunks.len() + 12);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&u32::try_from(chunks.len() + 4).map_err(|_| bad())?.to_le_bytes());
    out.extend_from_slice(b"WEBP");
    out.extend_from_slice(&chunks);
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: MediaLimits = MediaLimits { max_pixels: 1_000_000, thumbnail_px: 32 };

    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbImage::from_pixel(width, height, image::Rgb([200, 10, 10]));
        let mut out = Vec::new();
        image.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Jpeg).unwrap();
        out
    }

    /// Inserts an APP1 EXIF segment with a GPS-looking payload after SOI.
    fn with_exif(jpeg: &[u8], payload: &[u8]) -> Vec<u8> {
        let mut out = jpeg[..2].to_vec();
        let len = u16::try_from(payload.len() + 8).unwrap();
        out.extend_from_slice(&[0xff, 0xe1]);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(b"Exif\0\0");
        out.extend_from_slice(payload);
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    #[test]
    fn jpeg_metadata_is_removed_and_the_image_still_decodes() {
        let original = jpeg(64, 48);
        let tagged = with_exif(&original, b"GPSLatitude 48.8584 GPSLongitude 2.2945");
        let processed = process(&tagged, Raster::Jpeg, LIMITS).unwrap();
        let cleaned = processed.cleaned.expect("metadata removed");
        assert!(!cleaned.windows(11).any(|w| w == b"GPSLatitude"));
        assert_eq!(image::load_from_memory(&cleaned).unwrap().width(), 64);
        assert_eq!((processed.width, processed.height), (64, 48));
        assert!(processed.thumbnail.0.len() > 100);
        assert!(process(&original, Raster::Jpeg, LIMITS).unwrap().cleaned.is_none());
    }

    #[test]
    fn orientation_survives_as_a_minimal_exif_block() {
        let cleaned = clean_jpeg(&with_exif(&jpeg(8, 8), b"whatever"), 6).unwrap().unwrap();
        assert_eq!(image::metadata::Orientation::from_exif_chunk(&cleaned[12..12 + 26]).map(|o| o.to_exif()), Some(6));
    }

    #[test]
    fn png_text_chunks_are_removed() {
        let image = image::RgbaImage::from_pixel(4, 4, image::Rgba([0, 0, 0, 0]));
        let mut png = Vec::new();
        image.write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
        // A tEXt chunk before IEND (its CRC is not checked by the cleaner).
        let iend = png.len() - 12;
        let mut tagged = png[..iend].to_vec();
        tagged.extend_from_slice(&[0, 0, 0, 8]);
        tagged.extend_from_slice(b"tEXtGPS\0here");
        tagged.extend_from_slice(&[0, 0, 0, 0]);
        tagged.extend_from_slice(&png[iend..]);
        assert_eq!(clean_png(&tagged).unwrap().unwrap(), png);
        assert!(clean_png(&png).unwrap().is_none());
    }

    #[test]
    fn a_bomb_is_refused_from_its_header() {
        let err = process(&jpeg(1200, 1000), Raster::Jpeg, LIMITS).unwrap_err();
        assert!(matches!(err, MediaError::TooManyPixels { width: 1200, height: 1000, .. }), "{err}");
    }
}
