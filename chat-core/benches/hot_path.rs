//! The hot path: messages through `Chat::handle` + a full drain of the outputs, into rooms of 50
//! online members, one message in ten with a mention (criterion, wall time).
//!
//! Run: `cargo bench -p chat-core --bench hot_path`
#![allow(missing_docs)]

mod workload;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use workload::{MEMBERS, Workload};

fn hot_path(c: &mut Criterion) {
    let mut group = c.benchmark_group("chat-core");
    group.throughput(Throughput::Elements(1));
    for with_client_id in [false, true] {
        let name = if with_client_id { "send+drain, 50 members, client ids" } else { "send+drain, 50 members" };
        let mut workload = Workload::new();
        let mut i: u64 = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                i += 1;
                let deliveries = workload.send(i, with_client_id);
                assert!(deliveries >= MEMBERS);
                deliveries
            })
        });
    }
    group.finish();
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
