//! Wire codecs: the seed's field names, both encodings, and clear errors.

use chat_core::{ClientMsg, Codec, ErrorCode, RoomRef, RoomType, ServerMsg};

#[test]
fn seed_style_frames_decode() {
    let frame = br#"{"type":"send_message","room_type":"group","room_name":"lobby","content":"hi"}"#;
    let msg = Codec::Json.decode_client(frame).unwrap();
    let ClientMsg::SendMessage { room, content, client_id, .. } = msg else { panic!("wrong variant") };
    assert_eq!(room.room_type, Some(RoomType::Group));
    assert_eq!(room.room_name.as_deref(), Some("lobby"));
    assert_eq!(content, "hi");
    assert_eq!(client_id, None);

    let frame = br#"{"type":"join_room","room_type":"dm","target":"bob"}"#;
    let ClientMsg::JoinRoom { room } = Codec::Json.decode_client(frame).unwrap() else { panic!() };
    assert_eq!(room.resolve(&"alice".parse().unwrap()).unwrap().to_string(), "dm:alice:bob");
}

#[test]
fn msgpack_round_trips_with_the_same_schema() {
    let msg =
        ClientMsg::MarkRead { room: RoomRef { room: Some("group:lobby".into()), ..RoomRef::default() }, seq: Some(7) };
    for codec in [Codec::Json, Codec::MsgPack] {
        let bytes = codec.encode_client(&msg).unwrap();
        assert_eq!(codec.decode_client(&bytes).unwrap(), msg);
    }
    let server = ServerMsg::error(ErrorCode::RateLimited, "slow down");
    for codec in [Codec::Json, Codec::MsgPack] {
        let bytes = codec.encode_server(&server).unwrap();
        assert_eq!(codec.decode_server(&bytes).unwrap(), server);
    }
    let json = String::from_utf8(Codec::Json.encode_server(&server).unwrap()).unwrap();
    assert_eq!(json, r#"{"type":"error","code":"rate_limited","message":"slow down"}"#);
}

#[test]
fn bad_frames_get_stable_codes() {
    let cases: [(&[u8], ErrorCode); 5] = [
        (b"not json", ErrorCode::InvalidFrame),
        (b"[1,2]", ErrorCode::InvalidFrame),
        (br#"{"type":"explode"}"#, ErrorCode::UnknownType),
        (br#"{"type":"send_message","room":"group:x"}"#, ErrorCode::InvalidFrame),
        (br#"{"content":"no type"}"#, ErrorCode::InvalidFrame),
    ];
    for (frame, code) in cases {
        assert_eq!(Codec::Json.decode_client(frame).unwrap_err().code, code, "{}", String::from_utf8_lossy(frame));
    }
    let unknown = rmp_serde::to_vec_named(&serde_json::json!({"type": "explode"})).unwrap();
    assert_eq!(Codec::MsgPack.decode_client(&unknown).unwrap_err().code, ErrorCode::UnknownType);
}
