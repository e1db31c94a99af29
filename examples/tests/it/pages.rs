//! History and resume pages over the real path: chat-store on disk format (in memory), the
//! chat-ws hub and pump, a WebSocket on 127.0.0.1 with the default write buffer. Before pages
//! were cut by encoded size, each of these pages closed the socket without an answer.

use std::sync::Arc;

use chat_core::protocol::ResumePoint;
use chat_core::{ClientMsg, Codec, Journal, LogEntry, Message, RoomKey, RoomKind, RoomRef, ServerMsg, Timestamp};
use chat_store::Store;
use chat_ws::tokio_tungstenite::tungstenite::Message as Frame;
use chat_ws::tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use chat_ws::tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use chat_ws::{Auth, HubConfig, HubHandle, Identity, serve_socket, spawn_hub, websocket_config};
use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The most any server frame may take (the adapter's write buffer).
const FRAME_LIMIT: usize = 256 * 1024;
const T0: u64 = 1_700_000_000_000;

/// `group:big`: 12 stored messages of 4,000 control characters (24 KB each in JSON), written
/// before the content rules refused such text. `group:busy`: 300 messages of 900 characters.
fn stored() -> Vec<LogEntry> {
    let (alice, bob) = ("alice".parse().unwrap(), "bob".parse().unwrap());
    let mut log = vec![LogEntry::UserAdded { user: alice }, LogEntry::UserAdded { user: bob }];
    let rooms = [("group:big", 12, "\u{1}".repeat(4_000)), ("group:busy", 300, "x".repeat(900))];
    for (key, count, content) in rooms {
        let room: RoomKey = key.parse().unwrap();
        log.push(LogEntry::RoomCreated {
            room: room.clone(),
            kind: RoomKind::Public,
            owner: None,
            timestamp: Timestamp(T0),
        });
        for user in ["alice", "bob"] {
            log.push(LogEntry::MemberAdded { room: room.clone(), user: user.parse().unwrap() });
        }
        for seq in 1..=count {
            log.push(LogEntry::Message(Arc::new(Message {
                attachments: Vec::new(),
                room: room.clone(),
                seq,
                timestamp: Timestamp(T0 + seq),
                sender: "alice".parse().unwrap(),
                content: content.clone(),
                mentions: Vec::new(),
                client_id: None,
                rev: 0,
                changed_rev: 0,
                edited_at: None,
                deleted: false,
                deleted_at: None,
                reply_to: None,
                reactions: Vec::new(),
            })));
        }
    }
    log
}

/// Serves WebSockets at `ws://addr/<user>` (the path names the user: no login in this test).
async fn serve(hub: HubHandle) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let hub = hub.clone();
            tokio::spawn(async move {
                let mut user = String::new();
                #[allow(clippy::result_large_err)] // tungstenite's callback signature
                let path = |req: &Request, resp: Response| {
                    user = req.uri().path().trim_start_matches('/').to_owned();
                    Ok(resp)
                };
                let config = websocket_config(hub.limits());
                let Ok(ws) = tokio_tungstenite::accept_hdr_async_with_config(tcp, path, Some(config)).await else {
                    return;
                };
                let identity = Identity::user(user.parse().unwrap());
                serve_socket(hub, ws, Codec::Json, Auth::User(identity)).await;
            });
        }
    });
    format!("ws://{addr}")
}

async fn connect(base: &str, user: &str) -> Ws {
    let config = WebSocketConfig::default().max_message_size(Some(1 << 22)).max_frame_size(Some(1 << 22));
    let (ws, _) =
        tokio_tungstenite::connect_async_with_config(format!("{base}/{user}"), Some(config), false).await.unwrap();
    ws
}

async fn send(ws: &mut Ws, msg: &ClientMsg) {
    let text = String::from_utf8(Codec::Json.encode_client(msg).unwrap()).unwrap();
    ws.send(Frame::text(text)).await.unwrap();
}

/// The next `history` frame, with its size on the wire; panics if the socket closes first.
async fn next_page(ws: &mut Ws) -> (Vec<u64>, bool, bool, usize) {
    loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(30), ws.next())
            .await
            .expect("a page within 30 s")
            .expect("the socket stays open")
            .expect("a frame");
        let Frame::Text(text) = frame else { continue };
        if let ServerMsg::History { messages, resume, more, .. } = Codec::Json.decode_server(text.as_bytes()).unwrap() {
            return (messages.iter().map(|m| m.seq).collect(), resume, more, text.len());
        }
    }
}

fn room(key: &str) -> RoomRef {
    RoomRef { room: Some(key.into()), ..RoomRef::default() }
}

#[tokio::test]
async fn large_pages_and_resume_fit_the_write_buffer() {
    let mut store = Store::in_memory().unwrap();
    store.append(&stored()).unwrap();
    let (hub, _task) = spawn_hub(HubConfig::default(), store).unwrap();
    let base = serve(hub).await;

    // `history limit=50` of the 12 large messages: pages back with `before` until `more: false`.
    let mut alice = connect(&base, "alice").await;
    let (mut before, mut seen, mut frames) = (None, Vec::new(), 0);
    loop {
        send(
            &mut alice,
            &ClientMsg::History { room: room("group:big"), before, after: None, limit: Some(50), around: None },
        )
        .await;
        let (seqs, _, more, bytes) = next_page(&mut alice).await;
        assert!(bytes <= FRAME_LIMIT, "a {bytes}-byte frame");
        assert!(!seqs.is_empty());
        frames += 1;
        before = Some(seqs[0]);
        seen.splice(0..0, seqs);
        if !more {
            break;
        }
    }
    assert!(frames > 1, "cut into several pages");
    assert_eq!(seen, (1..=12).collect::<Vec<_>>());

    // Bob missed all 300 busy messages: one resume, several frames, each message once, in order.
    let mut bob = connect(&base, "bob").await;
    send(
        &mut bob,
        &ClientMsg::Resume { rooms: vec![ResumePoint { room: "group:busy".into(), last_seq: 0, last_rev: None }] },
    )
    .await;
    let (mut seen, mut frames) = (Vec::new(), 0);
    loop {
        let (seqs, resume, more, bytes) = next_page(&mut bob).await;
        assert!(resume);
        assert!(bytes <= FRAME_LIMIT, "a {bytes}-byte frame");
        seen.extend(seqs);
        frames += 1;
        if !more {
            break;
        }
    }
    assert!(frames > 1, "several frames");
    assert_eq!(seen, (1..=300).collect::<Vec<_>>(), "every message, in order, each once");
}
