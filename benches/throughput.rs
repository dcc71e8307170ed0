//! `cargo bench`: throughput of the transform, the communication loop and the reference server,
//! each beside its baseline, then a side-by-side summary with the ratios the goals are about.
//!
//! Every group sets its own warm-up and measurement time so that the whole run takes about five
//! minutes on 2 cores. Connections are opened once per benchmark and reused by every iteration.
//! Clients and servers run in this one process and share the cores (see `sockcheck_benches`).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::io;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput};
use hdrhistogram::Histogram;
use sockcheck::proto::{serve, EchoConn};
use sockcheck::{Mode, Transform, Transport};
use sockcheck_benches::placement::{apart, on_cpu, together, Placement};
use sockcheck_benches::{payload, size_label, time_round_trips, Kind, PingPong, Server, StreamClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

/// Per benchmark id: bytes/s of every sample, and round-trip latencies (ns).
#[derive(Default)]
struct Record {
    rates: Vec<f64>,
    latency: Option<Histogram<u64>>,
}

static RECORDS: Mutex<BTreeMap<String, Record>> = Mutex::new(BTreeMap::new());

fn record_rate(id: &str, bytes: u64, took: Duration) {
    let mut r = RECORDS.lock().unwrap();
    r.entry(id.to_string()).or_default().rates.push(bytes as f64 / took.as_secs_f64().max(1e-12));
}

fn record_latency(id: &str, ns: u64) {
    let mut r = RECORDS.lock().unwrap();
    let rec = r.entry(id.to_string()).or_default();
    rec.latency.get_or_insert_with(|| Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap()).saturating_record(ns);
}

fn transform(c: &mut Criterion) {
    let mut g = c.benchmark_group("transform");
    g.warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1)).sample_size(20);
    for size in [64, KIB, 64 * KIB, MIB] {
        g.throughput(Throughput::Bytes(size as u64));
        let src = payload(size);
        let mut buf = src.clone();
        let id = format!("transform/upper/{}", size_label(size));
        g.bench_function(BenchmarkId::new("upper", size_label(size)), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                // In place, as the server does. After the first pass there is nothing left to
                // change, but the loop is branch-free: it costs the same on any input.
                buf.copy_from_slice(&src);
                for _ in 0..iters {
                    Transform::Upper.apply(black_box(&mut buf));
                }
                let took = start.elapsed();
                record_rate(&id, iters * size as u64, took);
                took
            })
        });
        let id = format!("transform/copy_from_slice/{}", size_label(size));
        g.bench_function(BenchmarkId::new("copy_from_slice", size_label(size)), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    buf.copy_from_slice(black_box(&src));
                    black_box(&mut buf);
                }
                let took = start.elapsed();
                record_rate(&id, iters * size as u64, took);
                took
            })
        });
    }
    g.finish();
}

/// An in-memory stream: reads come from `input` (then EOF), writes are counted and dropped.
struct MemStream<'a> {
    input: &'a [u8],
    written: u64,
}

impl io::Read for MemStream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.input.len());
        buf[..n].copy_from_slice(&self.input[..n]);
        self.input = &self.input[n..];
        Ok(n)
    }
}

impl io::Write for MemStream<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written += black_box(buf).len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn recv_loop(c: &mut Criterion) {
    let mut g = c.benchmark_group("recv_loop");
    g.warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1)).sample_size(20);
    let input = payload(MIB);
    g.throughput(Throughput::Bytes(input.len() as u64));
    for bufsize in [KIB, 64 * KIB] {
        let id = format!("recv_loop/bufsize/{}", size_label(bufsize));
        g.bench_function(BenchmarkId::new("bufsize", size_label(bufsize)), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    let mut stream = MemStream { input: &input, written: 0 };
                    let mut conn = EchoConn::new(bufsize, Transform::Upper);
                    serve(&mut stream, &mut conn).unwrap();
                    assert_eq!(stream.written, input.len() as u64);
                }
                let took = start.elapsed();
                record_rate(&id, iters * input.len() as u64, took);
                took
            })
        });
    }
    g.finish();
}

const T: usize = sockcheck::server::DEFAULT_THREADS;
const CONCURRENT_1K: Kind = Kind::Reference { mode: Mode::Concurrent, bufsize: KIB, threads: T };
const CONCURRENT_64K: Kind = Kind::Reference { mode: Mode::Concurrent, bufsize: 64 * KIB, threads: T };
/// The concurrent server with `--threads 0`: every connection on the event loop, as they are when
/// the server holds more than 16.
const EVENT_LOOP_1K: Kind = Kind::Reference { mode: Mode::Concurrent, bufsize: KIB, threads: 0 };
const EVENT_LOOP_64K: Kind = Kind::Reference { mode: Mode::Concurrent, bufsize: 64 * KIB, threads: 0 };
const SEQUENTIAL_1K: Kind = Kind::Reference { mode: Mode::Sequential, bufsize: KIB, threads: 0 };
const SEQUENTIAL_64K: Kind = Kind::Reference { mode: Mode::Sequential, bufsize: 64 * KIB, threads: 0 };

/// Streams: the client (its writer and reader threads) on the first CPU, the server (every thread
/// it has) on the last, so that no run finds them fighting over a core and no two runs place them
/// differently (unplaced, the same server's figure moved by 30 % from run to run).
fn echo_stream(c: &mut Criterion) {
    let placement = apart();
    let mut g = network_group(c, "echo_stream");
    for transport in Transport::ALL {
        for size in [KIB, 64 * KIB, MIB] {
            let mut kinds = vec![Kind::Sink, Kind::CopyEcho, CONCURRENT_64K, CONCURRENT_1K];
            // The sequential server differs from the concurrent one only in its runtime: one size is enough.
            if size == 64 * KIB {
                kinds.extend([Kind::RawEcho64K, EVENT_LOOP_64K, SEQUENTIAL_64K, SEQUENTIAL_1K]);
            }
            g.throughput(Throughput::Bytes(size as u64));
            for kind in kinds {
                let name = format!("{transport}/{}", kind.label());
                let id = format!("echo_stream/{name}/{}", size_label(size));
                let bench = BenchmarkId::new(name, size_label(size));
                let connect = |server: &Server| StreamClient::new(server, kind == Kind::Sink, size);
                bench_server(&mut g, bench, kind, transport, placement, connect, |client, iters| {
                    let took = client.stream(iters, size);
                    record_rate(&id, iters * size as u64, took);
                    took
                });
            }
        }
    }
    g.finish();
}

/// A group of the network benchmarks: an iteration is a whole exchange, so flat sampling, and
/// short runs to keep `cargo bench` within minutes.
fn network_group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .nresamples(10_000);
    g
}

/// Benchmark `bench` against a server of `kind`, placed as told: the server is started and `connect`
/// makes the client at the first iteration, both are reused by every later one, and `run` does
/// `iters` iterations and says how long they took. The client closes before its server stops.
fn bench_server<C>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    bench: BenchmarkId,
    kind: Kind,
    transport: Transport,
    (client_cpu, server_cpu): Placement,
    connect: impl Fn(&Server) -> C,
    mut run: impl FnMut(&mut C, u64) -> Duration,
) {
    on_cpu(client_cpu, || {
        let mut state: Option<(Server, C)> = None;
        g.bench_function(bench, |b| {
            let (_, client) = state.get_or_insert_with(|| {
                let server = on_cpu(server_cpu, || Server::start(kind, transport));
                let client = connect(&server);
                (server, client)
            });
            b.iter_custom(|iters| run(client, iters))
        });
        if let Some((server, client)) = state.take() {
            drop(client);
            drop(server);
        }
    });
}

/// 64 B round trips, the client on the first CPU and the server on `-2cpu`: the last one (every
/// round trip wakes a thread on another CPU twice: on a VM whose idle vCPUs halt, about 20 us each,
/// more than the server's own work), `-1cpu`: the same one (the server's own cost, nothing else).
/// Left to the scheduler, a run lands on one or the other, so its figures flip from run to run.
fn ping_pong(c: &mut Criterion) {
    let mut placements = vec![];
    if apart() != (None, None) {
        placements.push(("2cpu", apart()));
    }
    placements.push(("1cpu", together()));
    let mut g = network_group(c, "ping_pong");
    const SIZE: usize = 64;
    g.throughput(Throughput::Bytes(SIZE as u64));
    for &(name, placement) in &placements {
        for transport in Transport::ALL {
            let place = format!("{transport}-{name}");
            for kind in [Kind::CopyEcho, CONCURRENT_1K, EVENT_LOOP_1K, SEQUENTIAL_1K] {
                let id = format!("ping_pong/{place}/{}", kind.label());
                let bench = BenchmarkId::new(&place, kind.label());
                let connect = |server: &Server| PingPong::new(server, SIZE);
                bench_server(&mut g, bench, kind, transport, placement, connect, |client, iters| {
                    let (total, lat) = time_round_trips(iters, || client.round_trip());
                    for ns in lat {
                        record_latency(&id, ns);
                    }
                    record_rate(&id, iters * SIZE as u64, total);
                    total
                });
            }
        }
    }
    g.finish();
}

/// `n` async clients, each doing round trips of `size` bytes on its own connection.
struct Clients {
    rt: tokio::runtime::Runtime,
    conns: Vec<sockcheck::net::Conn>,
    size: usize,
}

impl Clients {
    fn new(server: &Server, n: usize, size: usize) -> Clients {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let conns = rt.block_on(async {
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                v.push(sockcheck::net::connect(&server.endpoint, Duration::from_secs(10)).await.unwrap());
            }
            v
        });
        Clients { rt, conns, size }
    }

    /// Every client does `rounds` round trips; returns the wall time.
    fn run(&mut self, rounds: u64) -> Duration {
        let conns = std::mem::take(&mut self.conns);
        let size = self.size;
        let (took, conns) = self.rt.block_on(async move {
            let start = Instant::now();
            let tasks: Vec<_> = conns
                .into_iter()
                .map(|mut conn| {
                    tokio::spawn(async move {
                        let msg = payload(size);
                        let mut reply = vec![0u8; size];
                        for _ in 0..rounds {
                            conn.write_all(&msg).await.unwrap();
                            conn.read_exact(&mut reply).await.unwrap();
                        }
                        conn
                    })
                })
                .collect();
            let mut back = Vec::with_capacity(tasks.len());
            for t in tasks {
                back.push(t.await.unwrap());
            }
            (start.elapsed(), back)
        });
        self.conns = conns;
        took
    }
}

/// Left to the scheduler: the clients are tasks of a 2-worker runtime, the server has threads of its own.
fn clients(c: &mut Criterion) {
    let mut g = network_group(c, "clients");
    const SIZE: usize = 16 * KIB;
    for kind in [CONCURRENT_1K, CONCURRENT_64K, EVENT_LOOP_64K, Kind::CopyEcho] {
        for n in [1usize, 8, 64] {
            g.throughput(Throughput::Bytes((n * SIZE) as u64));
            let name = format!("tcp/{}", kind.label());
            let id = format!("clients/{name}/{n}");
            let connect = |server: &Server| Clients::new(server, n, SIZE);
            bench_server(
                &mut g,
                BenchmarkId::new(name, n),
                kind,
                Transport::Tcp,
                (None, None),
                connect,
                |clients, iters| {
                    let took = clients.run(iters);
                    record_rate(&id, iters * (n * SIZE) as u64, took);
                    took
                },
            );
        }
    }
    g.finish();
}

/// The median bytes/s of every sample of `id`.
fn rate(records: &BTreeMap<String, Record>, id: &str) -> Option<f64> {
    let mut v = records.get(id)?.rates.clone();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

fn mib(x: f64) -> String {
    format!("{:.0} MiB/s", x / MIB as f64)
}

/// One line per goal, and every echo_stream result beside its baselines.
fn summary() {
    let records = RECORDS.lock().unwrap();
    if records.is_empty() {
        return;
    }
    println!("\n==== side-by-side summary (median of samples) ====");
    let ratio = |a: &str, b: &str| Some(rate(&records, a)? / rate(&records, b)?);
    for size in ["64B", "1KiB", "64KiB", "1MiB"] {
        if let (Some(u), Some(cp)) = (
            rate(&records, &format!("transform/upper/{size}")),
            rate(&records, &format!("transform/copy_from_slice/{size}")),
        ) {
            println!("transform {size:>6}: upper {:>12}  copy_from_slice {:>12}  ratio {:.2}", mib(u), mib(cp), u / cp);
        }
    }
    for bufsize in ["1KiB", "64KiB"] {
        if let Some(r) = rate(&records, &format!("recv_loop/bufsize/{bufsize}")) {
            println!("recv_loop bufsize {bufsize:>6}: {}", mib(r));
        }
    }
    for transport in ["tcp", "unix"] {
        for size in ["1KiB", "64KiB", "1MiB"] {
            let base = format!("echo_stream/{transport}");
            let Some(copy) = rate(&records, &format!("{base}/copy-echo/{size}")) else { continue };
            let sink = rate(&records, &format!("{base}/sink/{size}"));
            let raw = rate(&records, &format!("{base}/raw-echo-64KiB/{size}"));
            println!(
                "echo_stream {transport:>4} {size:>6}: copy-echo {}  sink {}{}",
                mib(copy),
                sink.map_or("-".into(), mib),
                raw.map_or(String::new(), |r| format!(
                    "  raw-echo-64KiB {} (x{:.2} sink)",
                    mib(r),
                    sink.map_or(f64::NAN, |s| r / s)
                ))
            );
            for kind in [CONCURRENT_64K, CONCURRENT_1K, EVENT_LOOP_64K, SEQUENTIAL_64K, SEQUENTIAL_1K] {
                if let Some(r) = rate(&records, &format!("{base}/{}/{size}", kind.label())) {
                    println!(
                        "    {:<18} {:>12}  x{:.2} copy-echo  x{:.2} sink{}",
                        kind.label(),
                        mib(r),
                        r / copy,
                        sink.map_or(f64::NAN, |s| r / s),
                        raw.map_or(String::new(), |raw| format!("  x{:.2} raw-echo-64KiB", r / raw))
                    );
                }
            }
        }
    }
    for kind in ["copy-echo", "concurrent-64KiB", "concurrent-1KiB"] {
        if let Some(r) = ratio(&format!("echo_stream/unix/{kind}/64KiB"), &format!("echo_stream/tcp/{kind}/64KiB")) {
            println!("echo_stream 64KiB unix/tcp {kind}: x{r:.2}");
        }
    }
    let p50 = |id: &str| records.get(id)?.latency.as_ref().map(|h| h.value_at_quantile(0.5) as f64);
    for place in ["tcp-2cpu", "unix-2cpu", "tcp-1cpu", "unix-1cpu"] {
        for kind in ["copy-echo", "concurrent-1KiB", "event-loop-1KiB", "sequential-1KiB"] {
            let id = format!("ping_pong/{place}/{kind}");
            if let Some(h) = records.get(&id).and_then(|r| r.latency.as_ref()) {
                let us = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
                println!(
                    "ping_pong {place:>9} {kind:<16} p50 {:>6.1} us  p90 {:>6.1} us  p99 {:>6.1} us  max {:>8.1} us  ({} round trips)",
                    us(0.5),
                    us(0.9),
                    us(0.99),
                    h.max() as f64 / 1000.0,
                    h.len()
                );
            }
        }
        for kind in ["concurrent-1KiB", "event-loop-1KiB", "sequential-1KiB"] {
            if let (Some(r), Some(b)) =
                (p50(&format!("ping_pong/{place}/{kind}")), p50(&format!("ping_pong/{place}/copy-echo")))
            {
                println!("ping_pong {place} p50 {kind} / copy-echo: x{:.2}", r / b);
            }
        }
    }
    for (unix, tcp) in [("unix-2cpu", "tcp-2cpu"), ("unix-1cpu", "tcp-1cpu")] {
        for kind in ["copy-echo", "concurrent-1KiB", "event-loop-1KiB"] {
            if let (Some(u), Some(t)) =
                (p50(&format!("ping_pong/{unix}/{kind}")), p50(&format!("ping_pong/{tcp}/{kind}")))
            {
                println!("ping_pong {kind} p50 {unix} / {tcp}: x{:.2}", u / t);
            }
        }
    }
    for kind in ["concurrent-1KiB", "concurrent-64KiB", "event-loop-64KiB", "copy-echo"] {
        let line: Vec<String> = [1, 8, 64]
            .iter()
            .filter_map(|n| rate(&records, &format!("clients/tcp/{kind}/{n}")).map(|r| format!("{n}: {}", mib(r))))
            .collect();
        if !line.is_empty() {
            println!("clients tcp {kind:<16} {}", line.join("  "));
        }
    }
    goals(&records);
}

/// The goals, each with its figure from this run, whether it is met, and beside it what a
/// baseline makes of the same measure (where the machine, not the server, sets the figure).
fn goals(records: &BTreeMap<String, Record>) {
    struct Row {
        what: String,
        op: &'static str,
        got: Option<f64>,
        goal: f64,
        beside: Option<(&'static str, Option<f64>)>,
    }
    let rate = |id: &str| rate(records, id);
    let ratio = |a: &str, b: &str| Some(rate(a)? / rate(b)?);
    let quantile = |id: &str, q: f64| records.get(id)?.latency.as_ref().map(|h| h.value_at_quantile(q) as f64);
    let p50_ratio = |a: &str, b: &str| Some(quantile(a, 0.5)? / quantile(b, 0.5)?);
    let row = |what: String, op, got, goal, beside| Row { what, op, got, goal, beside };
    let mut rows = vec![
        row(
            "transform 64KiB / copy_from_slice".into(),
            ">=",
            ratio("transform/upper/64KiB", "transform/copy_from_slice/64KiB"),
            0.8,
            None,
        ),
        row(
            "concurrent 64KiB TCP streaming / copy-echo".into(),
            ">=",
            ratio("echo_stream/tcp/concurrent-64KiB/64KiB", "echo_stream/tcp/copy-echo/64KiB"),
            1.0,
            None,
        ),
        row(
            "concurrent 64KiB TCP streaming / sink".into(),
            ">=",
            ratio("echo_stream/tcp/concurrent-64KiB/64KiB", "echo_stream/tcp/sink/64KiB"),
            0.45,
            Some(("raw-echo-64KiB", ratio("echo_stream/tcp/raw-echo-64KiB/64KiB", "echo_stream/tcp/sink/64KiB"))),
        ),
        row(
            "concurrent 64KiB streaming unix / tcp".into(),
            ">=",
            ratio("echo_stream/unix/concurrent-64KiB/64KiB", "echo_stream/tcp/concurrent-64KiB/64KiB"),
            1.4,
            Some(("copy-echo", ratio("echo_stream/unix/copy-echo/64KiB", "echo_stream/tcp/copy-echo/64KiB"))),
        ),
    ];
    for place in ["tcp-2cpu", "unix-2cpu", "tcp-1cpu", "unix-1cpu"] {
        rows.push(row(
            format!("ping_pong {place} p50 concurrent / copy-echo"),
            "<=",
            p50_ratio(&format!("ping_pong/{place}/concurrent-1KiB"), &format!("ping_pong/{place}/copy-echo")),
            1.1,
            None,
        ));
    }
    for (unix, tcp) in [("unix-2cpu", "tcp-2cpu"), ("unix-1cpu", "tcp-1cpu")] {
        rows.push(row(
            format!("ping_pong p50 concurrent {unix} / {tcp}"),
            "<=",
            p50_ratio(&format!("ping_pong/{unix}/concurrent-1KiB"), &format!("ping_pong/{tcp}/concurrent-1KiB")),
            0.7,
            Some((
                "copy-echo",
                p50_ratio(&format!("ping_pong/{unix}/copy-echo"), &format!("ping_pong/{tcp}/copy-echo")),
            )),
        ));
    }
    for place in ["tcp-2cpu", "unix-2cpu", "tcp-1cpu", "unix-1cpu"] {
        rows.push(row(
            format!("ping_pong {place} p99 concurrent (us)"),
            "<",
            quantile(&format!("ping_pong/{place}/concurrent-1KiB"), 0.99).map(|ns| ns / 1000.0),
            1000.0,
            None,
        ));
    }
    let rows: Vec<Row> = rows.into_iter().filter(|r| r.got.is_some()).collect();
    if rows.is_empty() {
        return;
    }
    println!("\n==== goals ====");
    for r in rows {
        let got = r.got.unwrap_or(f64::NAN);
        let met = match r.op {
            ">=" => got >= r.goal,
            "<=" => got <= r.goal,
            _ => got < r.goal,
        };
        let beside = match r.beside {
            Some((name, Some(b))) => format!("  ({name} on the same measure: {b:.2})"),
            _ => String::new(),
        };
        println!(
            "{:<46} {got:>8.2}  goal {} {:<6} {:<7}{beside}",
            r.what,
            r.op,
            r.goal,
            if met { "met" } else { "NOT MET" }
        );
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    transform(&mut c);
    recv_loop(&mut c);
    echo_stream(&mut c);
    ping_pong(&mut c);
    clients(&mut c);
    c.final_summary();
    summary();
}
