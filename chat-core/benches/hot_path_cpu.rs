//! CPU cost of the hot path, robust on a shared machine: sends N messages through
//! `Chat::handle` + a full drain into 20 rooms of 50 online members (one in ten with a mention)
//! and divides by this process's CPU time (user + system, from `/proc/self/stat`), so time spent
//! waiting for a core does not count. Building each message's input is included (it is a small
//! part: see `hot_path`'s two views).
//!
//! Run: `cargo bench -p chat-core --bench hot_path_cpu` (env `MESSAGES`, default 2,000,000,
//! after `WARMUP` unmeasured ones, default 1,000,000; `CLIENT_IDS=1` gives every message a client
//! id, as the web client does).
#![allow(missing_docs)]

mod workload;

use workload::Workload;

/// User + system CPU seconds of this process (Linux), if readable.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0) // USER_HZ is 100 on Linux
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` probes every bench binary
    }
    let n: u64 = std::env::var("MESSAGES").ok().and_then(|s| s.parse().ok()).unwrap_or(2_000_000);
    let client_ids = std::env::var_os("CLIENT_IDS").is_some();
    let warmup: u64 = std::env::var("WARMUP").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let (mut workload, mut inputs) = Workload::new(client_ids);
    // Unmeasured first: the state's one-off growth (maps, inboxes, fresh pages) is not the
    // steady state a running server is in.
    for _ in 0..warmup {
        workload.handle(inputs.next());
    }
    // Each message is built and handled in turn (as `hot_path`'s "with input"): building inputs
    // ahead in large chunks would leave them cold in memory and measure DRAM, not the core.
    let (cpu0, wall0) = (cpu_seconds(), std::time::Instant::now());
    let mut deliveries = 0usize;
    for _ in 0..n {
        deliveries += workload.handle(inputs.next());
    }
    let wall = wall0.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu0).map_or(0.0, |(b, a)| b - a);
    if cpu > 0.0 {
        println!(
            "{n} messages ({}client ids), {deliveries} recipient deliveries: CPU {cpu:.2} s = {:.0} messages per CPU-second ({:.2} µs each); wall {wall:.2} s",
            if client_ids { "with " } else { "no " },
            n as f64 / cpu,
            cpu * 1e6 / n as f64
        );
    } else {
        println!("{n} messages in {wall:.2} s wall ({:.0}/s); CPU time unavailable", n as f64 / wall);
    }
}
