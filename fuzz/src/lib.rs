//! Fuzz harnesses for the chat engine. Each lives in `fuzz/harness/` so that `chat-core`'s
//! stable test suite can include the same file and replay the committed corpus through the same
//! checks (`chat-core/tests/it/corpus.rs`).
#![forbid(unsafe_code)]

#[path = "../harness/core_ops.rs"]
pub mod core_ops;
#[path = "../harness/decode_client.rs"]
pub mod decode_client;
#[path = "../harness/inputs.rs"]
pub mod inputs;
#[path = "../harness/mention.rs"]
pub mod mention;
#[path = "../harness/model_ops.rs"]
pub mod model_ops;
#[path = "../harness/store.rs"]
pub mod store;
