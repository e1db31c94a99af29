//! The hot path: messages through `Chat::handle` + a full drain of the outputs, into rooms of 50
//! online members, one message in ten with a mention (criterion, wall time).
//!
//! Two views of the same work: "core" builds each message's `Input` outside the timed region
//! (criterion's `iter_batched`; in a server the adapter decodes frames on the connection's task,
//! not the core's), "with input" times building it too. Both time the drain and the drop of
//! every output.
//!
//! Run: `cargo bench -p chat-core --bench hot_path`
#![allow(missing_docs)]

mod workload;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use workload::{MEMBERS, Workload};

fn hot_path(c: &mut Criterion) {
    let mut group = c.benchmark_group("chat-core");
    group.throughput(Throughput::Elements(1));
    for client_ids in [false, true] {
        let ids = if client_ids { ", client ids" } else { "" };
        let (mut workload, mut inputs) = Workload::new(client_ids);
        group.bench_function(format!("core: handle+drain, 50 members{ids}"), |b| {
            b.iter_batched(
                || inputs.next(),
                |input| {
                    let deliveries = workload.handle(input);
                    assert!(deliveries >= MEMBERS);
                    deliveries
                },
                BatchSize::SmallInput,
            )
        });
        let (mut workload, mut inputs) = Workload::new(client_ids);
        group.bench_function(format!("with input: build+handle+drain, 50 members{ids}"), |b| {
            b.iter(|| {
                let deliveries = workload.handle(inputs.next());
                assert!(deliveries >= MEMBERS);
                deliveries
            })
        });
    }
    group.finish();
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
