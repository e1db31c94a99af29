use chat_core::{ClientMsg, Codec, ErrorCode, ServerMsg};
use chat_ws::{ClientAuthMsg, Identity, LoginId, Register, ServerAuthMsg, SessionEvent, WsErrorCode};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{Client, TestServer, config};

fn register(username: &str, password: &str) -> ClientAuthMsg {
    ClientAuthMsg::Register(Register::password(username, password))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn refusal_code(msg: ServerAuthMsg) -> WsErrorCode {
    match msg {
        ServerAuthMsg::Error { code, .. } => code,
        other => panic!("expected an error, got {other:?}"),
    }
}

/// Signs in with a first frame; returns the token from `registered`, after `connected`.
async fn sign_in(client: &mut Client, register: ClientAuthMsg, user: &str) -> Option<String> {
    client.send_auth(&register).await;
    let token = match client.recv_auth().await {
        ServerAuthMsg::Registered { username, token } => {
            assert_eq!(username.as_str(), user);
            token
        }
        other => panic!("expected registered, got {other:?}"),
    };
    match client.recv().await {
        ServerMsg::Connected { username, .. } => assert_eq!(username.as_str(), user),
        other => panic!("expected connected, got {other:?}"),
    }
    token
}

#[tokio::test]
async fn first_frame_register_authenticates_then_connects() {
    let (server, _journal) = TestServer::memory(config()).await;
    for codec in [Codec::Json, Codec::MsgPack] {
        let mut client = Client::open(server.addr, None, codec, None).await;
        // Anything but register first is refused.
        client.send(&ClientMsg::ListRooms(Default::default())).await;
        assert_eq!(refusal_code(client.recv_auth().await), WsErrorCode::Unauthorized);
        // A wrong password is refused; the client may try again.
        client.send_auth(&register("dave", "wrong")).await;
        assert_eq!(refusal_code(client.recv_auth().await), WsErrorCode::BadCredentials);
        let token = sign_in(&mut client, register("Dave", "secret"), "dave").await;
        assert_eq!(token.as_deref(), Some("tok-dave"));
        client.join("group:lobby").await;
    }
}

#[tokio::test]
async fn a_malformed_or_unknown_first_frame_gets_the_codecs_error() {
    let (server, _journal) = TestServer::memory(config()).await;
    let mut client = Client::open(server.addr, None, Codec::Json, None).await;
    client.send_raw(Message::Text(r#"{"type":"register","username":5}"#.into())).await;
    assert_eq!(refusal_code(client.recv_auth().await), WsErrorCode::Core(ErrorCode::InvalidFrame));
    client.send_raw(Message::Text(r#"{"type":"teleport"}"#.into())).await;
    assert_eq!(refusal_code(client.recv_auth().await), WsErrorCode::Core(ErrorCode::UnknownType));
    // Two failures so far; the third attempt still signs in.
    sign_in(&mut client, register("erin", "secret"), "erin").await;
}

#[tokio::test]
async fn too_many_failed_registers_close_with_1008() {
    let (server, _journal) = TestServer::memory(config()).await;
    let mut client = Client::open(server.addr, None, Codec::Json, None).await;
    for _ in 0..3 {
        client.send_auth(&register("eve", "nope")).await;
    }
    assert_eq!(client.close_code().await, Some(1008));
    assert_eq!(server.hub.metrics().connections, 0);
}

/// The handshake left the core for chat-ws; its frames are byte for byte what stage 1 sent
/// (these bytes were produced by the core's `ClientMsg::Register` / `ServerMsg::Registered` /
/// `ServerMsg::error` before the move).
#[test]
fn handshake_frames_are_byte_identical_to_the_core_frames_they_replace() {
    let user = "alice".parse().unwrap();
    let cases: [(Vec<u8>, Vec<u8>, &str, &str); 7] = [
        (
            register("alice", "pw").encode(Codec::Json).unwrap(),
            register("alice", "pw").encode(Codec::MsgPack).unwrap(),
            r#"{"type":"register","username":"alice","password":"pw"}"#,
            "83a474797065a87265676973746572a8757365726e616d65a5616c696365a870617373776f7264a27077",
        ),
        (
            ClientAuthMsg::Register(Register::token("tok")).encode(Codec::Json).unwrap(),
            ClientAuthMsg::Register(Register::token("tok")).encode(Codec::MsgPack).unwrap(),
            r#"{"type":"register","token":"tok"}"#,
            "82a474797065a87265676973746572a5746f6b656ea3746f6b",
        ),
        {
            let m = ServerAuthMsg::Registered { username: user, token: Some("tok".into()) };
            (
                m.encode(Codec::Json).unwrap(),
                m.encode(Codec::MsgPack).unwrap(),
                r#"{"type":"registered","username":"alice","token":"tok"}"#,
                "83a474797065aa72656769737465726564a8757365726e616d65a5616c696365a5746f6b656ea3746f6b",
            )
        },
        {
            let m = ServerAuthMsg::Registered { username: "alice".parse().unwrap(), token: None };
            (
                m.encode(Codec::Json).unwrap(),
                m.encode(Codec::MsgPack).unwrap(),
                r#"{"type":"registered","username":"alice"}"#,
                "82a474797065aa72656769737465726564a8757365726e616d65a5616c696365",
            )
        },
        {
            let m = ServerAuthMsg::error(WsErrorCode::BadCredentials, "wrong");
            (
                m.encode(Codec::Json).unwrap(),
                m.encode(Codec::MsgPack).unwrap(),
                r#"{"type":"error","code":"bad_credentials","message":"wrong"}"#,
                "83a474797065a56572726f72a4636f6465af6261645f63726564656e7469616c73a76d657373616765a577726f6e67",
            )
        },
        {
            let m = ServerAuthMsg::error(WsErrorCode::Unauthorized, "first");
            (
                m.encode(Codec::Json).unwrap(),
                m.encode(Codec::MsgPack).unwrap(),
                r#"{"type":"error","code":"unauthorized","message":"first"}"#,
                "83a474797065a56572726f72a4636f6465ac756e617574686f72697a6564a76d657373616765a56669727374",
            )
        },
        {
            let m = ServerAuthMsg::error(ErrorCode::RateLimited, "slow");
            (
                m.encode(Codec::Json).unwrap(),
                m.encode(Codec::MsgPack).unwrap(),
                r#"{"type":"error","code":"rate_limited","message":"slow"}"#,
                "83a474797065a56572726f72a4636f6465ac726174655f6c696d69746564a76d657373616765a4736c6f77",
            )
        },
    ];
    for (json, msgpack, want_json, want_msgpack) in cases {
        assert_eq!(String::from_utf8(json).unwrap(), want_json);
        assert_eq!(hex(&msgpack), want_msgpack);
    }
    let big = ServerAuthMsg::error(WsErrorCode::FrameTooLarge, "big");
    assert_eq!(big.encode(Codec::Json).unwrap(), br#"{"type":"error","code":"frame_too_large","message":"big"}"#);
    // And they decode back, in both codecs, as do the core's error frames.
    for codec in [Codec::Json, Codec::MsgPack] {
        assert_eq!(ServerAuthMsg::decode(codec, &big.encode(codec).unwrap()).unwrap(), big);
        let core = codec.encode_server(&ServerMsg::error(ErrorCode::Internal, "x")).unwrap();
        assert_eq!(ServerAuthMsg::decode(codec, &core).unwrap(), ServerAuthMsg::error(ErrorCode::Internal, "x"));
        let bytes = register("alice", "pw").encode(codec).unwrap();
        assert_eq!(ClientAuthMsg::decode(codec, &bytes).unwrap(), register("alice", "pw"));
    }
}

#[tokio::test]
async fn register_after_authentication_is_refused_and_the_session_goes_on() {
    let (server, _journal) = TestServer::memory(config()).await;
    for codec in [Codec::Json, Codec::MsgPack] {
        let mut client = server.client("frank", codec).await;
        let bytes = register("bob", "secret").encode(codec).unwrap();
        client.send_raw(client.frame(bytes)).await;
        let code = client
            .until(|m| match m {
                ServerMsg::Error { code, .. } => Some(*code),
                _ => None,
            })
            .await;
        assert_eq!(code, ErrorCode::InvalidRequest);
        client.join("group:lobby").await;
    }
}

/// Logout: `close_login` ends every socket of one login, whether it signed in with a first
/// frame (password or token) or during the upgrade (cookie), and no other.
#[tokio::test]
async fn close_login_closes_every_socket_of_that_login_and_only_those() {
    let (server, _journal) = TestServer::memory(config()).await;
    let mut by_password = Client::open(server.addr, None, Codec::Json, None).await;
    let token = sign_in(&mut by_password, register("grace", "secret"), "grace").await.unwrap();
    let mut by_token = Client::open(server.addr, None, Codec::MsgPack, None).await;
    sign_in(&mut by_token, ClientAuthMsg::Register(Register::token(&token)), "grace").await;
    let mut by_cookie = server.client_at(&format!("user=grace&login={token}"), "grace", Codec::Json).await;
    let mut other_login = server.client_at("user=grace&login=laptop", "grace", Codec::Json).await;
    other_login.join("group:lobby").await;

    assert_eq!(server.hub.close_login(&LoginId::new(&token)), 3);
    assert_eq!(by_password.close_code().await, Some(1000));
    assert_eq!(by_token.close_code().await, Some(1000));
    assert_eq!(by_cookie.close_code().await, Some(1000));
    // The other login of the same user is untouched.
    let (_, duplicate) = other_login.send_acked("group:lobby", "still here", None).await;
    assert!(!duplicate);
    assert_eq!(server.hub.close_login(&LoginId::new("nobody")), 0);
}

/// A socket that authenticated just before the logout but connects after it is closed too.
#[tokio::test]
async fn a_session_connecting_after_close_login_is_closed_at_once() {
    let (server, _journal) = TestServer::memory(config()).await;
    let login = LoginId::new("tok-heidi");
    assert_eq!(server.hub.close_login(&login), 0);
    let user: chat_core::UserName = "heidi".parse().unwrap();
    let mut link = server.hub.connect_as(Identity::login(user.clone(), login)).await.unwrap();
    match link.recv().await {
        SessionEvent::Close(notice) => assert_eq!(notice.code, 1000),
        other => panic!("expected a close, got {other:?}"),
    }
    // Another login of the same user connects normally.
    let mut other = server.hub.connect_as(Identity::login(user, LoginId::new("tok-other"))).await.unwrap();
    match other.recv().await {
        SessionEvent::Frame(frame) => assert!(matches!(frame.msg(), ServerMsg::Connected { .. })),
        other => panic!("expected connected, got {other:?}"),
    }
}
