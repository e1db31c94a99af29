//! The directory: public rooms and known users, kept sorted by name as they are created, so a
//! `list_rooms` / `list_users` page costs a binary search plus the page, never a sort of
//! everything (20,000 rooms cannot make a listing slow, nor hide `lobby` behind a cap).

use super::{Answer, Chat, Handled, Refusal};
use crate::error::ErrorCode;
use crate::log::LogEntry;
use crate::name::UserName;
use crate::protocol::{
    DEFAULT_DIRECTORY_LIMIT, DirectoryQuery, MAX_DIRECTORY_LIMIT, RoomInfo, ServerMsg, UserPresence,
};
use crate::room::{RoomKey, RoomKind};
use crate::snapshot::Snapshot;

/// Public room keys and user names, each sorted by name and without duplicates. Rooms and users
/// are never deleted, so entries are only ever inserted (when the fold creates them).
#[derive(Debug, Default)]
pub(crate) struct Directory {
    rooms: Vec<RoomKey>,
    users: Vec<UserName>,
}

impl Directory {
    /// The directory of a restored snapshot (sorted once, at start-up).
    pub(crate) fn of(state: &Snapshot) -> Directory {
        let mut rooms: Vec<RoomKey> =
            state.rooms().filter(|(_, r)| r.kind == RoomKind::Public).map(|(key, _)| key.clone()).collect();
        rooms.sort_unstable_by(|a, b| group_name(a).cmp(group_name(b)));
        let mut users: Vec<UserName> = state.users().cloned().collect();
        users.sort_unstable();
        Directory { rooms, users }
    }

    /// Records what `entry` created, once the fold has applied it to `state`.
    pub(crate) fn note(&mut self, entry: &LogEntry, state: &Snapshot) {
        match entry {
            LogEntry::RoomCreated { room, kind: RoomKind::Public, .. }
                if state.rooms.get(room).is_some_and(|r| r.kind == RoomKind::Public) =>
            {
                if let Err(at) = self.rooms.binary_search_by(|k| group_name(k).cmp(group_name(room))) {
                    self.rooms.insert(at, room.clone());
                }
            }
            LogEntry::UserAdded { user } => {
                if let Err(at) = self.users.binary_search(user) {
                    self.users.insert(at, user.clone());
                }
            }
            _ => {}
        }
    }
}

/// The entries of `sorted` (by `name`) that `page` admits, at most `page.limit + 1` of them: the
/// extra one only says that there are more.
fn window<'a, T>(sorted: &'a [T], page: &Page, name: impl Fn(&T) -> &str + Copy) -> impl Iterator<Item = &'a T> {
    let start = match &page.after {
        Some(after) if after.as_str() >= page.prefix.as_str() => sorted.partition_point(|t| name(t) <= after.as_str()),
        _ => sorted.partition_point(|t| name(t) < page.prefix.as_str()),
    };
    sorted[start..].iter().take_while(move |t| name(t).starts_with(page.prefix.as_str())).take(page.limit + 1)
}

impl Chat {
    /// A page of the public rooms, sorted by name.
    pub(super) fn room_list(&self, query: &DirectoryQuery) -> Handled {
        let page = Page::of(query, self.config.max_list_len)?;
        let mut rooms: Vec<RoomInfo> = window(&self.directory.rooms, &page, group_name)
            .filter_map(|key| {
                let r = self.state.rooms.get(key)?;
                Some(RoomInfo { room: key.clone(), members: r.members.len(), last_timestamp: r.last_timestamp })
            })
            .collect();
        let more = rooms.len() > page.limit;
        rooms.truncate(page.limit);
        let next = more.then(|| rooms.last().map(|r| group_name(&r.room).to_owned())).flatten();
        Ok(Answer::Reply(ServerMsg::RoomList { rooms, next }))
    }

    /// A page of known users, sorted by name.
    pub(super) fn user_list(&self, query: &DirectoryQuery) -> Handled {
        let page = Page::of(query, self.config.max_list_len)?;
        let mut users: Vec<UserPresence> = window(&self.directory.users, &page, UserName::as_str)
            .map(|u| UserPresence { username: u.clone(), online: self.sessions.is_online(u) })
            .collect();
        let more = users.len() > page.limit;
        users.truncate(page.limit);
        let next = more.then(|| users.last().map(|u| u.username.to_string())).flatten();
        Ok(Answer::Reply(ServerMsg::UserList { users, next }))
    }
}

/// The name part of a group room key (`lobby` for `group:lobby`).
fn group_name(key: &RoomKey) -> &str {
    match key {
        RoomKey::Group(name) => name.as_str(),
        RoomKey::Dm(..) => "",
    }
}

/// A validated directory query: names with `prefix`, after `after`, at most `limit`.
struct Page {
    prefix: String,
    after: Option<String>,
    limit: usize,
}

impl Page {
    fn of(query: &DirectoryQuery, max: usize) -> Result<Page, Refusal> {
        let max = max.min(MAX_DIRECTORY_LIMIT as usize);
        let limit = query.limit.unwrap_or(DEFAULT_DIRECTORY_LIMIT) as usize;
        if limit == 0 || limit > max {
            return Err(Refusal::new(ErrorCode::InvalidRequest, format!("limit must be 1-{max}")));
        }
        let after = query.after.as_deref().map(|a| a.strip_prefix("group:").unwrap_or(a).to_ascii_lowercase());
        let prefix = query.prefix.as_deref().unwrap_or("").to_ascii_lowercase();
        Ok(Page { prefix, after, limit })
    }
}
