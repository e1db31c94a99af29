use chat_core::{ClientMsg, Codec, ErrorCode, ServerMsg};

use crate::support::{Client, TestServer, config};

fn register(username: &str, password: &str) -> ClientMsg {
    ClientMsg::Register { username: Some(username.into()), password: Some(password.into()), token: None }
}

#[tokio::test]
async fn first_frame_register_authenticates_then_connects() {
    let (server, _journal) = TestServer::memory(config()).await;
    for codec in [Codec::Json, Codec::MsgPack] {
        let mut client = Client::open(server.addr, None, codec, None).await;
        // Anything but register first is refused.
        client.send(&ClientMsg::ListRooms).await;
        assert!(matches!(client.recv().await, ServerMsg::Error { code: ErrorCode::Unauthorized, .. }));
        // A wrong password is refused; the client may try again.
        client.send(&register("dave", "wrong")).await;
        assert!(matches!(client.recv().await, ServerMsg::Error { code: ErrorCode::BadCredentials, .. }));
        client.send(&register("Dave", "secret")).await;
        match client.recv().await {
            ServerMsg::Registered { username, token } => {
                assert_eq!(username.as_str(), "dave");
                assert_eq!(token.as_deref(), Some("tok-dave"));
            }
            other => panic!("expected registered, got {other:?}"),
        }
        match client.recv().await {
            ServerMsg::Connected { username, .. } => assert_eq!(username.as_str(), "dave"),
            other => panic!("expected connected, got {other:?}"),
        }
        client.join("group:lobby").await;
    }
}

#[tokio::test]
async fn too_many_failed_registers_close_with_1008() {
    let (server, _journal) = TestServer::memory(config()).await;
    let mut client = Client::open(server.addr, None, Codec::Json, None).await;
    for _ in 0..3 {
        client.send(&register("eve", "nope")).await;
    }
    assert_eq!(client.close_code().await, Some(1008));
    assert_eq!(server.hub.metrics().connections, 0);
}
