//! Messages with attachments: the core checks the frame (how many, no id twice, the room and
//! membership), asks the driver to resolve the ids ([`Output::ResolveAttachments`]: the driver's
//! store knows who uploaded what), and when [`Input::AttachmentsResolved`] answers with exactly
//! the attachments asked for, sends the message as any other, with their metadata. The bytes
//! never reach the core.

use super::messages::Quote;
use super::{Caller, Chat, LoadId, Output, Refusal};
use crate::attachment::{Attachment, AttachmentId, ResolveError};
use crate::error::ErrorCode;
use crate::hash::FxHashMap;
use crate::name::UserName;
use crate::room::RoomRef;

/// The attachments of a `send_message`: ids as sent (none for most messages), or resolved.
#[derive(Debug, Clone)]
pub(crate) enum Attach {
    Ids(Vec<AttachmentId>),
    Resolved(Vec<Attachment>),
}

impl Attach {
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Attach::Ids(ids) => ids.is_empty(),
            Attach::Resolved(list) => list.is_empty(),
        }
    }
}

/// A `send_message` waiting for its attachments.
#[derive(Debug)]
pub(crate) struct PendingSend {
    caller: Caller,
    user: UserName,
    room: RoomRef,
    content: String,
    client_id: Option<String>,
    quote: Option<Quote>,
    ids: Vec<AttachmentId>,
}

/// Resolutions in flight. Each is bounded by the send rate limit that admitted its frame.
#[derive(Debug, Default)]
pub(crate) struct Resolving {
    pending: FxHashMap<LoadId, PendingSend>,
}

impl Chat {
    /// Refuses a list of ids the driver need not even see: too many, or one twice.
    pub(super) fn check_attachment_ids(&self, ids: &[AttachmentId]) -> Result<(), Refusal> {
        let max = self.config.max_attachments_per_message;
        if ids.len() > max {
            return Err(Refusal::new(ErrorCode::TooManyAttachments, format!("at most {max} attachments per message")));
        }
        if ids.iter().enumerate().any(|(i, id)| ids[..i].contains(id)) {
            return Err(Refusal::new(ErrorCode::TooManyAttachments, "an attachment is listed twice"));
        }
        Ok(())
    }

    /// Asks the driver to resolve the ids of a checked `send_message`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn start_resolving(
        &mut self,
        caller: Caller,
        user: &UserName,
        room: RoomRef,
        content: String,
        client_id: Option<String>,
        quote: Option<Quote>,
        ids: Vec<AttachmentId>,
    ) {
        let load = self.loads.mint();
        let pending = PendingSend { caller, user: user.clone(), room, content, client_id, quote, ids: ids.clone() };
        self.resolving.pending.insert(load, pending);
        self.outputs.push_back(Output::ResolveAttachments { load, user: user.clone(), ids });
    }

    /// The driver's answer: send the message with exactly the attachments asked for, or refuse.
    pub(super) fn attachments_resolved(&mut self, load: LoadId, result: Result<Vec<Attachment>, ResolveError>) {
        let Some(p) = self.resolving.pending.remove(&load) else { return };
        if let Caller::Session(session) = p.caller
            && !self.sessions.contains_key(&session)
        {
            return;
        }
        let client_id = p.client_id.clone();
        let refuse = |code, message: String| Err(Refusal::new(code, message).client_id(client_id));
        let answer = match result {
            Ok(list) if list.len() == p.ids.len() && list.iter().zip(&p.ids).all(|(a, id)| a.id == *id) => {
                self.send(p.caller, &p.user, &p.room, p.content, p.client_id, p.quote, Attach::Resolved(list))
            }
            Ok(_) => refuse(ErrorCode::Internal, "the attachment store answered other files".into()),
            Err(ResolveError::NotFound) => {
                refuse(ErrorCode::AttachmentNotFound, "an attachment is not one you uploaded".into())
            }
            Err(e) => refuse(ErrorCode::AttachmentsUnavailable, e.to_string()),
        };
        self.answer(p.caller, answer);
    }
}
