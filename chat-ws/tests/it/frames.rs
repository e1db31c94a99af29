use chat_core::{ClientMsg, Codec, ErrorCode, ServerMsg};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::{Bytes, Message};

use crate::support::{Client, TestServer, config};

/// A server with a small frame limit, plus a bystander in the lobby.
async fn setup() -> (TestServer, Client) {
    let mut config = config();
    config.limits.max_frame_bytes = 1024;
    config.limits.max_message_bytes = 1024;
    let (server, _journal) = TestServer::memory(config).await;
    let mut bystander = server.client("bystander", Codec::Json).await;
    bystander.join("group:lobby").await;
    (server, bystander)
}

/// The server still serves others after a misbehaving client.
async fn still_serving(bystander: &mut Client, content: &str) {
    let (_, duplicate) = bystander.send_acked("group:lobby", content, None).await;
    assert!(!duplicate);
    assert_eq!(bystander.next_message().await.content, content);
}

#[tokio::test]
async fn oversize_frame_closes_with_1009() {
    let (server, mut bystander) = setup().await;
    let mut client = server.client("mallory", Codec::Json).await;
    client.send_raw(Message::Text("x".repeat(4096).into())).await;
    assert_eq!(client.close_code().await, Some(1009));
    still_serving(&mut bystander, "after oversize").await;
}

#[tokio::test]
async fn invalid_utf8_closes_with_1007() {
    let (server, mut bystander) = setup().await;
    let mut client = server.client("mallory", Codec::Json).await;
    let frame = Frame::message(Bytes::from_static(&[b'{', 0xff, 0xfe, b'}']), OpCode::Data(Data::Text), true);
    client.send_raw(Message::Frame(frame)).await;
    assert_eq!(client.close_code().await, Some(1007));
    still_serving(&mut bystander, "after bad utf-8").await;
}

#[tokio::test]
async fn binary_frame_on_json_closes_with_1003() {
    let (server, mut bystander) = setup().await;
    let mut client = server.client("mallory", Codec::Json).await;
    client.send_raw(Message::Binary(Bytes::from_static(b"\x81\xa4type\xaalist_rooms"))).await;
    assert_eq!(client.close_code().await, Some(1003));
    still_serving(&mut bystander, "after binary on json").await;
}

#[tokio::test]
async fn text_frame_on_msgpack_closes_with_1003() {
    let (server, mut bystander) = setup().await;
    let mut client = server.client("mallory", Codec::MsgPack).await;
    client.send_raw(Message::Text(r#"{"type":"list_rooms"}"#.into())).await;
    assert_eq!(client.close_code().await, Some(1003));
    still_serving(&mut bystander, "after text on msgpack").await;
}

#[tokio::test]
async fn non_object_and_unknown_type_get_error_events_and_stay_open() {
    let (server, mut bystander) = setup().await;
    let mut client = server.client("mallory", Codec::Json).await;
    let error_code = |m: &ServerMsg| match m {
        ServerMsg::Error { code, .. } => Some(*code),
        _ => None,
    };

    client.send_raw(Message::Text("[1,2,3]".into())).await;
    assert_eq!(client.until(error_code).await, ErrorCode::InvalidFrame);
    client.send_raw(Message::Text("not json at all".into())).await;
    assert_eq!(client.until(error_code).await, ErrorCode::InvalidFrame);
    client.send_raw(Message::Text(r#"{"type":"teleport","to":"mars"}"#.into())).await;
    assert_eq!(client.until(error_code).await, ErrorCode::UnknownType);
    client.send_raw(Message::Text(r#"{"type":"send_message"}"#.into())).await;
    assert_eq!(client.until(error_code).await, ErrorCode::InvalidFrame);

    // The same connection still works.
    client.send(&ClientMsg::ListRooms(Default::default())).await;
    client.until(|m| matches!(m, ServerMsg::RoomList { .. }).then_some(())).await;
    still_serving(&mut bystander, "after bad json").await;
}

#[tokio::test]
async fn msgpack_unknown_type_gets_an_error_event() {
    let (server, _bystander) = setup().await;
    let mut client = server.client("mallory", Codec::MsgPack).await;
    // {"type": "teleport"} in MessagePack.
    client.send_raw(Message::Binary(Bytes::from_static(b"\x81\xa4type\xa8teleport"))).await;
    let code = client
        .until(|m| match m {
            ServerMsg::Error { code, .. } => Some(*code),
            _ => None,
        })
        .await;
    assert_eq!(code, ErrorCode::UnknownType);
    client.send(&ClientMsg::ListUsers(Default::default())).await;
    client.until(|m| matches!(m, ServerMsg::UserList { .. }).then_some(())).await;
}

#[tokio::test]
async fn a_ping_flood_closes_with_1008() {
    let (server, mut bystander) = setup().await;
    let mut client = server.client("pinger", Codec::Json).await;
    for _ in 0..100 {
        client.send_raw(Message::Ping(Bytes::from_static(b"hi"))).await;
    }
    assert_eq!(client.close_code().await, Some(1008));
    still_serving(&mut bystander, "after a ping flood").await;
}
