//! Harness for the `decode_client` fuzz target (also replayed by `chat-core`'s corpus test).
//!
//! Property: any byte string fed to either codec's `decode_client` either fails with a stable
//! code (`invalid_frame` / `unknown_type`) or yields a `ClientMsg` that re-encodes (in both
//! codecs) and decodes back to an equal value. Never a panic.

use chat_core::{Codec, ErrorCode};

/// Checks one input against both codecs.
pub fn check(data: &[u8]) {
    for codec in [Codec::Json, Codec::MsgPack] {
        match codec.decode_client(data) {
            Ok(msg) => {
                for again in [Codec::Json, Codec::MsgPack] {
                    let bytes = again
                        .encode_client(&msg)
                        .unwrap_or_else(|e| panic!("{codec:?}-decoded {msg:?} does not encode as {again:?}: {e}"));
                    let back = again
                        .decode_client(&bytes)
                        .unwrap_or_else(|e| panic!("{msg:?} encoded as {again:?} does not decode: {e}"));
                    assert_eq!(back, msg, "{again:?} round trip changed a {codec:?}-decoded frame");
                }
            }
            Err(e) => assert!(
                matches!(e.code, ErrorCode::InvalidFrame | ErrorCode::UnknownType),
                "decode error with an unexpected code: {e:?}"
            ),
        }
    }
}
