//! The commands of the README and the guide keep working: every `sockcheck ...` and
//! `cargo run --release -- ...` command in their shell blocks parses with the real command line
//! (`Cli`), and every scenario name or filter they give (`--filter`, `cargo test NAME`,
//! `cargo nextest run -- --exact NAME`) names a test or scenario that exists.

use clap::Parser;
use sockcheck::cli::Cli;

const DOCS: [&str; 2] = ["README.md", "docs/guide.md"];

/// The command lines of the ```sh blocks of `doc`, and of the `$ ` lines of its ```console blocks
/// (a line ending in `\` continued), with their line numbers.
fn commands(doc: &str) -> Vec<(usize, String)> {
    let mut out = vec![];
    let mut block = None;
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in doc.lines().enumerate() {
        if let Some(fence) = line.trim_start().strip_prefix("```") {
            block = if block.is_none() { Some(fence.trim().to_string()) } else { None };
            continue;
        }
        let command = match block.as_deref() {
            Some("sh") => line,
            Some("console") => match line.strip_prefix("$ ") {
                Some(c) => c,
                None => continue,
            },
            _ => continue,
        };
        let (n, mut text) = pending.take().unwrap_or((i + 1, String::new()));
        match command.strip_suffix('\\') {
            Some(head) => {
                text.push_str(head);
                pending = Some((n, text));
            }
            None => {
                text.push_str(command);
                out.push((n, text));
            }
        }
    }
    out
}

/// The simple commands of a command line: its words split at `|`, `&`, `&&` and `;`, without
/// the redirections (`> FILE`).
fn simple_commands(line: &str) -> Vec<Vec<String>> {
    let words = shlex::split(line).unwrap_or_else(|| panic!("not shell words: {line}"));
    let mut commands: Vec<Vec<String>> =
        words.split(|w| ["|", "&", "&&", ";"].contains(&w.as_str())).map(<[String]>::to_vec).collect();
    for c in &mut commands {
        if let Some(i) = c.iter().position(|w| w.starts_with('>') || w.starts_with('<')) {
            c.truncate(i);
        }
    }
    commands
}

/// The arguments sockcheck gets from `words`, if they run it.
fn sockcheck_args(words: &[String]) -> Option<&[String]> {
    match words {
        [first, rest @ ..] if first == "sockcheck" || first.ends_with("/sockcheck") => Some(rest),
        [cargo, run, release, dashes, rest @ ..]
            if cargo == "cargo" && run == "run" && release == "--release" && dashes == "--" =>
        {
            Some(rest)
        }
        _ => None,
    }
}

/// Every scenario name of both catalogues, and the integration test modules (a `cargo test` filter
/// may name one).
fn names() -> Vec<String> {
    let mut names: Vec<String> = sockcheck::catalogue::all().iter().map(|s| s.name().to_string()).collect();
    names.extend(sockcheck::client_catalogue::all().iter().map(|s| s.name().to_string()));
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/integration");
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(module) = name.strip_suffix(".rs") {
            names.push(module.to_string());
        }
    }
    names
}

/// A test-name filter names something when its first `::` part is part of a scenario or module name.
fn names_something(filter: &str, names: &[String]) -> bool {
    let head = filter.split("::").next().unwrap();
    !head.is_empty() && names.iter().any(|n| n.contains(head))
}

/// What every documented command line of both documents does wrong, one line each.
fn problems() -> (usize, Vec<String>) {
    let names = names();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let (mut checked, mut problems) = (0, vec![]);
    for doc in DOCS {
        let text = std::fs::read_to_string(format!("{root}/{doc}")).unwrap();
        for (line, command) in commands(&text) {
            for words in simple_commands(&command) {
                let at = format!("{doc}:{line}: `{}`", words.join(" "));
                if let Some(args) = sockcheck_args(&words) {
                    checked += 1;
                    let argv = std::iter::once("sockcheck").chain(args.iter().map(String::as_str));
                    if let Err(e) = Cli::try_parse_from(argv) {
                        let first = e.to_string().lines().next().unwrap_or_default().to_string();
                        problems.push(format!("{at}: {first}"));
                    }
                    for pair in args.windows(2).filter(|p| p[0] == "--filter") {
                        if !names.iter().any(|n| n.contains(pair[1].as_str())) {
                            problems.push(format!("{at}: --filter {} matches no scenario", pair[1]));
                        }
                    }
                }
                let filter = match words.iter().map(String::as_str).collect::<Vec<_>>()[..] {
                    ["cargo", "test", filter, ..] if !filter.starts_with('-') => Some(filter.to_string()),
                    ["cargo", "nextest", "run", ..] => {
                        words.windows(2).find(|p| p[0] == "--exact").map(|p| p[1].clone())
                    }
                    _ => None,
                };
                if let Some(filter) = filter {
                    checked += 1;
                    if !names_something(&filter, &names) {
                        problems.push(format!("{at}: {filter} names no test"));
                    }
                }
            }
        }
    }
    (checked, problems)
}

#[test]
fn every_documented_command_parses_and_names_what_exists() {
    let (checked, problems) = problems();
    // The README and the guide hold dozens of such commands: finding none means the reader broke.
    assert!(checked >= 20, "only {checked} commands found in {DOCS:?}");
    assert!(problems.is_empty(), "{} documented commands do not work:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn a_wrong_option_a_wrong_filter_and_a_continued_line_are_seen() {
    let doc = "```sh\nsockcheck check --no-such-option\nsockcheck check \\\n  --filter no_such_scenario\n```\n";
    let found = commands(doc);
    assert_eq!(
        found,
        [(2, "sockcheck check --no-such-option".into()), (3, "sockcheck check   --filter no_such_scenario".into())]
    );
    let argv = |c: &str| simple_commands(c).remove(0);
    let args = argv(&found[0].1);
    assert!(Cli::try_parse_from(
        std::iter::once("sockcheck".to_string()).chain(sockcheck_args(&args).unwrap().to_vec())
    )
    .is_err());
    assert!(!names_something("no_such_scenario::tcp", &names()));
    assert!(names_something("send_of_1m::tcp", &names()));
    assert_eq!(simple_commands("printf 'a\\n' | cargo run --release -- client --tcp 127.0.0.1:1 # c").len(), 2);
}
