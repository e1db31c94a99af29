//! Images through the real server: EXIF/GPS (and a GIF's comments and XMP) never leaves it,
//! decompression bombs and broken images are refused, thumbnails are small; and a `kill -9`
//! mid-upload leaves nothing.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::{get, png, register, start_with_attachments, stored_files, upload_multipart, uploaded};

/// A JPEG with an APP1 EXIF block holding GPS-looking text right after SOI.
fn jpeg_with_gps(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, _| image::Rgb([(x % 256) as u8, 120, 40]));
    let mut plain = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut plain), image::ImageFormat::Jpeg).unwrap();
    let payload = b"Exif\0\0MM\0*GPSLatitude=48.858370;GPSLongitude=2.294481;";
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&[0xff, 0xe1]);
    out.extend_from_slice(&u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&plain[2..]);
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn a_jpeg_with_gps_is_served_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with_attachments(dir.path(), |_| {}).await;
    let addr = server.local_addr();
    let alice = register(addr, "alice").await;
    let original = jpeg_with_gps(64, 48);
    assert!(contains(&original, b"GPSLatitude"));
    let a = uploaded(addr, &alice, "holiday.jpg", &original).await;
    assert_eq!(a["content_type"], "image/jpeg");
    let id = a["id"].as_str().unwrap();
    let served = get(addr, &format!("/api/attachments/{id}"), Some(&alice)).await;
    assert_eq!(served.status, 200);
    assert!(!contains(&served.body, b"GPS"), "the GPS block was served");
    assert!(!contains(&served.body, b"Exif"), "an EXIF block was served");
    assert_eq!(image::load_from_memory(&served.body).unwrap().width(), 64);
    assert_eq!(a["size"].as_u64(), Some(served.body.len() as u64));
    // The id is the hash of what is stored and served, not of what was sent.
    use sha2::Digest;
    assert_eq!(hex::encode(sha2::Sha256::digest(&served.body)), id);
    let on_disk = std::fs::read(dir.path().join(id)).unwrap();
    assert!(!contains(&on_disk, b"GPS"));
    let thumb = get(addr, &format!("/api/attachments/{id}/thumbnail"), Some(&alice)).await;
    assert!(!contains(&thumb.body, b"GPS"));
    server.shutdown().await;
}

/// A two-frame looping GIF with a comment and an XMP block (GPS in it) before the frames.
fn gif_with_comment_and_xmp() -> (Vec<u8>, Vec<u8>) {
    use image::codecs::gif::{GifEncoder, Repeat};
    let mut plain = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut plain);
        encoder.set_repeat(Repeat::Infinite).unwrap();
        let frames = (0..2u8).map(|i| {
            let image = image::RgbaImage::from_fn(20, 10, |x, _| image::Rgba([i * 200, (x * 10) as u8, 60, 255]));
            image::Frame::from_parts(image, 0, 0, image::Delay::from_numer_denom_ms(200, 1))
        });
        encoder.encode_frames(frames).unwrap();
    }
    // After the header, the screen descriptor and the global colour table.
    let packed = plain[10];
    let start = 13 + if packed & 0x80 != 0 { 3 << ((packed & 7) + 1) } else { 0 };
    let mut blocks = vec![0x21, 0xfe, 24];
    blocks.extend_from_slice(b"taken at 12 Rue Exemple");
    blocks.extend_from_slice(&[b'!', 0]);
    blocks.extend_from_slice(&[0x21, 0xff, 11]);
    blocks.extend_from_slice(b"XMP DataXMP");
    blocks.extend_from_slice(b"<x:xmpmeta><exif:GPSLatitude>48,51.5N</exif:GPSLatitude></x:xmpmeta>");
    blocks.push(1);
    blocks.extend((0..=255u8).rev());
    blocks.push(0);
    let mut tagged = plain[..start].to_vec();
    tagged.extend_from_slice(&blocks);
    tagged.extend_from_slice(&plain[start..]);
    (tagged, plain)
}

#[tokio::test]
async fn a_gif_is_served_without_its_comment_and_xmp_and_keeps_its_frames() {
    use image::AnimationDecoder;
    let dir = tempfile::tempdir().unwrap();
    let server = start_with_attachments(dir.path(), |_| {}).await;
    let addr = server.local_addr();
    let alice = register(addr, "alice").await;
    let (tagged, plain) = gif_with_comment_and_xmp();
    assert!(contains(&tagged, b"Rue Exemple") && contains(&tagged, b"GPSLatitude"));
    let a = uploaded(addr, &alice, "dance.gif", &tagged).await;
    assert_eq!(
        (a["content_type"].as_str(), a["width"].as_u64(), a["height"].as_u64()),
        (Some("image/gif"), Some(20), Some(10))
    );
    let id = a["id"].as_str().unwrap();
    let served = get(addr, &format!("/api/attachments/{id}"), Some(&alice)).await;
    assert_eq!(served.status, 200);
    for leak in [&b"Rue Exemple"[..], b"GPSLatitude", b"XMP DataXMP", b"xmpmeta"] {
        assert!(!contains(&served.body, leak), "{} was served", String::from_utf8_lossy(leak));
    }
    // Only the two blocks went: the frames, their delays and the loop are the encoder's bytes.
    assert_eq!(served.body, plain);
    let decoder = image::codecs::gif::GifDecoder::new(std::io::Cursor::new(&served.body)).unwrap();
    assert_eq!(decoder.into_frames().collect_frames().unwrap().len(), 2);
    use sha2::Digest;
    assert_eq!(hex::encode(sha2::Sha256::digest(&served.body)), id);
    assert_eq!(a["size"].as_u64(), Some(served.body.len() as u64));
    assert!(!contains(&std::fs::read(dir.path().join(id)).unwrap(), b"Rue Exemple"));

    // A GIF whose blocks do not parse is refused, like any broken image, and nothing is kept.
    let mut broken = plain.clone();
    let last = broken.len() - 1;
    broken[last] = 0x99;
    broken.extend_from_slice(b"junk");
    let r = upload_multipart(addr, &alice, "broken.gif", &broken).await;
    assert_eq!(
        (r.status, r.code()),
        (415, "unsupported_media_type".to_owned()),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(stored_files(dir.path()).len(), 2, "the first GIF and its thumbnail: {:?}", stored_files(dir.path()));
    server.shutdown().await;
}

#[tokio::test]
async fn thumbnails_are_bounded_and_keep_the_aspect() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with_attachments(dir.path(), |_| {}).await;
    let addr = server.local_addr();
    let alice = register(addr, "alice").await;
    let a = uploaded(addr, &alice, "wide.png", &png(1000, 500)).await;
    let thumb = get(addr, &format!("/api/attachments/{}/thumbnail", a["id"].as_str().unwrap()), Some(&alice)).await;
    assert_eq!(thumb.status, 200);
    let t = image::load_from_memory(&thumb.body).unwrap();
    assert_eq!((t.width(), t.height()), (320, 160));
    server.shutdown().await;
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(data.len()).unwrap().to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc_input = kind.to_vec();
    crc_input.extend_from_slice(data);
    out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    out
}

/// A 100 KiB-free PNG that declares 100,000 × 100,000 pixels (40 GB of RGB once decoded).
fn png_bomb() -> Vec<u8> {
    let mut ihdr = 100_000u32.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(chunk(b"IHDR", &ihdr));
    // A valid zlib stream of a few zero bytes: the start of the first rows.
    out.extend(chunk(b"IDAT", &[0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01]));
    out.extend(chunk(b"IEND", &[]));
    out
}

#[tokio::test]
async fn a_decompression_bomb_and_a_broken_image_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with_attachments(dir.path(), |_| {}).await;
    let addr = server.local_addr();
    let alice = register(addr, "alice").await;
    let bomb = png_bomb();
    assert!(bomb.len() < 200);
    let r = upload_multipart(addr, &alice, "bomb.png", &bomb).await;
    assert_eq!((r.status, r.code()), (413, "image_too_large".to_owned()), "{}", String::from_utf8_lossy(&r.body));
    let mut broken = png(16, 16);
    broken.truncate(40);
    let r = upload_multipart(addr, &alice, "broken.png", &broken).await;
    assert_eq!((r.status, r.code()), (415, "unsupported_media_type".to_owned()));
    assert!(stored_files(dir.path()).is_empty(), "{:?}", stored_files(dir.path()));
    server.shutdown().await;
}

/// The chat-server binary on `db` and a free port, logging to a file beside it.
fn spawn_server(db: &std::path::Path, port: u16) -> Child {
    let log = std::fs::File::create(db.with_extension("log")).unwrap();
    Command::new(env!("CARGO_BIN_EXE_chat-server"))
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .arg("--db")
        .arg(db)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn chat-server")
}

fn connect(port: u16) -> std::net::TcpStream {
    for _ in 0..400 {
        if let Ok(tcp) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            return tcp;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the server never listened on {port}");
}

/// One blocking HTTP/1.1 request with `Connection: close`; the whole answer as text.
fn request(port: u16, head: &str, body: &[u8]) -> String {
    let mut tcp = connect(port);
    tcp.write_all(head.as_bytes()).unwrap();
    tcp.write_all(body).unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    answer
}

fn token_of(answer: &str) -> String {
    let body = answer.split("\r\n\r\n").nth(1).expect("a body");
    let v: serde_json::Value = serde_json::from_str(body).expect("JSON");
    v["token"].as_str().expect("token").to_owned()
}

#[test]
fn kill_9_during_an_upload_leaves_nothing_visible() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.redb");
    let files = dir.path().join("chat.redb.attachments");
    let port = crate::cluster_harness::free_port();
    let mut server = spawn_server(&db, port);
    let creds = br#"{"username":"alice","password":"password-alice"}"#;
    let head = format!(
        "POST /api/register HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        creds.len()
    );
    let token = token_of(&request(port, &head, creds));

    // Half of a 1 MB body, then the process dies.
    let mut tcp = connect(port);
    let head = format!(
        "POST /api/attachments?name=half.bin HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).unwrap();
    tcp.write_all(&vec![0x5a; 500_000]).unwrap();
    // The temporary file exists once the server has written what it received.
    let tmp = files.join("tmp");
    for _ in 0..400 {
        let written = std::fs::read_dir(&tmp).unwrap().flatten().any(|e| e.metadata().is_ok_and(|m| m.len() > 0));
        if written {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 1, "one upload in progress");
    server.kill().expect("kill -9");
    server.wait().unwrap();
    drop(tcp);

    let mut server = spawn_server(&db, port);
    let login = format!(
        "POST /api/login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        creds.len()
    );
    let token = token_of(&request(port, &login, creds));
    assert!(stored_files(&files).is_empty(), "left behind: {:?}", stored_files(&files));
    // The server works as before.
    let body = b"after the crash";
    let head = format!(
        "POST /api/attachments?name=ok.txt HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let answer = request(port, &head, body);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    server.kill().unwrap();
    server.wait().unwrap();
}
