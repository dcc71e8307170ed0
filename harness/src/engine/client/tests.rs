use super::*;

#[test]
fn shell_quote_survives_quotes_and_braces() {
    assert_eq!(shell_quote("/a b/it's{x}"), r"'/a b/it'\''s{{x}}'");
    let cmd = ClientCommand::reference(Path::new("/opt/sock check/bin"), Transport::Unix);
    let values = Placeholders { host: "127.0.0.1".into(), port: 1, path: "/tmp/s.sock".into() };
    assert_eq!(
        placeholders::expand(&cmd.template, &values).unwrap(),
        "exec '/opt/sock check/bin' client --unix /tmp/s.sock"
    );
}

#[test]
fn a_prompt_is_suggested_only_when_every_printed_line_starts_with_it() {
    let lines = |ls: &[&str]| ls.iter().map(|l| l.as_bytes().to_vec()).collect::<Vec<_>>();
    // One line tells nothing: `Received 13 bytes: ` changes with every line.
    let printed = lines(&["Received 5 bytes: HELLO"]);
    assert_eq!(common_prefix_hint(&printed, b"HELLO", &printed[0]), None);
    let printed = lines(&[">>: HELLO", ">>: WORLD"]);
    assert_eq!(common_prefix_hint(&printed, b"HELLO", &printed[0]), Some(&b">>: "[..]));
    // The same reply printed twice is a duplicate, not a prompt.
    let printed = lines(&["HELLO", "HELLO"]);
    assert_eq!(common_prefix_hint(&printed, b"SECOND LINE", &printed[1]), None);
    let printed = lines(&["> ONE", "> TWO", "> THREE"]);
    assert_eq!(common_prefix_hint(&printed, b"ONE", &printed[0]), Some(&b"> "[..]));
    // Only the wrong line has it: not a prompt.
    let printed = lines(&["ONE", "x TWO"]);
    assert_eq!(common_prefix_hint(&printed, b"TWO", &printed[1]), None);
    // A cut reply shares its start with the expected one: nothing to suggest.
    let printed = lines(&["HEL"]);
    assert_eq!(common_prefix_hint(&printed, b"HELLO", &printed[0]), None);
    let printed = lines(&["HELLO X", "HELLO Y"]);
    assert_eq!(common_prefix_hint(&printed, b"HELLO", &printed[0]), None);
}

#[test]
fn stdio_names_parse_back() {
    for s in [ClientStdio::Pty, ClientStdio::Pipe] {
        assert_eq!(s.name().parse::<ClientStdio>(), Ok(s));
    }
    assert!("tty".parse::<ClientStdio>().is_err());
    assert_eq!(unfinished(b"ONE\n>>: "), b">>: ");
    assert_eq!(unfinished(b">>: "), b">>: ");
    assert_eq!(unfinished(b"ONE\n"), b"");
}
