//! `cargo bench --bench datagrams`: 64-byte datagram round trips to `sockcheck serve --udp` /
//! `--unix-dgram` (the in-process reference server) beside the baseline, a blocking
//! `recv_from` / `send_to` echo with no transform, over UDP and Unix datagram sockets; then the
//! ratios side by side. Client and server are pinned as in `throughput.rs`: `-2cpu` apart,
//! `-1cpu` together (the server's own cost and nothing else). About 20 s on 2 cores.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use hdrhistogram::Histogram;
use sockcheck::Transport;
use sockcheck_benches::dgram::{DgramKind, DgramPingPong, DgramServer};
use sockcheck_benches::placement::{apart, on_cpu, together, Placement};
use sockcheck_benches::time_round_trips;

const SIZE: usize = 64;
const KINDS: [DgramKind; 2] = [DgramKind::Echo, DgramKind::Reference];

/// Round-trip latencies (ns) per benchmark id.
static LATENCY: Mutex<BTreeMap<String, Histogram<u64>>> = Mutex::new(BTreeMap::new());

fn placements() -> Vec<(&'static str, Placement)> {
    let mut p = vec![];
    if apart() != (None, None) {
        p.push(("2cpu", apart()));
    }
    p.push(("1cpu", together()));
    p
}

fn datagram(c: &mut Criterion) {
    let mut g = c.benchmark_group("datagram");
    g.warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Bytes(SIZE as u64));
    for (place, (client_cpu, server_cpu)) in placements() {
        for transport in Transport::DATAGRAM {
            let group = format!("{transport}-{place}");
            for kind in KINDS {
                let id = format!("{group}/{}", kind.label());
                on_cpu(client_cpu, || {
                    let mut state: Option<(DgramServer, DgramPingPong)> = None;
                    g.bench_function(BenchmarkId::new(&group, kind.label()), |b| {
                        let (_, client) = state.get_or_insert_with(|| {
                            let server = on_cpu(server_cpu, || DgramServer::start(kind, transport));
                            let client = DgramPingPong::new(&server.endpoint, SIZE);
                            (server, client)
                        });
                        b.iter_custom(|iters| {
                            let (total, lat) = time_round_trips(iters, || client.round_trip());
                            let mut all = LATENCY.lock().unwrap();
                            let h = all
                                .entry(id.clone())
                                .or_insert_with(|| Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap());
                            lat.into_iter().for_each(|ns| h.saturating_record(ns));
                            total
                        })
                    });
                    drop(state.take());
                });
            }
        }
    }
    g.finish();
}

/// Per transport and placement: p50, p99 and round trips/s of each server, and the reference
/// server's p50 over the baseline's.
fn summary() {
    let all = LATENCY.lock().unwrap();
    if all.is_empty() {
        return;
    }
    println!("\ndatagram round trips, {SIZE} B (p50 / p99 in us, round trips/s from the mean):");
    let us = |ns: u64| ns as f64 / 1000.0;
    for (place, _) in placements() {
        for transport in Transport::DATAGRAM {
            let group = format!("{transport}-{place}");
            let mut p50 = vec![];
            for kind in KINDS {
                let Some(h) = all.get(&format!("{group}/{}", kind.label())) else { continue };
                println!(
                    "  {group:<16} {:<22} p50 {:>7.1}  p99 {:>7.1}  {:>8.0}/s",
                    kind.label(),
                    us(h.value_at_quantile(0.5)),
                    us(h.value_at_quantile(0.99)),
                    1e9 / h.mean().max(1.0)
                );
                p50.push(h.value_at_quantile(0.5) as f64);
            }
            if let [echo, reference] = p50[..] {
                println!("  {group:<16} sockcheck-serve / echo p50: {:.2}x", reference / echo.max(1.0));
            }
        }
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    datagram(&mut c);
    c.final_summary();
    summary();
}
