//! Attachments through the real server: upload (multipart and raw), download only for who may
//! read it (404 for everyone else), never rendered as HTML or SVG, limits that leave nothing on
//! disk, ranges and ETags, and garbage collection.

use std::net::SocketAddr;

use crate::support::{
    AttachmentServer, attachment_id, create_room, get, quick_collection, register, send, send_with_attachments,
    upload_multipart, upload_raw, wait_until_collected,
};

// attachments_media.rs takes these from here, under their old names, until it imports them from
// crate::support; then this goes.
#[allow(unused_imports)]
pub use crate::support::{
    png, start_with_attachments as start_in, stored_files as files_in, upload_multipart as upload, uploaded,
};

#[tokio::test]
async fn the_uploader_downloads_what_they_uploaded_and_nobody_else_sees_it() {
    let server = AttachmentServer::start(|_| {}).await;
    let addr = server.addr;
    let alice = register(addr, "alice").await;
    let bob = register(addr, "bob").await;
    let bytes = png(40, 30);
    let a = uploaded(addr, &alice, "cat.png", &bytes).await;
    assert_eq!(a["name"], "cat.png");
    assert_eq!(a["content_type"], "image/png");
    assert_eq!((a["width"].as_u64(), a["height"].as_u64()), (Some(40), Some(30)));
    assert_eq!(a["size"].as_u64(), Some(std::fs::metadata(server.dir.path().join(attachment_id(&a))).unwrap().len()));
    let path = format!("/api/attachments/{}", attachment_id(&a));

    let r = get(addr, &path, Some(&alice)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("image/png"));
    assert!(r.header("content-disposition").unwrap().starts_with("inline;"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("content-security-policy"), Some("default-src 'none'; sandbox"));
    assert!(r.header("cache-control").unwrap().starts_with("private"));
    assert_eq!(image::load_from_memory(&r.body).unwrap().width(), 40);

    let thumb = get(addr, &format!("{path}/thumbnail"), Some(&alice)).await;
    assert_eq!(thumb.status, 200);
    assert_eq!(thumb.header("content-type"), Some("image/jpeg"));

    // Another user, a stranger without a token, a bad token: all the same 404.
    for token in [Some(bob.as_str()), None, Some("not-a-token")] {
        for p in [path.clone(), format!("{path}/thumbnail")] {
            let r = get(addr, &p, token).await;
            assert_eq!(r.status, 404, "{p} with {token:?}");
            assert_eq!(r.code(), "attachment_not_found");
        }
    }
    // An id that does not exist answers exactly as one that does but is not yours.
    let missing = get(addr, &format!("/api/attachments/{}", "0".repeat(64)), Some(&bob)).await;
    assert_eq!((missing.status, missing.code()), (404, "attachment_not_found".to_owned()));
    server.shutdown().await;
}

#[tokio::test]
async fn html_and_svg_named_png_are_never_served_as_markup() {
    let server = AttachmentServer::start(|_| {}).await;
    let addr = server.addr;
    let alice = register(addr, "alice").await;
    let html = b"<!doctype html><html><script>alert(document.cookie)</script></html>".to_vec();
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#.to_vec();
    for (name, bytes) in [("cat.png", html), ("dog.png", svg.clone()), ("x.svg", svg)] {
        for raw in [false, true] {
            let r = if raw {
                upload_raw(addr, &alice, name, &bytes).await
            } else {
                upload_multipart(addr, &alice, name, &bytes).await
            };
            assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
            let a = r.json();
            assert_eq!(a["content_type"], "application/octet-stream", "{name}");
            assert!(a.get("width").is_none());
            let r = get(addr, &format!("/api/attachments/{}", attachment_id(&a)), Some(&alice)).await;
            assert_eq!(r.status, 200);
            assert_eq!(r.header("content-type"), Some("application/octet-stream"), "{name}");
            let disposition = r.header("content-disposition").unwrap();
            assert!(disposition.starts_with("attachment;"), "{disposition}");
            assert!(disposition.contains(name), "{disposition}");
            assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
            assert_eq!(r.header("content-security-policy"), Some("default-src 'none'; sandbox"));
            assert_eq!(r.body, bytes);
            let thumb = get(addr, &format!("/api/attachments/{}/thumbnail", attachment_id(&a)), Some(&alice)).await;
            assert_eq!(thumb.status, 404);
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn file_names_lose_their_paths_and_control_characters() {
    let server = AttachmentServer::start(|_| {}).await;
    let addr = server.addr;
    let alice = register(addr, "alice").await;
    let a = uploaded(addr, &alice, "../../etc/passwd", b"hello").await;
    assert_eq!(a["name"], "passwd");
    let a = uploaded(addr, &alice, "C:\\Users\\me\\notes.txt", b"hello").await;
    assert_eq!(a["name"], "notes.txt");
    let raw = upload_raw(addr, &alice, "%2E%2E%2Fsecret%0D%0A.txt", b"hello").await;
    assert_eq!(raw.status, 201);
    assert_eq!(raw.json()["name"], "secret.txt");
    server.shutdown().await;
}

#[tokio::test]
async fn oversize_and_over_quota_uploads_are_refused_and_leave_nothing() {
    let server = AttachmentServer::start(|c| {
        c.attachments.max_file_bytes = 10_000;
        c.attachments.quota_bytes = 15_000;
    })
    .await;
    let addr = server.addr;
    let alice = register(addr, "alice").await;
    let big = vec![7u8; 10_001];
    let r = upload_multipart(addr, &alice, "big.bin", &big).await;
    assert_eq!((r.status, r.code()), (413, "file_too_large".to_owned()));
    let r = upload_raw(addr, &alice, "big.bin", &big).await;
    assert_eq!((r.status, r.code()), (413, "file_too_large".to_owned()));
    assert!(server.files().is_empty(), "{:?}", server.files());

    // Streamed without a length: refused once the limit passes, nothing kept.
    let r = chunked_upload(addr, &alice, &big).await;
    assert!(r.starts_with("HTTP/1.1 413"), "{r}");
    assert!(r.contains("file_too_large"), "{r}");
    assert!(server.files().is_empty(), "{:?}", server.files());

    let first = uploaded(addr, &alice, "a.bin", &vec![1u8; 9_000]).await;
    let r = upload_multipart(addr, &alice, "b.bin", &vec![2u8; 9_000]).await;
    assert_eq!((r.status, r.code()), (413, "quota_exceeded".to_owned()));
    assert_eq!(server.files(), vec![attachment_id(&first)]);
    // Someone else has their own quota.
    let bob = register(addr, "bob").await;
    uploaded(addr, &bob, "b.bin", &vec![2u8; 9_000]).await;
    server.shutdown().await;
}

/// A raw upload with `Transfer-Encoding: chunked` (no length known up front); the response
/// head and body as text.
async fn chunked_upload(addr: SocketAddr, token: &str, bytes: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/attachments?name=x.bin HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    for chunk in bytes.chunks(1000) {
        let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
        frame.extend_from_slice(chunk);
        frame.extend_from_slice(b"\r\n");
        // The server may answer and close before the whole body is sent.
        if tcp.write_all(&frame).await.is_err() {
            break;
        }
    }
    let _ = tcp.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn uploads_per_minute_are_limited() {
    let server = AttachmentServer::start(|c| c.attachments.uploads_per_minute = 2).await;
    let addr = server.addr;
    let alice = register(addr, "alice").await;
    uploaded(addr, &alice, "1.txt", b"one").await;
    uploaded(addr, &alice, "2.txt", b"two").await;
    let r = upload_multipart(addr, &alice, "3.txt", b"three").await;
    assert_eq!((r.status, r.code()), (429, "rate_limited".to_owned()));
    server.shutdown().await;
}

#[tokio::test]
async fn uploads_need_a_session() {
    let server = AttachmentServer::start(|_| {}).await;
    let addr = server.addr;
    let r = send(addr, "POST", "/api/attachments?name=a", &[], Some(b"x".to_vec())).await;
    assert_eq!(r.status, 401);
    assert!(server.files().is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn without_a_directory_attachments_are_unavailable() {
    let server = crate::support::start().await;
    let addr = server.local_addr();
    let alice = register(addr, "alice").await;
    let r = upload_multipart(addr, &alice, "a.txt", b"x").await;
    assert_eq!((r.status, r.code()), (503, "attachments_unavailable".to_owned()));
    // The hub has no resolver either: a message naming a file is refused the same way.
    create_room(addr, &alice, "lobby", false).await;
    let r = send_with_attachments(addr, &alice, "group:lobby", "x", &[&"ab".repeat(32)]).await;
    assert_eq!((r.status, r.code()), (503, "attachments_unavailable".to_owned()));
    server.shutdown().await;
}

#[tokio::test]
async fn ranges_and_etags() {
    let server = AttachmentServer::start(|_| {}).await;
    let addr = server.addr;
    let alice = register(addr, "alice").await;
    let bytes: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let a = uploaded(addr, &alice, "data.bin", &bytes).await;
    let path = format!("/api/attachments/{}", attachment_id(&a));
    let auth = format!("Bearer {alice}");
    let with = |extra: (&'static str, String)| {
        let auth = auth.clone();
        let path = path.clone();
        async move { send(addr, "GET", &path, &[("authorization", &auth), (extra.0, &extra.1)], None).await }
    };

    let whole = get(addr, &path, Some(&alice)).await;
    assert_eq!(whole.body, bytes);
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    let etag = whole.header("etag").unwrap().to_owned();
    assert_eq!(etag, format!("\"{}\"", attachment_id(&a)));

    let part = with(("range", "bytes=100-199".into())).await;
    assert_eq!(part.status, 206);
    assert_eq!(part.header("content-range"), Some("bytes 100-199/5000"));
    assert_eq!(part.body, bytes[100..200]);
    let tail = with(("range", "bytes=-10".into())).await;
    assert_eq!((tail.status, &tail.body[..]), (206, &bytes[4990..]));
    let past = with(("range", "bytes=5000-".into())).await;
    assert_eq!(past.status, 416);
    assert_eq!(past.header("content-range"), Some("bytes */5000"));

    let cached = with(("if-none-match", etag.clone())).await;
    assert_eq!(cached.status, 304);
    assert!(cached.body.is_empty());
    let stale = with(("if-none-match", "\"something-else\"".into())).await;
    assert_eq!(stale.status, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn the_same_bytes_are_stored_once() {
    let server = AttachmentServer::start(|_| {}).await;
    let addr = server.addr;
    let alice = register(addr, "alice").await;
    let bob = register(addr, "bob").await;
    let a = uploaded(addr, &alice, "one.txt", b"same bytes").await;
    let b = uploaded(addr, &bob, "two.txt", b"same bytes").await;
    assert_eq!(a["id"], b["id"]);
    assert_eq!(b["name"], "two.txt");
    assert_eq!(server.files(), vec![attachment_id(&a)]);
    // Each uploader may read it.
    assert_eq!(get(addr, &format!("/api/attachments/{}", attachment_id(&a)), Some(&bob)).await.status, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn unreferenced_files_are_collected_after_the_grace_period() {
    let server = AttachmentServer::start(quick_collection).await;
    let addr = server.addr;
    let alice = register(addr, "alice").await;
    let a = uploaded(addr, &alice, "a.png", &png(8, 8)).await;
    assert_eq!(server.files().len(), 2, "the file and its thumbnail");
    wait_until_collected(server.dir.path(), &attachment_id(&a)).await;
    assert!(server.files().is_empty(), "{:?}", server.files());
    let r = get(addr, &format!("/api/attachments/{}", attachment_id(&a)), Some(&alice)).await;
    assert_eq!(r.status, 404);
    server.shutdown().await;
}
