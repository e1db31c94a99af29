//! chat-core integration tests, one binary; a module per area.

mod sim; // the virtual-time simulator every scenario runs on

mod codec; // wire codecs
mod corpus; // replays every fuzz corpus file
mod history; // history pages and resume
mod limits; // rate limits and abuse
mod messaging; // seq, limits, idempotency, mentions
mod model; // model-based property tests against a naive reference
mod notifications; // the inbox and its count
mod presence; // presence and typing
mod readme; // the README's embed snippet stays the tested one
mod rooms; // public, private and DM rooms
mod unread; // unread/highlight counts, cursors, receipts
