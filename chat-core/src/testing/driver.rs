//! The driver conformance check: a driver of your own against the five rules of the driver
//! contract (crate docs), by running a fixed script through it and through [`ReferenceDriver`]
//! (the contract applied through [`Chat::drain`] and [`Drain::commit`](crate::Drain::commit)).
//!
//! The check owns the journal ([`CheckedJournal`], handed to your driver) and the world your
//! driver carries outputs out to ([`World`]). It checks
//! 1. **order**: what the driver carries out, step by step, equals what the reference carries
//!    out (deliveries with their recipients, replies, closes), also for batched inputs;
//! 2. **durability before delivery**: every message and ack delivered or replied is already
//!    committed to the journal when it is carried out;
//! 3. **restore on commit failure**: after a failed append nothing more is carried out but closes
//!    of every session, and the driver's chat then equals the journal's snapshot, with no session;
//! 4. **tick**: told that time reached `poll_timeout`, the driver ticks (typing expires);
//! 5. **time never goes back**: the driver passes the time it is given, also an earlier one (the
//!    core clamps it), and its messages carry the reference's timestamps.
//!
//! A broken rule panics with `driver conformance: rule N (NAME) broken at step `STEP`: WHAT`.
//!
//! ```
//! use chat_core::testing::driver::{ReferenceDriver, driver_conformance};
//!
//! driver_conformance(ReferenceDriver::new);
//! ```

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::sim::{join, room, send, user};
use crate::journal::MemoryJournalError;
use crate::{
    Chat, ClientMsg, Config, HistoryQuery, Input, Journal, LoadError, LogEntry, MemoryJournal, Message, Output,
    RequestId, ServerMsg, SessionId, Snapshot, Timestamp,
};

/// A driver, as the check drives it.
pub trait Driver {
    /// These inputs happened at `now`, in this order: handle them (batched as the driver likes)
    /// and run until quiescent: commit, carry the outputs out to `world`, answer history loads
    /// from the journal after the commit, drain again.
    fn handle(&mut self, now: Timestamp, inputs: Vec<Input>, world: &mut World);

    /// Time reached `now` and nothing happened: tick if the chat's `poll_timeout` is due, and run
    /// until quiescent.
    fn advance(&mut self, now: Timestamp, world: &mut World);

    /// The driver's chat (the check compares it with the journal after a failed commit).
    fn chat(&self) -> &Chat;
}

/// The journal the check gives a driver: a [`MemoryJournal`] the check can see into and make
/// fail. Clones share it.
#[derive(Debug, Clone, Default)]
pub struct CheckedJournal(Arc<Mutex<Journaled>>);

#[derive(Debug, Default)]
struct Journaled {
    journal: MemoryJournal,
    /// Appends that failed so far.
    failures: u32,
}

impl CheckedJournal {
    fn lock(&self) -> MutexGuard<'_, Journaled> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn committed(&self, room: &crate::RoomKey, seq: u64) -> bool {
        self.lock()
            .journal
            .entries()
            .iter()
            .any(|e| matches!(e, LogEntry::Message(m) if &m.room == room && m.seq == seq))
    }
}

impl Journal for CheckedJournal {
    type Error = MemoryJournalError;

    fn append(&mut self, entries: &[LogEntry]) -> Result<(), MemoryJournalError> {
        let mut inner = self.lock();
        let result = inner.journal.append(entries);
        inner.failures += u32::from(result.is_err());
        result
    }

    fn snapshot(&self) -> Result<Snapshot, MemoryJournalError> {
        self.lock().journal.snapshot()
    }

    fn history(&self, query: &HistoryQuery) -> Result<Vec<Message>, MemoryJournalError> {
        self.lock().journal.history(query)
    }
}

/// What a driver carried out, as the check records it.
#[derive(Debug, Clone, PartialEq)]
enum Done {
    Deliver(Vec<SessionId>, ServerMsg),
    Reply(RequestId, ServerMsg),
    Close(SessionId),
}

/// Where a driver carries outputs out to: the sessions and REST callers of the check.
#[derive(Debug)]
pub struct World {
    journal: CheckedJournal,
    done: Vec<Done>,
    /// Failed appends already accounted for.
    failures: u32,
    /// Sessions a failed commit obliges the driver to close; while any is left, nothing else may
    /// be carried out.
    to_close: BTreeSet<SessionId>,
    live: BTreeSet<SessionId>,
    step: &'static str,
}

fn broken(rule: u8, step: &str, what: impl std::fmt::Display) -> ! {
    let name = ["order", "durability before delivery", "restore on commit failure", "tick", "time never goes back"]
        [usize::from(rule - 1)];
    panic!("driver conformance: rule {rule} ({name}) broken at step `{step}`: {what}")
}

impl World {
    fn new(journal: CheckedJournal) -> World {
        World { journal, done: Vec::new(), failures: 0, to_close: BTreeSet::new(), live: BTreeSet::new(), step: "" }
    }

    /// Before carrying anything else out: a new failed append obliges the driver to close every
    /// session first.
    fn before_output(&mut self, what: &dyn std::fmt::Debug) {
        self.refresh();
        if !self.to_close.is_empty() {
            broken(
                3,
                self.step,
                format_args!("carried out {what:?} after a failed commit, before closing every session"),
            );
        }
    }

    /// A failed append since the last look obliges the driver to close every live session.
    fn refresh(&mut self) {
        let failures = self.journal.lock().failures;
        if failures > self.failures {
            self.failures = failures;
            self.to_close = self.live.clone();
        }
    }

    fn check_durable(&self, msg: &ServerMsg) {
        let (room, seq) = match msg {
            ServerMsg::Message(m) => (&m.room, m.seq),
            ServerMsg::Ack { room, seq, .. } => (room, *seq),
            _ => return,
        };
        if !self.journal.committed(room, seq) {
            broken(2, self.step, format_args!("{room}#{seq} carried out before it was committed"));
        }
    }

    /// Delivers `msg` to `sessions`.
    pub fn deliver(&mut self, sessions: &[SessionId], msg: &ServerMsg) {
        self.before_output(msg);
        self.check_durable(msg);
        self.done.push(Done::Deliver(sessions.to_vec(), msg.clone()));
    }

    /// Answers a sessionless request.
    pub fn reply(&mut self, request: RequestId, msg: &ServerMsg) {
        self.before_output(msg);
        self.check_durable(msg);
        self.done.push(Done::Reply(request, msg.clone()));
    }

    /// Closes a session (the core asked to, or the driver restored after a failed commit).
    pub fn close(&mut self, session: SessionId) {
        self.refresh();
        self.to_close.remove(&session);
        self.live.remove(&session);
        self.done.push(Done::Close(session));
    }
}

/// The reference: a sync driver that follows the contract through [`Chat::drain`] and
/// [`Drain::commit`](crate::Drain::commit). Also the shape to copy for a driver of your own.
#[derive(Debug)]
pub struct ReferenceDriver {
    chat: Chat,
    config: Config,
    journal: CheckedJournal,
    /// Sessions the driver has open.
    sessions: BTreeSet<SessionId>,
}

impl ReferenceDriver {
    /// A driver on `journal`, starting from its snapshot.
    pub fn new(config: Config, journal: CheckedJournal) -> ReferenceDriver {
        let snapshot = journal.snapshot().expect("the checked journal reads");
        ReferenceDriver { chat: Chat::restore(config.clone(), snapshot), config, journal, sessions: BTreeSet::new() }
    }

    fn run(&mut self, now: Timestamp, world: &mut World) {
        loop {
            let drain = self.chat.drain();
            if drain.is_empty() {
                return;
            }
            // Rule 2: one group commit, then the rest in order. Rule 3 on failure.
            let Ok(rest) = drain.commit(&mut self.journal) else {
                let snapshot = self.journal.snapshot().expect("the checked journal reads");
                self.chat = Chat::restore(self.config.clone(), snapshot);
                for session in std::mem::take(&mut self.sessions) {
                    world.close(session);
                }
                return;
            };
            let mut loads = Vec::new();
            let mut searches = Vec::new();
            for output in rest {
                match output {
                    Output::Deliver { sessions, msg } => world.deliver(&sessions, &msg),
                    Output::Reply { request, msg } => world.reply(request, &msg),
                    Output::Load { load, query } => loads.push((load, query)),
                    Output::Search { load, rooms, query, .. } => searches.push((load, rooms, query)),
                    // The reference driver stores no files.
                    Output::ResolveAttachments { load, .. } => {
                        let result = Err(crate::attachment::ResolveError::Unavailable("no attachment store".into()));
                        self.chat.handle(now, Input::AttachmentsResolved { load, result });
                    }
                    Output::Close { session, .. } => {
                        self.sessions.remove(&session);
                        world.close(session);
                        self.chat.handle(now, Input::Disconnect { session });
                    }
                    _ => {}
                }
            }
            for (load, query) in loads {
                let result = self.journal.history(&query).map_err(LoadError::journal);
                self.chat.handle(now, Input::Loaded { load, result });
            }
            for (load, rooms, query) in searches {
                let result = super::sim::naive_search(&self.journal, &rooms, &query);
                self.chat.handle(now, Input::Searched { load, result });
            }
        }
    }
}

impl Driver for ReferenceDriver {
    fn handle(&mut self, now: Timestamp, inputs: Vec<Input>, world: &mut World) {
        for input in inputs {
            match &input {
                Input::Connect { session, .. } => {
                    self.sessions.insert(*session);
                }
                Input::Disconnect { session } => {
                    self.sessions.remove(session);
                }
                _ => {}
            }
            self.chat.handle(now, input); // rule 1: in order, one drain for the batch
        }
        self.run(now, world);
    }

    fn advance(&mut self, now: Timestamp, world: &mut World) {
        if self.chat.poll_timeout().is_some_and(|deadline| deadline <= now) {
            self.chat.handle(now, Input::Tick); // rule 4
            self.run(now, world);
        }
    }

    fn chat(&self) -> &Chat {
        &self.chat
    }
}

/// One step of the script.
enum Step {
    Inputs(Timestamp, Vec<Input>),
    /// Advance to every deadline up to this time, then to it.
    AdvanceTo(Timestamp),
    FailNextAppend,
}

fn script() -> Vec<(&'static str, u8, Step)> {
    let t0 = super::sim::START;
    let (a, b, a2, b2) = (SessionId(1), SessionId(2), SessionId(3), SessionId(4));
    let receive = |session, msg| Input::Receive { session, msg };
    let with_id = |content: &str, id: &str| ClientMsg::SendMessage {
        attachments: Vec::new(),
        room: room("group:lobby"),
        content: content.into(),
        client_id: Some(id.into()),
        reply_to: None,
    };
    let history =
        || ClientMsg::History { room: room("group:lobby"), before: None, after: None, limit: Some(10), around: None };
    vec![
        (
            "connect and join, batched",
            1,
            Step::Inputs(
                t0,
                vec![
                    Input::Connect { session: a, user: user("alice") },
                    Input::Connect { session: b, user: user("bob") },
                    receive(a, join("group:lobby")),
                    receive(b, join("group:lobby")),
                ],
            ),
        ),
        ("a message with a mention", 2, Step::Inputs(t0.plus_millis(10), vec![receive(a, with_id("hi @bob", "c1"))])),
        (
            "read, history (a load) and typing",
            1,
            Step::Inputs(
                t0.plus_millis(20),
                vec![
                    receive(b, ClientMsg::MarkRead { room: room("group:lobby"), seq: None }),
                    receive(b, history()),
                    receive(a, ClientMsg::Typing { room: room("group:lobby"), active: true }),
                ],
            ),
        ),
        ("typing expires", 4, Step::AdvanceTo(t0.plus_millis(20_000))),
        ("the clock goes back", 5, Step::Inputs(t0, vec![receive(b, send("group:lobby", "earlier?"))])),
        ("a commit fails", 3, Step::FailNextAppend),
        ("the failed send", 3, Step::Inputs(t0.plus_millis(30_000), vec![receive(a, with_id("lost?", "c2"))])),
        (
            "reconnect and retry",
            1,
            Step::Inputs(
                t0.plus_millis(31_000),
                vec![
                    Input::Connect { session: a2, user: user("alice") },
                    Input::Connect { session: b2, user: user("bob") },
                    receive(a2, with_id("lost?", "c2")),
                    receive(a2, with_id("hi @bob", "c1")),
                    receive(b2, history()),
                ],
            ),
        ),
        (
            "a REST request",
            2,
            Step::Inputs(
                t0.plus_millis(32_000),
                vec![Input::Request {
                    request: RequestId(1),
                    user: user("carol"),
                    msg: ClientMsg::SendMessage {
                        attachments: Vec::new(),
                        room: room("dm:alice:carol"),
                        content: "@alice over REST".into(),
                        client_id: None,
                        reply_to: None,
                    },
                }],
            ),
        ),
    ]
}

/// What one driver carried out, per step.
fn play<D: Driver>(make: &impl Fn(Config, CheckedJournal) -> D) -> Vec<Vec<Done>> {
    let journal = CheckedJournal::default();
    let mut driver = make(Config::default(), journal.clone());
    let mut world = World::new(journal.clone());
    let mut per_step = Vec::new();
    for (name, rule, step) in script() {
        world.step = name;
        let arm = matches!(step, Step::FailNextAppend);
        match step {
            Step::Inputs(now, inputs) => {
                for input in &inputs {
                    match input {
                        Input::Connect { session, .. } => world.live.insert(*session),
                        Input::Disconnect { session } => world.live.remove(session),
                        _ => false,
                    };
                }
                driver.handle(now, inputs, &mut world);
            }
            Step::AdvanceTo(target) => {
                while let Some(deadline) = driver.chat().poll_timeout().filter(|d| *d <= target) {
                    driver.advance(deadline, &mut world);
                    if driver.chat().poll_timeout() == Some(deadline) {
                        broken(
                            rule,
                            name,
                            format_args!("told that time reached the deadline {deadline:?}, it did not tick"),
                        );
                    }
                }
                driver.advance(target, &mut world);
            }
            Step::FailNextAppend => journal.lock().journal.fail_next_appends(1),
        }
        if rule == 3 && !arm {
            world.refresh();
            let held = journal.snapshot().expect("the checked journal reads");
            if !world.to_close.is_empty() {
                broken(3, name, format_args!("sessions {:?} not closed after a failed commit", world.to_close));
            }
            if &held != driver.chat().snapshot() {
                broken(3, name, "after a failed commit the chat is not restored from the journal's snapshot");
            }
            if driver.chat().session_count() != 0 {
                broken(3, name, "after a failed commit the restored chat still has sessions");
            }
        }
        per_step.push(std::mem::take(&mut world.done));
    }
    per_step
}

/// Closes of one restore may come in any order.
fn normalised(mut done: Vec<Done>) -> Vec<Done> {
    let mut i = 0;
    while i < done.len() {
        let run = done[i..].iter().take_while(|d| matches!(d, Done::Close(_))).count();
        done[i..i + run].sort_by_key(|d| match d {
            Done::Close(s) => *s,
            _ => unreachable!(),
        });
        i += run.max(1);
    }
    done
}

/// Runs the script through the driver `make` builds (from a config and the journal it must
/// use) and through [`ReferenceDriver`]; panics naming the first broken rule.
pub fn driver_conformance<D: Driver>(make: impl Fn(Config, CheckedJournal) -> D) {
    let want = play(&ReferenceDriver::new);
    let got = play(&make);
    for (((name, rule, _), got), want) in script().into_iter().zip(got).zip(want) {
        let (got, want) = (normalised(got), normalised(want));
        if got != want {
            let at = got.iter().zip(&want).position(|(g, w)| g != w).unwrap_or(got.len().min(want.len()));
            // A difference is an order problem unless the step is about ticks or time.
            broken(
                if matches!(rule, 4 | 5) { rule } else { 1 },
                name,
                format_args!(
                    "carried out {} outputs, the reference {}; the first difference, at {at}: {:?} instead of {:?}",
                    got.len(),
                    want.len(),
                    got.get(at),
                    want.get(at)
                ),
            );
        }
    }
}
