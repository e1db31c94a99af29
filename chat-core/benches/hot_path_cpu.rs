//! CPU cost of the hot path, robust on a shared machine: sends N messages through
//! `Chat::handle` + a full drain into 20 rooms of 50 online members (one in ten with a mention)
//! and divides by this process's CPU time (user + system, from `/proc/self/stat`, summed over
//! chunks of 100,000 messages whose inputs are built beforehand), so time spent waiting for a
//! core does not count.
//!
//! Run: `cargo bench -p chat-core --bench hot_path_cpu` (env `MESSAGES`, default 2,000,000;
//! `CLIENT_IDS=1` gives every message a client id, as the web client does).
#![allow(missing_docs)]

mod workload;

use chat_core::Input;
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
    let (mut workload, mut inputs) = Workload::new(client_ids);
    // Inputs are built in chunks outside the measured CPU time (an adapter decodes frames on the
    // connection's task); handling and draining are measured.
    const CHUNK: u64 = 100_000;
    let (mut cpu, mut wall) = (0.0, 0.0);
    let mut deliveries = 0usize;
    let mut done = 0;
    while done < n {
        let batch: Vec<Input> = (0..CHUNK.min(n - done)).map(|_| inputs.next()).collect();
        done += batch.len() as u64;
        let (cpu0, wall0) = (cpu_seconds(), std::time::Instant::now());
        for input in batch {
            deliveries += workload.handle(input);
        }
        wall += wall0.elapsed().as_secs_f64();
        cpu += cpu_seconds().zip(cpu0).map_or(0.0, |(b, a)| b - a);
    }
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
