//! The search seam: committed batches reach the index only after a successful commit, searches
//! run off the loop and come back through the core's membership check; no index answers
//! `search_unavailable`.

use std::sync::{Arc, Mutex};

use chat_core::testing::sim::send;
use chat_core::{
    ClientMsg, ErrorCode, LogEntry, RoomKey, SearchFailure, SearchFrame, SearchItem, SearchRequest, SearchResults,
    ServerMsg, Timestamp, UserName,
};
use chat_ws::{SearchIndex, SearchSeam, spawn_hub};
use futures::FutureExt;
use futures::future::BoxFuture;

use crate::support::{HANG_GUARD, SharedJournal, config, room};

/// What the core asked the index: who, over which rooms, for what.
type Asked = (UserName, Vec<RoomKey>, SearchRequest);

/// Records every committed message; answers every search with a hit in every room it has seen
/// (an index that ignores the rooms it is given), after checking what the core asked for.
#[derive(Clone, Default)]
struct Recording {
    messages: Arc<Mutex<Vec<(RoomKey, u64, String)>>>,
    asked: Arc<Mutex<Vec<Asked>>>,
}

impl SearchIndex for Recording {
    fn committed(&self, entries: &[LogEntry]) {
        let mut messages = self.messages.lock().unwrap();
        for entry in entries {
            if let LogEntry::Message(m) = entry {
                messages.push((m.room.clone(), m.seq, m.content.clone()));
            }
        }
    }

    fn search(
        &self,
        user: &UserName,
        rooms: Vec<RoomKey>,
        query: SearchRequest,
    ) -> BoxFuture<'static, Result<SearchResults, SearchFailure>> {
        self.asked.lock().unwrap().push((user.clone(), rooms, query));
        let items = self
            .messages
            .lock()
            .unwrap()
            .iter()
            .map(|(room, seq, content)| SearchItem {
                room: room.clone(),
                seq: *seq,
                sender: "alice".parse().unwrap(),
                timestamp: Timestamp(0),
                snippet: content.clone(),
                highlights: Vec::new(),
                cut_before: false,
                cut_after: false,
            })
            .collect();
        async move {
            tokio::task::yield_now().await; // answered later, off the loop's turn
            Ok(SearchResults { items, next: None, stale: false })
        }
        .boxed()
    }
}

fn search(query: &str) -> ClientMsg {
    ClientMsg::Search(SearchFrame { query: query.into(), ..SearchFrame::default() })
}

#[tokio::test]
async fn without_an_index_searches_are_unavailable() {
    let (hub, _task) = spawn_hub(config(), SharedJournal::default()).unwrap();
    let alice: UserName = "alice".parse().unwrap();
    let reply = tokio::time::timeout(HANG_GUARD, hub.request(alice, search("x"))).await.unwrap().unwrap();
    assert!(matches!(reply, ServerMsg::Error { code: ErrorCode::SearchUnavailable, .. }), "{reply:?}");
}

#[tokio::test]
async fn the_index_sees_committed_batches_and_hits_are_checked() {
    let index = Recording::default();
    let mut config = config();
    config.search = Some(SearchSeam::new(index.clone()));
    let journal = SharedJournal::default();
    let (hub, _task) = spawn_hub(config, journal.clone()).unwrap();
    let (alice, bob): (UserName, UserName) = ("alice".parse().unwrap(), "bob".parse().unwrap());
    let ask = |user: &UserName, msg: ClientMsg| {
        let hub = hub.clone();
        let user = user.clone();
        async move { tokio::time::timeout(HANG_GUARD, hub.request(user, msg)).await.unwrap().unwrap() }
    };
    ask(&bob, ClientMsg::JoinRoom { room: room("group:lobby") }).await;
    ask(&alice, ClientMsg::JoinRoom { room: room("group:lobby") }).await;
    ask(&alice, ClientMsg::CreateRoom { room_name: "secret".into(), private: true }).await;
    assert!(matches!(ask(&alice, send("group:lobby", "hello all")).await, ServerMsg::Ack { .. }));
    assert!(matches!(ask(&alice, send("group:secret", "hidden")).await, ServerMsg::Ack { .. }));
    // A failed commit is never fed to the index.
    journal.lock().fail_next_appends(1);
    let failed = tokio::time::timeout(HANG_GUARD, hub.request(alice.clone(), send("group:lobby", "lost"))).await;
    assert!(failed.unwrap().is_err(), "the commit failed");
    let seen: Vec<String> = index.messages.lock().unwrap().iter().map(|(_, _, c)| c.clone()).collect();
    assert_eq!(seen, ["hello all", "hidden"]);

    let reply = ask(&bob, search("anything")).await;
    let ServerMsg::SearchResults(page) = reply else { panic!("{reply:?}") };
    let rooms: Vec<String> = page.items.iter().map(|i| i.room.to_string()).collect();
    assert_eq!(rooms, ["group:lobby"], "the hidden room's hit is dropped by the core");
    let asked = index.asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 1);
    assert_eq!((&asked[0].0, asked[0].1.as_slice()), (&bob, ["group:lobby".parse::<RoomKey>().unwrap()].as_slice()));
    assert_eq!(asked[0].2.text, "anything");
}
