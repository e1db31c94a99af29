//! chat-core integration tests, one binary; a module per area.

// The virtual-time simulator every scenario runs on (`chat_core::testing::sim`).
use chat_core::testing::sim;

mod attachments; // messages with attachments: resolution by the driver, refusals, a model property
mod codec; // wire codecs
mod conformance; // the journal and driver conformance suites, on good and broken implementations
mod connect; // the bounded connect path
mod content; // refused control characters
mod corpus; // replays every fuzz corpus file
mod directory; // room and user directory, my_rooms, room_users
mod history; // history pages and resume
mod invitations; // pending invitations and the room cap
mod invitations_model; // invitations against a naive fold of the log
mod lifecycle; // edits, deletions, reactions, replies: rules, refusals and counts
mod lifecycle_model; // the lifecycle against a naive model: counts, history, fold
mod limits; // rate limits and abuse
mod messaging; // seq, limits, idempotency, mentions
mod model; // model-based property tests against a naive reference
mod names; // rules for new user and room names
mod notifications; // the inbox and its count
mod presence; // presence and typing
mod presence_model; // presence and membership deltas against the truth
mod readme; // the README's embed snippet stays the tested one
mod resume_race; // a page read before a change but delivered after it never undoes it
mod rooms; // public, private and DM rooms
mod search; // search: authorised rooms, the check on the answer, bounds; history around
mod unread; // unread/highlight counts, cursors, receipts
