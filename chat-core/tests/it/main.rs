//! chat-core integration tests, one binary; a module per area.

mod codec; // wire codecs
