//! `--spawn` command templates (`sockcheck::target::placeholders::expand`, `transport_of`): never panic; a template
//! is accepted by both or refused by both; an accepted one leaves no placeholder behind and
//! keeps the text outside the braces.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockcheck::target::placeholders::{expand, transport_of, Placeholders};
use sockcheck::Transport;

fuzz_target!(|template: &str| {
    if template.len() > 4096 {
        return;
    }
    let values = Placeholders { host: "127.0.0.1".into(), port: 4242, path: "/tmp/s/e.sock".into() };
    let expanded = expand(template, &values);
    // With the transport given, only the placeholders themselves can make a template wrong
    // (an empty command aside).
    let checked = transport_of(template, Some(Transport::Tcp));
    if template.trim().is_empty() {
        assert!(checked.is_err());
        return;
    }
    assert_eq!(expanded.is_ok(), checked.is_ok(), "{template:?}: expand {expanded:?} vs transport_of {checked:?}");
    if let Ok(out) = expanded {
        for p in ["{host}", "{port}", "{addr}", "{path}"] {
            // A literal `{{port}}` stands for the text `{port}`; anything else must be filled in.
            if !template.contains("{{") {
                assert!(!out.contains(p), "{template:?} -> {out:?} still holds {p}");
            }
        }
        // Text without braces passes through unchanged.
        if !template.contains(['{', '}']) {
            assert_eq!(out, template);
        }
    }
});
