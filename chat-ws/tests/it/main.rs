//! Integration tests of chat-ws: a real tokio-tungstenite server and clients over loopback.

/// Test server (accept loop + subprotocol negotiation), test clients, a shared journal.
mod support;

/// First-frame authentication.
mod auth;
/// Join, send and receive in both codecs; idempotent retries; reconnect and resume.
mod delivery;
/// Slow consumers, commit failures, kick, idle timeout.
mod failure;
/// Bad frames: close codes and `error` events, while others keep being served.
mod frames;
/// The search seam: fed after commits, answers checked by the core.
mod search;
/// Graceful shutdown and durability across a restart.
mod shutdown;
