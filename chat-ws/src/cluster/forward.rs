//! Forwarding between gateways and the leader over core NATS.
//!
//! A gateway (any node that does not lead) turns each session it serves into a remote session
//! of the leader: `open` (request/reply) connects it on the leader's hub, the client's frames go
//! to `lead.{epoch}.up`, the hub's events come back on the gateway's own `gw.{node}.down`, and a
//! dropped link sends a close. Subjects carry only the prefix, the epoch and node ids. Every
//! frame is numbered per session and direction: core NATS does not redeliver, so a lost frame
//! (a slow subscriber) is detected as a gap and the session is closed, and the client resumes,
//! rather than silently missing a message. A gateway beats every second; the leader ends the
//! sessions of a gateway it has not heard from for [`GATEWAY_SILENCE`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_nats::Client;
use bytes::{BufMut, Bytes, BytesMut};
use chat_core::{ClientMsg, Codec, ServerMsg, SessionId, UserName};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::{Names, SharedCounters};
use crate::auth::{Identity, LoginId};
use crate::frame::{CloseNotice, OutFrame, SessionEvent};
use crate::hub::{Command, HubError, HubHandle, Shared};
use crate::journal::JournalError;
use crate::session::{CloseSignal, SessionLink};

/// The leader ends a gateway's sessions after this long without its heartbeat.
const GATEWAY_SILENCE: Duration = Duration::from_secs(5);
/// How often a gateway beats.
const BEAT: Duration = Duration::from_secs(1);
/// How long a gateway waits for the leader to answer an open, a request or a registration.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// The leader changed (or went away): reconnect and resume, on any node (1012).
pub(crate) const LEADER_CHANGED: CloseNotice =
    CloseNotice { code: 1012, reason: "leader changed; reconnect and resume" };
/// A forwarded frame was lost on the way: reconnect and resume (1011).
const FRAME_LOST: CloseNotice = CloseNotice { code: 1011, reason: "forwarding lost a frame; reconnect and resume" };

#[derive(Debug, Serialize, Deserialize)]
struct Open {
    node: String,
    sid: u64,
    user: UserName,
    login: Option<Vec<u8>>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Up {
    node: String,
    sid: u64,
    n: u64,
    /// `None`: the session's link was dropped.
    msg: Option<ClientMsg>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Request {
    user: UserName,
    msg: ClientMsg,
    /// An administrator's request (`HubHandle::admin_request`), vouched for by the gateway's
    /// server; absent from requests of nodes that predate it.
    #[serde(default)]
    admin: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct AddUser {
    user: UserName,
}

/// A [`HubError`] on the wire.
#[derive(Debug, Serialize, Deserialize)]
enum RemoteError {
    Closed,
    ShuttingDown,
    CommitFailed(String),
}

impl From<&HubError> for RemoteError {
    fn from(error: &HubError) -> RemoteError {
        match error {
            HubError::ShuttingDown => RemoteError::ShuttingDown,
            HubError::CommitFailed(e) => RemoteError::CommitFailed(e.to_string()),
            _ => RemoteError::Closed,
        }
    }
}

/// The leader's commit failed, as a gateway reports it (the leader's error as text).
#[derive(Debug, thiserror::Error)]
#[error("the leader's commit failed: {0}")]
struct RemoteCommitFailed(String);

impl From<RemoteError> for HubError {
    fn from(error: RemoteError) -> HubError {
        match error {
            RemoteError::Closed => HubError::Closed,
            RemoteError::ShuttingDown => HubError::ShuttingDown,
            RemoteError::CommitFailed(text) => {
                HubError::CommitFailed(JournalError::Journal(Arc::new(RemoteCommitFailed(text))))
            }
        }
    }
}

fn encode<T: Serialize>(value: &T) -> Bytes {
    rmp_serde::to_vec_named(value).unwrap_or_default().into()
}

fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Option<T> {
    rmp_serde::from_slice(bytes).ok()
}

/// The kind of the unnumbered down frame a leader sends to each gateway when it steps down: close
/// every forwarded session now (clients reconnect and find the next leader).
const STEPPING_DOWN: u8 = 2;

/// A down frame: kind (0 event, 1 close, 2 stepping down), session id, number, then the msgpack
/// event or the close code and reason.
fn down_frame(kind: u8, sid: u64, n: u64, body: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(17 + body.len());
    out.put_u8(kind);
    out.put_u64(sid);
    out.put_u64(n);
    out.put_slice(body);
    out.freeze()
}

fn parse_down(bytes: &[u8]) -> Option<(u8, u64, u64, &[u8])> {
    if bytes.len() < 17 {
        return None;
    }
    let sid = u64::from_be_bytes(bytes[1..9].try_into().ok()?);
    let n = u64::from_be_bytes(bytes[9..17].try_into().ok()?);
    Some((bytes[0], sid, n, &bytes[17..]))
}

/// The notices a close can carry, so a forwarded close keeps its `&'static` reason.
fn known_notice(code: u16, reason: &str) -> CloseNotice {
    const KNOWN: [CloseNotice; 8] = [
        CloseNotice::GOING_AWAY,
        CloseNotice::SLOW_CONSUMER,
        CloseNotice::FLOODING,
        CloseNotice::TOO_MANY_SESSIONS,
        CloseNotice::POLICY,
        CloseNotice::KICKED,
        CloseNotice::COMMIT_FAILED,
        CloseNotice::IDLE,
    ];
    KNOWN
        .into_iter()
        .find(|k| k.code == code && k.reason == reason)
        .unwrap_or(CloseNotice { code, reason: "closed by the leader" })
}

/// One session this gateway forwards.
struct Remote {
    events: mpsc::Sender<Arc<OutFrame>>,
    close: Arc<CloseSignal>,
    /// The next number of a frame to the leader, and of one from it.
    up_n: u64,
    down_n: u64,
}

/// A gateway to the leader of one epoch. Dropped (and its sessions closed) when the leader
/// changes.
pub(crate) struct Gateway {
    client: Client,
    names: Names,
    node: String,
    epoch: u64,
    shared: Arc<Shared>,
    counters: SharedCounters,
    sessions: Mutex<HashMap<u64, Remote>>,
    next_sid: Arc<AtomicU64>,
    links: mpsc::Sender<Command>,
    disconnects: mpsc::UnboundedSender<SessionId>,
    queue: usize,
}

/// What a gateway's task reads: its links' frames and drops.
struct GatewayInputs {
    links: mpsc::Receiver<Command>,
    disconnects: mpsc::UnboundedReceiver<SessionId>,
}

impl Gateway {
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn start(
        client: Client,
        names: Names,
        node: String,
        epoch: u64,
        shared: Arc<Shared>,
        counters: SharedCounters,
        next_sid: Arc<AtomicU64>,
        queue: usize,
        stop: watch::Receiver<bool>,
    ) -> Result<(Arc<Gateway>, JoinHandle<()>), async_nats::SubscribeError> {
        let down = client.subscribe(names.down(&node)).await?;
        let (links, links_rx) = mpsc::channel(4096);
        let (disconnects, disconnects_rx) = mpsc::unbounded_channel();
        let gateway = Arc::new(Gateway {
            client,
            names,
            node,
            epoch,
            shared,
            counters,
            sessions: Mutex::new(HashMap::new()),
            next_sid,
            links,
            disconnects,
            queue,
        });
        let inputs = GatewayInputs { links: links_rx, disconnects: disconnects_rx };
        let task = tokio::spawn(gateway.clone().run(inputs, down, stop));
        Ok((gateway, task))
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Remote>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn run(
        self: Arc<Self>,
        mut inputs: GatewayInputs,
        mut down: async_nats::Subscriber,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut beat = tokio::time::interval(BEAT);
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                Some(cmd) = inputs.links.recv() => {
                    if let Command::Receive { session, msg } = cmd {
                        self.up(session.0, Some(msg)).await;
                    }
                }
                Some(session) = inputs.disconnects.recv() => {
                    self.up(session.0, None).await;
                    self.sessions().remove(&session.0);
                    self.shared.closers.remove(session);
                }
                Some(message) = down.next() => self.down(&message.payload),
                _ = beat.tick() => {
                    let _ = self.client.publish(self.names.beat(&self.node), Bytes::from(self.epoch.to_be_bytes().to_vec())).await;
                }
            }
        }
        let sessions = std::mem::take(&mut *self.sessions());
        for (sid, remote) in sessions {
            remote.close.close(LEADER_CHANGED);
            self.shared.closers.remove(SessionId(sid));
        }
    }

    async fn up(&self, sid: u64, msg: Option<ClientMsg>) {
        let n = {
            let mut sessions = self.sessions();
            let Some(remote) = sessions.get_mut(&sid) else { return };
            remote.up_n += 1;
            remote.up_n
        };
        self.counters.forwarded.fetch_add(1, Relaxed);
        let up = Up { node: self.node.clone(), sid, n, msg };
        let _ = self.client.publish(self.names.leader(self.epoch, "up"), encode(&up)).await;
    }

    fn down(&self, payload: &[u8]) {
        let Some((kind, sid, n, body)) = parse_down(payload) else { return };
        let mut sessions = self.sessions();
        if kind == STEPPING_DOWN {
            for remote in sessions.values() {
                remote.close.close(LEADER_CHANGED);
            }
            return;
        }
        let Some(remote) = sessions.get_mut(&sid) else { return };
        if n != remote.down_n + 1 {
            remote.close.close(FRAME_LOST);
            return;
        }
        remote.down_n = n;
        match kind {
            0 => match Codec::MsgPack.decode_server(body) {
                Ok(msg) => {
                    if remote.events.try_send(Arc::new(OutFrame::new(Arc::new(msg)))).is_err() {
                        remote.close.close(CloseNotice::SLOW_CONSUMER);
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e.message, "an event from the leader does not decode");
                    remote.close.close(FRAME_LOST);
                }
            },
            _ => {
                let code = body.get(..2).map_or(1011, |c| u16::from_be_bytes([c[0], c[1]]));
                let reason = body.get(2..).and_then(|r| std::str::from_utf8(r).ok()).unwrap_or("");
                remote.close.close(known_notice(code, reason));
            }
        }
    }

    /// Carries out one command of the node's handle while this gateway is current.
    pub(crate) fn command(self: &Arc<Self>, cmd: Command) {
        let gateway = self.clone();
        match cmd {
            Command::Connect { identity, reply } => {
                tokio::spawn(async move {
                    let _ = reply.send(gateway.open(identity).await);
                });
            }
            Command::Request { user, msg, admin, reply } => {
                tokio::spawn(async move {
                    let request = Request { user, msg, admin };
                    let answer = gateway.ask::<Result<ServerMsg, RemoteError>>("request", encode(&request)).await;
                    let _ = reply.send(answer.and_then(|r| r.map_err(HubError::from)));
                });
            }
            Command::AddUser { user, reply } => {
                tokio::spawn(async move {
                    let answer = gateway.ask::<Result<(), RemoteError>>("add_user", encode(&AddUser { user })).await;
                    let _ = reply.send(answer.and_then(|r| r.map_err(HubError::from)));
                });
            }
            // The state lives on the leader; a gateway has no `Chat` to query.
            Command::Query(_) => {}
            Command::Shutdown { reply } => {
                let _ = reply.send(());
            }
            Command::Receive { .. } => {}
        }
    }

    async fn ask<T: for<'a> Deserialize<'a>>(&self, what: &str, payload: Bytes) -> Result<T, HubError> {
        self.counters.forwarded.fetch_add(1, Relaxed);
        let subject = self.names.leader(self.epoch, what);
        let answer = tokio::time::timeout(ANSWER_TIMEOUT, self.client.request(subject, payload)).await;
        match answer {
            Ok(Ok(message)) => decode(&message.payload).ok_or(HubError::Closed),
            _ => Err(HubError::Closed),
        }
    }

    async fn open(&self, identity: Identity) -> Result<SessionLink, HubError> {
        let sid = self.next_sid.fetch_add(1, Relaxed);
        let (events_tx, events) = mpsc::channel(self.queue.max(1));
        let close = Arc::new(CloseSignal::default());
        // Registered before the leader connects it, so its first events (`connected`) find it.
        self.sessions().insert(sid, Remote { events: events_tx, close: close.clone(), up_n: 0, down_n: 0 });
        self.shared.closers.insert(SessionId(sid), close.clone(), identity.login.clone(), CloseNotice::KICKED);
        let open = Open {
            node: self.node.clone(),
            sid,
            user: identity.user,
            login: identity.login.map(|l| l.as_bytes().to_vec()),
        };
        match self.ask::<Result<(), RemoteError>>("open", encode(&open)).await {
            Ok(Ok(())) => Ok(SessionLink {
                id: SessionId(sid),
                events,
                close,
                inbox: self.links.clone(),
                disconnects: self.disconnects.clone(),
            }),
            other => {
                self.sessions().remove(&sid);
                self.shared.closers.remove(SessionId(sid));
                Err(match other {
                    Ok(Err(e)) => e.into(),
                    Err(e) => e,
                    Ok(Ok(())) => HubError::Closed,
                })
            }
        }
    }
}

/// A gateway's session as the leader serves it.
struct Served {
    session: SessionId,
    inbox: mpsc::Sender<Command>,
    task: JoinHandle<()>,
    next_n: u64,
}

/// Serves the gateways for the leader of `epoch` until `stop` changes: opens their sessions on
/// `hub`, passes their frames in and their events out, answers their requests.
pub(crate) async fn serve_gateways(
    hub: HubHandle,
    client: Client,
    names: Names,
    epoch: u64,
    counters: SharedCounters,
    mut stop: watch::Receiver<bool>,
) -> Result<(), async_nats::SubscribeError> {
    let mut opens = client.subscribe(names.leader(epoch, "open")).await?;
    let mut ups = client.subscribe(names.leader(epoch, "up")).await?;
    let mut requests = client.subscribe(names.leader(epoch, "request")).await?;
    let mut adds = client.subscribe(names.leader(epoch, "add_user")).await?;
    let mut beats = client.subscribe(names.beat("*")).await?;
    let mut served: HashMap<(String, u64), Served> = HashMap::new();
    let mut heard: HashMap<String, Instant> = HashMap::new();
    let (opened_tx, mut opened) = mpsc::unbounded_channel::<(String, u64, SessionLink, Option<async_nats::Subject>)>();
    let mut sweep = tokio::time::interval(BEAT);
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            Some(message) = opens.next() => {
                let Some(open) = decode::<Open>(&message.payload) else { continue };
                let (hub, client, opened_tx) = (hub.clone(), client.clone(), opened_tx.clone());
                tokio::spawn(async move {
                    let identity = Identity { user: open.user, login: open.login.map(LoginId::new) };
                    match hub.connect_as(identity).await {
                        Ok(link) => {
                            let _ = opened_tx.send((open.node, open.sid, link, message.reply));
                        }
                        Err(e) => {
                            if let Some(reply) = message.reply {
                                let _ = client.publish(reply, encode(&Err::<(), _>(RemoteError::from(&e)))).await;
                            }
                        }
                    }
                });
            }
            Some((node, sid, link, reply)) = opened.recv() => {
                heard.entry(node.clone()).or_insert_with(Instant::now);
                let session = link.id;
                let inbox = link.inbox.clone();
                let task = tokio::spawn(pump_down(hub.clone(), client.clone(), names.down(&node), sid, link));
                served.insert((node, sid), Served { session, inbox, task, next_n: 1 });
                counters.remote_sessions.store(served.len() as u64, Relaxed);
                if let Some(reply) = reply {
                    let _ = client.publish(reply, encode(&Ok::<(), RemoteError>(()))).await;
                }
            }
            Some(message) = ups.next() => {
                let Some(up) = decode::<Up>(&message.payload) else { continue };
                let key = (up.node, up.sid);
                let Some(entry) = served.get_mut(&key) else { continue };
                let in_order = up.n == entry.next_n;
                entry.next_n = up.n + 1;
                match up.msg {
                    Some(msg) if in_order => {
                        let _ = entry.inbox.send(Command::Receive { session: entry.session, msg }).await;
                    }
                    // A dropped link, or a lost frame: end the session (its client resumes).
                    _ => {
                        if let Some(entry) = served.remove(&key) {
                            entry.task.abort();
                        }
                        counters.remote_sessions.store(served.len() as u64, Relaxed);
                    }
                }
            }
            Some(message) = requests.next() => {
                let (hub, client) = (hub.clone(), client.clone());
                tokio::spawn(async move {
                    let Some(reply) = message.reply else { return };
                    let answer = match decode::<Request>(&message.payload) {
                        Some(Request { user, msg, admin: false }) => {
                            hub.request(user, msg).await.map_err(|e| RemoteError::from(&e))
                        }
                        Some(Request { user, msg, admin: true }) => {
                            hub.admin_request(user, msg).await.map_err(|e| RemoteError::from(&e))
                        }
                        None => Err(RemoteError::Closed),
                    };
                    let _ = client.publish(reply, encode(&answer)).await;
                });
            }
            Some(message) = adds.next() => {
                let (hub, client) = (hub.clone(), client.clone());
                tokio::spawn(async move {
                    let Some(reply) = message.reply else { return };
                    let answer = match decode::<AddUser>(&message.payload) {
                        Some(AddUser { user }) => hub.add_user(user).await.map_err(|e| RemoteError::from(&e)),
                        None => Err(RemoteError::Closed),
                    };
                    let _ = client.publish(reply, encode(&answer)).await;
                });
            }
            Some(message) = beats.next() => {
                // gw.{node}.beat
                if let Some(node) = message.subject.split('.').rev().nth(1) {
                    heard.insert(node.to_owned(), Instant::now());
                }
            }
            _ = sweep.tick() => {
                let silent: Vec<String> =
                    heard.iter().filter(|(_, at)| at.elapsed() > GATEWAY_SILENCE).map(|(n, _)| n.clone()).collect();
                for node in silent {
                    heard.remove(&node);
                    served.retain(|(n, _), entry| {
                        let keep = *n != node;
                        if !keep {
                            entry.task.abort();
                        }
                        keep
                    });
                }
                counters.remote_sessions.store(served.len() as u64, Relaxed);
            }
        }
    }
    let mut gateways: Vec<String> = heard.into_keys().collect();
    for ((node, _), entry) in served {
        entry.task.abort();
        gateways.push(node);
    }
    gateways.sort();
    gateways.dedup();
    for node in gateways {
        let _ = client.publish(names.down(&node), down_frame(STEPPING_DOWN, 0, 0, &[])).await;
    }
    let _ = client.flush().await;
    counters.remote_sessions.store(0, Relaxed);
    Ok(())
}

/// Sends one remote session's events to its gateway, numbered, encoded once per event (the
/// frame's shared MessagePack bytes), until the hub closes it.
async fn pump_down(hub: HubHandle, client: Client, subject: String, sid: u64, mut link: SessionLink) {
    let mut n = 0u64;
    loop {
        match link.recv().await {
            SessionEvent::Frame(frame) => {
                let Some(bytes) = frame.bytes(Codec::MsgPack) else { continue };
                n += 1;
                if client.publish(subject.clone(), down_frame(0, sid, n, &bytes)).await.is_err() {
                    return;
                }
                hub.wrote(&link);
            }
            SessionEvent::Close(notice) => {
                n += 1;
                let mut body = notice.code.to_be_bytes().to_vec();
                body.extend_from_slice(notice.reason.as_bytes());
                let _ = client.publish(subject.clone(), down_frame(1, sid, n, &body)).await;
                return;
            }
        }
    }
}
