//! `sockcheck completions SHELL` and `sockcheck man`: generated from the clap definitions, they
//! name the real subcommands and flags.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::run;

fn stdout_of(args: &[&str]) -> String {
    let r = run(args, b"");
    assert_eq!(r.code(), Some(0), "sockcheck {args:?}: {}", r.stderr);
    String::from_utf8(r.stdout).expect("utf-8")
}

#[test]
fn bash_completion_offers_the_subcommands_and_their_flags() {
    let script = stdout_of(&["completions", "bash"]);
    assert!(script.contains("complete -F _sockcheck"), "not a bash completion script:\n{script}");
    assert!(script.contains("check-client"), "{script}");
    assert!(script.contains("--spawn") && script.contains("--transport"), "{script}");
}

#[test]
fn zsh_and_fish_completions_name_check_client() {
    let zsh = stdout_of(&["completions", "zsh"]);
    assert!(zsh.starts_with("#compdef sockcheck") && zsh.contains("check-client"), "{zsh}");
    let fish = stdout_of(&["completions", "fish"]);
    assert!(fish.contains("complete -c sockcheck") && fish.contains("check-client"), "{fish}");
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let r = run(&["completions", "tcsh"], b"");
    assert_eq!(r.code(), Some(2), "{}", r.stderr);
    assert!(r.stderr.starts_with("sockcheck: error: invalid value 'tcsh'"), "{}", r.stderr);
}

#[test]
fn the_man_page_is_roff_that_man_renders() {
    let page = stdout_of(&["man"]);
    assert!(page.lines().any(|l| l.starts_with(".TH sockcheck 1")), "no .TH header:\n{page}");
    assert!(page.contains("check\\-client"), "{page}");
    // Rendered as a user reads it, where man-db is installed (it is not on minimal images).
    let man = Command::new("man")
        .args(["--warnings", "-l", "-"])
        .env("MANWIDTH", "100")
        .env("MAN_KEEP_FORMATTING", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut man) = man else {
        eprintln!("note: no `man` on the PATH: the page was checked as roff only");
        return;
    };
    man.stdin.take().unwrap().write_all(page.as_bytes()).unwrap();
    let out = man.wait_with_output().unwrap();
    // Bold and underline come as overstrikes (`X\x08X`, `_\x08X`) when man writes to a pipe.
    let mut text = String::new();
    for c in String::from_utf8_lossy(&out.stdout).chars() {
        if c == '\x08' {
            text.pop();
        } else {
            text.push(c);
        }
    }
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "man -l failed: {warnings}");
    assert!(warnings.trim().is_empty(), "groff warnings: {warnings}");
    assert!(text.contains("check-client") && text.contains("SYNOPSIS"), "{text}");
}

#[test]
fn man_dir_writes_a_page_per_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let pages = dir.path().join("man1");
    let r = run(&["man", "--dir", pages.to_str().unwrap()], b"");
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    for name in ["sockcheck.1", "sockcheck-check.1", "sockcheck-check-client.1", "sockcheck-completions.1"] {
        let page = std::fs::read_to_string(pages.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(page.contains(".TH"), "{name}: {page}");
    }
}
