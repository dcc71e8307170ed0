//! sockcheck's server catalogue against this crate's binary: one test per scenario,
//! `<scenario>::tcp` (`cargo test -p echo-server-example send_of_1m`).

use sockcheck::testing::{Mode, Suite, Transport};

fn main() {
    Suite::program(env!("CARGO_BIN_EXE_echo_server"), ["{port}"])
        .transports(&[Transport::Tcp])
        .model(Mode::Concurrent)
        .run_as_tests()
}
