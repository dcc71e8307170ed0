//! Every integration test but the catalogue, in one binary (ripgrep's layout): the CLI, the
//! reference server and client, spawned programs, broken servers and clients, properties, the
//! proxy, reports. `cargo test -p sockcheck --test integration spawn::` runs one module.
//! The catalogue itself is `tests/conformance.rs`: one named test per scenario.

#[macro_use]
mod support;

mod bench_cli;
mod broken_servers;
mod capacity;
mod check_cli;
mod check_client_cli;
mod completions;
mod datagram_address;
mod datagram_clients;
mod datagram_proxy;
mod datagrams;
mod docs;
mod explore;
mod fuzz_regressions;
mod hardening;
mod interrupts;
mod mutants;
mod programs;
mod properties;
mod proxy;
mod python_clients;
mod random_scenarios;
mod reference;
mod report;
mod spawn;
mod testing;
