//! Integration tests of chat-server: the real router on 127.0.0.1:0, driven over HTTP and
//! WebSocket from the outside.

// Shared helpers: a tiny HTTP client, WebSocket connect, server start.
mod support;

// Accounts: register, login, wrong password, duplicate and invalid names, throttling, logout.
mod accounts;
// Administrators and the registration policy: roles, invites, disabling, reset codes, audit.
mod admin;
// `chat-server backup` under load and its restore, `check`, `admin grant|revoke`.
mod backup;
// A user's own account: password change, sessions, log out everywhere, export, deletion.
mod selfservice;
// HTTP surface: security headers, body limits, health and metrics, static files, errors.
mod surface;
// Authorisation of the REST API: nobody reads another user's DMs, rooms or notifications.
mod privacy;
// The WebSocket upgrade: Origin allowlist, cookie / bearer / first-frame auth, logout.
mod websocket;
// Hostile clients at the HTTP layer: Host names, trickled bodies, connections per address.
mod hardening;
// The WebSocket frame budget shared by the connections of one client address.
mod frame_budget;
// An administrator deletes any message (audited); nobody else may.
mod admin_messages;
// HTTPS with the self-signed certificate.
mod tls;
// Stop and start on the same database file.
mod restart;
// Cluster mode: three chat-server processes on a real nats-server -js (needs nats-server).
mod cluster;
mod cluster_accounts;
mod cluster_bench;
mod cluster_harness;
// Edit, delete and react over REST: the core's answers and refusals, counts read back.
mod lifecycle_rest;
// Attachments: upload, access (404 for non-members), no markup served, limits, ranges, GC.
mod attachments;
// Images (EXIF stripped, bombs refused, thumbnails) and kill -9 mid-upload.
mod attachments_media;
// GET /api/search and history around through the real server and index.
mod search_rest;
// A measurement (ignored): search latency through the whole server path.
mod search_bench;
// Attachments in messages: member access, leaving, deletion, collection of released files.
mod attachments_messages;
// The web UI in headless Chromium: chat, mentions, DMs, XSS, restart (needs chromium).
mod browser; // headless Chromium UI tests
