//! `echo-server-example PORT`: the uppercase-echo server on 127.0.0.1:PORT.

use std::process::ExitCode;

use echo_server_example::{serve, Bug};

#[tokio::main]
async fn main() -> ExitCode {
    let port = match std::env::args().nth(1).map(|p| p.parse::<u16>()) {
        Some(Ok(port)) => port,
        _ => {
            eprintln!("usage: echo-server-example PORT");
            return ExitCode::from(2);
        }
    };
    let bug = match Bug::from_env() {
        Ok(bug) => bug,
        Err(e) => {
            eprintln!("echo-server-example: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("echo-server-example: cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match serve(listener, bug).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo-server-example: {e}");
            ExitCode::FAILURE
        }
    }
}
