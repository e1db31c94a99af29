//! Stable error codes for refusals sent to clients.

use serde::{Deserialize, Serialize};

/// Why a frame or request was refused. Serialised in snake_case; codes never change meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The frame could not be decoded (bad JSON/MessagePack, missing or mistyped field).
    InvalidFrame,
    /// The frame's `type` is not known.
    UnknownType,
    /// A field has an invalid value (limit out of range, bad client id, …).
    InvalidRequest,
    /// The room reference is malformed.
    InvalidRoom,
    /// A user name is malformed.
    InvalidUsername,
    /// No such user.
    UnknownUser,
    /// No such room (or not one the caller may know of).
    RoomNotFound,
    /// The caller is not a member of the room.
    NotAMember,
    /// The caller may not do this (not the owner, invite-only room, someone else's DM).
    Forbidden,
    /// A room with this name exists.
    RoomExists,
    /// DMs cannot be left.
    CannotLeaveDm,
    /// The owner of a private room cannot leave it.
    OwnerCannotLeave,
    /// The message is empty or only whitespace.
    EmptyMessage,
    /// The message is longer than the limit.
    MessageTooLong,
    /// Too many requests; slow down.
    RateLimited,
    /// The room has as many members as allowed.
    RoomFull,
    /// History could not be read; try again.
    HistoryUnavailable,
    /// The operation is not available on this transport (for example `history` over REST).
    Unsupported,
    /// The message holds a control character the server refuses (see docs/protocol.md).
    InvalidContent,
    /// The user is already a member of the room.
    AlreadyMember,
    /// The user already has a pending invitation to the room.
    AlreadyInvited,
    /// There is no pending invitation to accept or decline.
    NoInvitation,
    /// The invitee has as many pending invitations as allowed.
    TooManyInvitations,
    /// The user is a member of as many rooms as allowed.
    TooManyRooms,
    /// The user has as many live sessions as allowed.
    TooManySessions,
    /// The message is not the caller's (only its sender edits it).
    NotAuthor,
    /// No message with that `seq` in the room.
    MessageNotFound,
    /// The message is deleted (it cannot be edited or reacted to).
    MessageDeleted,
    /// The message has as many distinct reactions as allowed, or the caller as many reactions
    /// on it as allowed.
    TooManyReactions,
    /// The message is older than the edit window.
    EditWindowPassed,
    /// The reaction is not one emoji.
    InvalidEmoji,
    /// A `search` the index refused (bad syntax, too long, a cursor it did not hand out).
    InvalidQuery,
    /// This server has no search index, or it failed; try again later.
    SearchUnavailable,
    /// The caller has as many searches in flight as allowed.
    TooManySearches,
    /// A `send_message` names an attachment the sender did not upload (or that is gone).
    AttachmentNotFound,
    /// A `send_message` names more attachments than allowed, or one twice.
    TooManyAttachments,
    /// This server stores no attachments, or its attachment store failed.
    AttachmentsUnavailable,
    /// Something failed on the server; nothing was changed.
    Internal,
}

impl ErrorCode {
    /// The code as its wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidFrame => "invalid_frame",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidRoom => "invalid_room",
            ErrorCode::InvalidUsername => "invalid_username",
            ErrorCode::UnknownUser => "unknown_user",
            ErrorCode::RoomNotFound => "room_not_found",
            ErrorCode::NotAMember => "not_a_member",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::RoomExists => "room_exists",
            ErrorCode::CannotLeaveDm => "cannot_leave_dm",
            ErrorCode::OwnerCannotLeave => "owner_cannot_leave",
            ErrorCode::EmptyMessage => "empty_message",
            ErrorCode::MessageTooLong => "message_too_long",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::RoomFull => "room_full",
            ErrorCode::HistoryUnavailable => "history_unavailable",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::InvalidContent => "invalid_content",
            ErrorCode::AlreadyMember => "already_member",
            ErrorCode::AlreadyInvited => "already_invited",
            ErrorCode::NoInvitation => "no_invitation",
            ErrorCode::TooManyInvitations => "too_many_invitations",
            ErrorCode::TooManyRooms => "too_many_rooms",
            ErrorCode::TooManySessions => "too_many_sessions",
            ErrorCode::NotAuthor => "not_author",
            ErrorCode::MessageNotFound => "message_not_found",
            ErrorCode::MessageDeleted => "message_deleted",
            ErrorCode::TooManyReactions => "too_many_reactions",
            ErrorCode::EditWindowPassed => "edit_window_passed",
            ErrorCode::InvalidEmoji => "invalid_emoji",
            ErrorCode::InvalidQuery => "invalid_query",
            ErrorCode::SearchUnavailable => "search_unavailable",
            ErrorCode::TooManySearches => "too_many_searches",
            ErrorCode::AttachmentNotFound => "attachment_not_found",
            ErrorCode::TooManyAttachments => "too_many_attachments",
            ErrorCode::AttachmentsUnavailable => "attachments_unavailable",
            ErrorCode::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
