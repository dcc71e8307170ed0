//! The HTML report: one self-contained page (inline CSS and SVG, no script, no network) that opens
//! from disk. Totals, the target and the command line at the top; a grid of scenario x transport
//! (x model when several ran), each cell coloured by verdict and linking to the run's section;
//! then a section per run with what it checks, the failure, a sequence diagram of the transcript
//! ([`super::diagram`]), the bytes around the first difference, what the program wrote and the
//! command that runs it alone.
//!
//! Every text is escaped by [`Esc`], and the page's Content-Security-Policy forbids scripts: what
//! a program under test printed can never become markup.

use std::fmt::{self, Write as _};

use super::json::to_micros;
use super::render::distinct;
use super::{diagram, format_duration, summary_line, Outcome, ReportMeta, Totals, Verdict};
use crate::addr::Transport;
use crate::facts::{show, Difference};
use crate::server::Mode;

/// Text escaped for HTML and SVG, in elements and in quoted attributes. Control characters other
/// than newline and tab show as `\u{1b}`, so terminal escapes are visible and harmless.
pub struct Esc<'a>(pub &'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        let mut from = 0;
        for (i, c) in s.char_indices() {
            let picture;
            let rep: &str = match c {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&quot;",
                '\'' => "&#39;",
                '\n' | '\t' => continue,
                c if c.is_control() => {
                    picture = format!("\\u{{{:x}}}", c as u32);
                    &picture
                }
                _ => continue,
            };
            f.write_str(&s[from..i])?;
            f.write_str(rep)?;
            from = i + c.len_utf8();
        }
        f.write_str(&s[from..])
    }
}

fn dur(d: std::time::Duration) -> String {
    format_duration(to_micros(d))
}

/// The whole page.
pub fn page(outcomes: &[Outcome], meta: &ReportMeta) -> String {
    let mut h = String::with_capacity(16 * 1024 + outcomes.len() * 3 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>sockcheck: {}</title>\n<style>{CSS}</style></head>\n<body><div class=\"page\">\n",
        Esc(&summary_line(outcomes))
    );
    header(&mut h, outcomes, meta);
    failures(&mut h, outcomes);
    grid(&mut h, outcomes);
    h.push_str("<main>\n");
    // Failures first: they are what a reader came for. The grid keeps the order of the run.
    let mut order: Vec<(usize, &Outcome)> = outcomes.iter().enumerate().collect();
    order.sort_by_key(|(_, o)| match o.verdict {
        Verdict::Fail => 0,
        Verdict::Flaky => 1,
        _ => 2,
    });
    for (i, o) in order {
        section(&mut h, i, o);
    }
    let _ = write!(
        h,
        "</main>\n<footer>sockcheck {} · the same report as JSON: <code>--format json</code>; \
         render a saved one again with <code>sockcheck report FILE.json --format html</code></footer>\n\
         </div></body></html>\n",
        env!("CARGO_PKG_VERSION")
    );
    h
}

/// A target as a terminal shows it (`` `cmd` ``), without the backticks: the page sets it as code.
fn unquoted(target: &str) -> &str {
    target.strip_prefix('`').and_then(|t| t.strip_suffix('`')).unwrap_or(target)
}

/// Text whose `` `...` `` spans (commands in a title) are set as code, the rest escaped.
fn code_spans(text: &str) -> String {
    text.split('`')
        .enumerate()
        .map(|(i, part)| if i % 2 == 1 { format!("<code>{}</code>", Esc(part)) } else { Esc(part).to_string() })
        .collect()
}

fn header(h: &mut String, outcomes: &[Outcome], meta: &ReportMeta) {
    h.push_str("<header><h1>sockcheck <span>conformance report</span></h1>\n");
    if let Some(title) = &meta.title {
        let _ = writeln!(h, "<p class=\"what\">{}</p>", code_spans(title));
    }
    let t = Totals::of(outcomes);
    h.push_str("<ul class=\"totals\">");
    for (n, class, word) in [
        (t.passed, "pass", "passed"),
        (t.failed, "fail", "failed"),
        (t.flaky, "flaky", "flaky"),
        (t.skipped, "skip", "skipped"),
    ] {
        let zero = if n == 0 { " zero" } else { "" };
        let _ = write!(h, "<li class=\"{class}{zero}\"><b>{n}</b>{word}</li>");
    }
    // Wall time when known; the sum of the runs' times is another figure, named as such.
    let total: std::time::Duration = outcomes.iter().map(|o| o.duration).sum();
    if let Some(wall) = meta.wall {
        let _ = write!(h, "<li class=\"time\"><b>{}</b>wall time</li>", dur(wall));
    }
    let _ = writeln!(h, "<li class=\"time\"><b>{}</b>{} runs, summed</li></ul>", dur(total), outcomes.len());
    h.push_str("<dl class=\"meta\">");
    for target in distinct(outcomes.iter().map(|o| o.target.as_str())) {
        let _ = write!(h, "<dt>target</dt><dd><code>{}</code></dd>", Esc(unquoted(target)));
    }
    if let Some(cmd) = &meta.command_line {
        let _ = write!(h, "<dt>command</dt><dd><code>{}</code></dd>", Esc(cmd));
    }
    h.push_str("</dl></header>\n");
}

/// One line per failed (or flaky) run, linking to its section.
fn failures(h: &mut String, outcomes: &[Outcome]) {
    let bad: Vec<(usize, &Outcome)> = outcomes.iter().enumerate().filter(|(_, o)| o.failed() || o.flaky()).collect();
    if bad.is_empty() {
        return;
    }
    let _ = writeln!(h, "<nav class=\"failures\"><h2>What failed</h2><ol>");
    for (i, o) in bad {
        let why = o.failure.as_ref().map_or_else(|| o.summary(), |f| format!("{}: {}", f.cause.title(), f.message()));
        let (why, _) = cut(&why, 120);
        let _ = writeln!(
            h,
            "<li class=\"{}\"><a href=\"#r{i}\">{}</a> <span class=\"where\">{}</span> <span class=\"why\">{}</span></li>",
            o.verdict.name(),
            Esc(&o.scenario),
            Esc(&place(o)),
            Esc(&why)
        );
    }
    h.push_str("</ol></nav>\n");
}

fn cut(s: &str, n: usize) -> (String, bool) {
    match s.char_indices().nth(n) {
        None => (s.to_string(), false),
        Some((i, _)) => (format!("{}…", &s[..i]), true),
    }
}

/// `tcp · sequential`.
fn place(o: &Outcome) -> String {
    match o.model {
        Some(m) => format!("{} · {m}", o.transport),
        None => o.transport.to_string(),
    }
}

/// Scenario x transport (x model when several ran): a cell per run, `none` where nothing ran.
fn grid(h: &mut String, outcomes: &[Outcome]) {
    let models: Vec<Option<Mode>> = {
        let mut m: Vec<Option<Mode>> = vec![];
        for o in outcomes {
            if !m.contains(&o.model) {
                m.push(o.model);
            }
        }
        m.sort_by_key(|m| m.map_or(2, |m| m as u8));
        m
    };
    let by_model = models.len() > 1;
    let mut transports: Vec<Transport> = outcomes.iter().map(|o| o.transport).collect();
    transports.sort();
    transports.dedup();
    let columns: Vec<(Transport, Option<Mode>)> = transports
        .iter()
        .flat_map(|&t| models.iter().map(move |&m| (t, m)))
        .filter(|&(t, m)| !by_model || outcomes.iter().any(|o| o.transport == t && o.model == m))
        .collect();
    let rows = distinct(outcomes.iter().map(|o| o.scenario.as_str()));
    h.push_str("<section class=\"grid\"><h2>Scenarios</h2><div class=\"scroll\"><table class=\"grid\"><thead>");
    if by_model {
        let _ = write!(h, "<tr><th rowspan=\"2\">scenario</th>");
        for t in &transports {
            let span = columns.iter().filter(|c| c.0 == *t).count();
            let _ = write!(h, "<th colspan=\"{span}\">{t}</th>");
        }
        h.push_str("</tr><tr>");
        for (_, m) in &columns {
            let _ = write!(h, "<th class=\"sub\">{}</th>", m.map_or("model unknown", |m| m.name()));
        }
        h.push_str("</tr>");
    } else {
        h.push_str("<tr><th>scenario</th>");
        for (t, _) in &columns {
            let _ = write!(h, "<th>{t}</th>");
        }
        h.push_str("</tr>");
    }
    h.push_str("</thead><tbody>\n");
    for name in rows {
        let about = outcomes.iter().find(|o| o.scenario == name).map_or("", |o| o.about.as_str());
        let _ = write!(h, "<tr><th scope=\"row\" title=\"{}\">{}</th>", Esc(about), Esc(name));
        for &(t, m) in &columns {
            let runs: Vec<(usize, &Outcome)> = outcomes
                .iter()
                .enumerate()
                .filter(|(_, o)| o.scenario == name && o.transport == t && (!by_model || o.model == m))
                .collect();
            if runs.is_empty() {
                h.push_str("<td class=\"none\">·</td>");
            }
            for (i, o) in runs {
                let v = o.verdict.name();
                match &o.verdict {
                    Verdict::Skip(why) => {
                        let _ = write!(
                            h,
                            "<td class=\"cell {v}\" title=\"skipped: {}\"><a href=\"#r{i}\">{v}<small>{}</small></a></td>",
                            Esc(why),
                            Esc(why)
                        );
                    }
                    _ => {
                        let _ = write!(
                            h,
                            "<td class=\"cell {v}\"><a href=\"#r{i}\">{v}<small>{}</small></a></td>",
                            dur(o.duration)
                        );
                    }
                }
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table></div></section>\n");
}

/// A run: verdict, what it checks, the failure, the diagram, the bytes, the output, the repro.
fn section(h: &mut String, i: usize, o: &Outcome) {
    let v = o.verdict.name();
    let open = if o.failed() || o.flaky() { " open" } else { "" };
    let time = if matches!(o.verdict, Verdict::Skip(_)) { String::new() } else { dur(o.duration) };
    let attempts = if o.attempts > 1 { format!(" · {} attempts", o.attempts) } else { String::new() };
    let _ = write!(
        h,
        "<section class=\"run {v}\" id=\"r{i}\"><details{open}><summary><span class=\"badge {v}\">{v}</span> \
         <span class=\"name\">{}</span> <span class=\"where\">{}{attempts}</span> <span class=\"dur\">{time}</span></summary>\n\
         <div class=\"body\">",
        Esc(&o.scenario),
        Esc(&place(o))
    );
    if !o.about.is_empty() {
        let _ = write!(h, "<p class=\"about\"><b>Checks:</b> {}</p>", Esc(&o.about));
    }
    let _ = writeln!(h, "<p class=\"against\">against <code>{}</code></p>", Esc(unquoted(&o.target)));
    if let Verdict::Skip(why) = &o.verdict {
        let _ = write!(h, "<p class=\"skipped\">Skipped: {}</p>", Esc(why));
    }
    if let (Some(f), true) = (&o.failure, o.failed() || o.flaky()) {
        let lead = if o.flaky() { format!("Flaky: {} at", o.flaky_words()) } else { "Failed at".into() };
        let _ = write!(
            h,
            "<div class=\"failure\"><p class=\"cause\">{}</p><p>{lead} client <code>{}</code>, step {} <code>{}</code>:</p><p class=\"msg\">{}</p><p class=\"fix\">Fix: {}</p>",
            Esc(f.cause.title()),
            Esc(&f.client),
            f.step_index,
            Esc(&f.step),
            Esc(&f.message()),
            Esc(f.cause.fix())
        );
        if let Some(d) = f.fact.difference() {
            difference(h, d);
        }
        h.push_str("</div>\n");
    }
    let svg = diagram::svg(o);
    if !svg.is_empty() {
        let _ = writeln!(h, "<figure class=\"diagram\">{svg}</figure>");
    }
    if !o.program_output.is_empty() {
        h.push_str("<div class=\"output\"><h3>The program wrote</h3><pre>");
        for line in &o.program_output {
            let _ = writeln!(h, "{}", Esc(line));
        }
        h.push_str("</pre></div>\n");
    }
    if let (Some(repro), true) = (&o.repro, o.failed() || o.flaky()) {
        let _ = writeln!(h, "<p class=\"repro\">run it alone: <code>{}</code></p>", Esc(repro));
    }
    if let Some(code) = &o.code {
        let _ = writeln!(
            h,
            "<div class=\"output\"><h3>As a scenario (paste it into scenarios/)</h3><pre>{}</pre></div>",
            Esc(code)
        );
    }
    h.push_str("</div></details></section>\n");
}

/// Expected and received excerpts, then both as hex from where they start, the first
/// difference marked.
fn difference(h: &mut String, d: &Difference) {
    let _ = write!(
        h,
        "<table class=\"cmp\"><tr><th>expected</th><td><code>{}</code></td></tr>\
         <tr><th>received</th><td><code>{}</code></td></tr></table>",
        Esc(&format!("\"{}\"", show(&d.expected))),
        Esc(&format!("\"{}\"", show(&d.got)))
    );
    let _ = write!(h, "<table class=\"hex\"><caption>first difference at byte {} of the {}</caption>", d.at, d.of);
    let len = d.expected.len().max(d.got.len());
    for row in (0..len).step_by(16) {
        for (who, bytes, other) in [("expected", &d.expected, &d.got), ("received", &d.got, &d.expected)] {
            let _ = write!(
                h,
                "<tr class=\"{}\"><th>{who}</th><td class=\"off\">{}</td><td>",
                &who[..3],
                d.start + row as u64
            );
            let mut text = String::new();
            for j in row..(row + 16).min(len) {
                let at = d.start + j as u64 == d.at;
                let differs = matches!((bytes.get(j), other.get(j)), (Some(a), Some(b)) if a != b);
                let class = match (at, differs) {
                    (true, _) => " class=\"at\"",
                    (false, true) => " class=\"d\"",
                    _ => "",
                };
                match bytes.get(j) {
                    Some(b) => {
                        let _ = write!(h, "<span{class}>{b:02x}</span> ");
                        let c = if b.is_ascii_graphic() || *b == b' ' { *b as char } else { '.' };
                        let _ = write!(text, "<span{class}>{}</span>", Esc(&c.to_string()));
                    }
                    None => {
                        h.push_str("<span class=\"gone\">··</span> ");
                        text.push(' ');
                    }
                }
            }
            let _ = write!(h, "</td><td class=\"txt\">{text}</td></tr>");
        }
    }
    h.push_str("</table>");
}

const CSS: &str = r#"
:root{--pass:#1a7f37;--pass-bg:#dafbe1;--fail:#cf222e;--fail-bg:#ffebe9;--flaky:#9a6700;--flaky-bg:#fff8c5;
--skip:#57606a;--skip-bg:#eaeef2;--line:#d0d7de;--muted:#59636e;--fg:#1f2328;--blue:#0969da;
--mono:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono","DejaVu Sans Mono",monospace}
*{box-sizing:border-box}
body{margin:0;background:#f6f8fa;color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI","Noto Sans",Helvetica,Arial,sans-serif}
.page{max-width:1280px;margin:0 auto;padding:20px 24px 40px}
code,pre{font-family:var(--mono);font-size:12.5px}
h1{font-size:22px;margin:0 0 4px}h1 span{font-weight:400;color:var(--muted)}
h2{font-size:16px;margin:0 0 8px}h3{font-size:13px;margin:12px 0 4px;color:var(--muted)}
.what{margin:0 0 12px;color:var(--muted)}
.totals{display:flex;flex-wrap:wrap;gap:10px;list-style:none;margin:0 0 12px;padding:0}
.totals li{min-width:110px;padding:8px 14px;border-radius:8px;background:#fff;border:1px solid var(--line);color:var(--muted)}
.totals b{display:block;font-size:24px;line-height:1.2}
.totals .pass b{color:var(--pass)}.totals .fail b{color:var(--fail)}.totals .flaky b{color:var(--flaky)}.totals .skip b{color:var(--skip)}
.totals .fail:not(.zero){background:var(--fail-bg);border-color:#ffcecb}.totals .zero b{color:#8c959f}
.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0 0 16px}
.meta dt{color:var(--muted)}.meta dd{margin:0;overflow-wrap:anywhere}
.failures,section.grid{background:#fff;border:1px solid var(--line);border-radius:8px;padding:12px 16px;margin:0 0 16px}
.failures ol{margin:0;padding-left:22px}.failures li{margin:2px 0}
.failures a{font-weight:600;color:var(--fail)}.failures .flaky a{color:var(--flaky)}
.where{color:var(--muted);font-size:12.5px}.why{font-family:var(--mono);font-size:12px;color:#424a53}
.scroll{overflow-x:auto}
table.grid{border-collapse:separate;border-spacing:3px}
table.grid th{font-weight:600;text-align:center;padding:2px 8px;white-space:nowrap}
table.grid thead th{color:var(--muted);font-size:12.5px}
table.grid tbody th{text-align:left;font-family:var(--mono);font-weight:400;font-size:12.5px;padding-right:16px}
td.cell a{display:flex;gap:8px;align-items:baseline;min-width:120px;max-width:320px;padding:2px 8px;border-radius:5px;text-decoration:none;font-weight:600;font-size:12.5px}
td.cell small{margin-left:auto;font-weight:400;text-align:right;white-space:normal;opacity:.9}
td.pass a{background:var(--pass-bg);color:var(--pass)}td.fail a{background:var(--fail);color:#fff}
td.flaky a{background:var(--flaky-bg);color:var(--flaky);outline:1px solid #d4a72c}td.skip a{background:var(--skip-bg);color:var(--skip)}
td.none{color:#8c959f;text-align:center}
td.cell a:hover{filter:brightness(.95);text-decoration:underline}
section.run{background:#fff;border:1px solid var(--line);border-left:5px solid var(--line);border-radius:8px;margin:0 0 10px}
section.run.pass{border-left-color:#4ac26b}section.run.fail{border-left-color:var(--fail)}
section.run.flaky{border-left-color:#d4a72c}section.run.skip{border-left-color:#afb8c1}
section.run:target{box-shadow:0 0 0 3px #54aeff66}
summary{cursor:pointer;padding:8px 14px;list-style-position:outside}
summary .name{font-family:var(--mono);font-weight:600}summary .dur{float:right;color:var(--muted);font-size:12.5px}
.badge{display:inline-block;min-width:46px;text-align:center;padding:0 6px;border-radius:10px;font-size:11.5px;font-weight:700;text-transform:uppercase}
.badge.pass{background:var(--pass-bg);color:var(--pass)}.badge.fail{background:var(--fail);color:#fff}
.badge.flaky{background:var(--flaky-bg);color:var(--flaky)}.badge.skip{background:var(--skip-bg);color:var(--skip)}
.body{padding:0 16px 12px;border-top:1px solid #eaeef2}
.about{margin:10px 0 2px;overflow-wrap:break-word}.against{margin:0 0 8px;color:var(--muted)}.skipped{color:var(--skip)}
.failure{background:var(--fail-bg);border:1px solid #ffcecb;border-radius:6px;padding:8px 12px;margin:8px 0}
.failure p{margin:0}.failure .msg{font-family:var(--mono);font-size:12.5px;color:#82071e;margin-top:2px;overflow-wrap:anywhere}
table.cmp,table.hex{border-collapse:collapse;margin-top:8px;background:#fff;border-radius:4px}
table.cmp th,table.hex th{text-align:left;color:var(--muted);font-weight:600;padding:2px 10px 2px 6px;font-size:12px}
table.cmp td{padding:2px 6px;overflow-wrap:anywhere}
table.hex caption{text-align:left;font-size:12px;color:var(--muted);padding:0 6px 2px}
table.hex td{font-family:var(--mono);font-size:12px;padding:1px 6px;white-space:pre}
table.hex tr.rec td{padding-bottom:6px}table.hex td.off{color:#8c959f}
table.hex .d{background:#ffd8d3}table.hex .at{background:var(--fail);color:#fff;border-radius:2px}table.hex .gone{color:#afb8c1}
figure.diagram{margin:10px 0;overflow-x:auto;border:1px solid #eaeef2;border-radius:6px;background:#fff}
svg.seq{display:block;font-size:12px}
svg.seq text{font-family:var(--mono);fill:var(--fg)}
svg.seq .ll{stroke:#afb8c1;stroke-dasharray:4 4}
svg.seq .hd rect{fill:#f6f8fa;stroke:#8c959f}svg.seq .hd text{text-anchor:middle;font-weight:600}
svg.seq .hd.subject rect{fill:#ddf4ff;stroke:var(--blue)}
svg.seq .colhd{fill:var(--muted);font-family:system-ui,sans-serif;font-size:11px}
svg.seq .colhd.end{text-anchor:end}
svg.seq .t{text-anchor:end;fill:#8c959f;font-size:11px}
svg.seq .a{stroke-width:1.6}svg.seq .a.send{stroke:var(--blue)}svg.seq .h.send{fill:var(--blue)}
svg.seq .a.reply{stroke:var(--pass);stroke-dasharray:6 3}svg.seq .h.reply{fill:var(--pass)}
svg.seq .a.ctl{stroke:#6e7781}svg.seq .h.ctl{fill:#6e7781}
svg.seq .a.rst{stroke:#bc4c00;stroke-width:2.2}svg.seq .h.rst{fill:#bc4c00}
svg.seq .l,svg.seq .bl{text-anchor:middle;font-size:11px;paint-order:stroke;stroke:#fff;stroke-width:4px;stroke-linejoin:round}
svg.seq .bx{fill:#fff8c5;stroke:#d4a72c}
svg.seq .band{stroke:#8c959f;stroke-dasharray:2 3}svg.seq text.band{stroke:#fff;fill:var(--muted);stroke-dasharray:none}
svg.seq .c{font-weight:600}svg.seq .n{fill:#424a53;font-family:system-ui,sans-serif}
svg.seq .step-fail .bg{fill:var(--fail-bg)}
svg.seq .step-fail .a{stroke:var(--fail);stroke-dasharray:none}svg.seq .step-fail .h{fill:var(--fail)}
svg.seq .step-fail text.c,svg.seq .step-fail text.n,svg.seq .step-fail .l{fill:var(--fail)}
svg.seq .step-fail .l,svg.seq .step-fail .bl{stroke:var(--fail-bg)}
svg.seq .step-fail .bx{fill:var(--fail);stroke:var(--fail)}svg.seq .step-fail .bl{fill:#fff;stroke:none}
.output pre{background:#f6f8fa;border:1px solid #eaeef2;border-radius:6px;padding:8px 10px;margin:0;max-height:320px;overflow:auto;white-space:pre-wrap}
.repro{margin:10px 0 0;padding:6px 10px;background:#f6f8fa;border-radius:6px;border:1px dashed var(--line)}
.repro code{user-select:all;overflow-wrap:anywhere}
footer{margin-top:24px;color:var(--muted);font-size:12px}
@media print{details{display:block}summary{list-style:none}}
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{Cause, Fact};
    use crate::report::Failure;

    fn failed(scenario: &str, transport: Transport) -> Outcome {
        let mut o = Outcome::new(scenario, "", transport, "target".into());
        o.verdict = Verdict::Fail;
        let mut f = Failure::new("c1", 0, "recv", Fact::Reset);
        f.cause = Cause::CrashedOnReset;
        o.failure = Some(f);
        o
    }

    #[test]
    fn the_page_lists_each_failure_with_its_cause_and_a_link_to_its_section() {
        let outcomes = [
            Outcome::new("ok", "", Transport::Tcp, "target".into()),
            failed("reset_mid_conversation", Transport::Unix),
        ];
        let page = page(&outcomes, &ReportMeta::default());
        let nav = &page[page.find("<nav class=\"failures\">").expect("a list of what failed")..];
        let nav = &nav[..nav.find("</nav>").unwrap()];
        assert!(nav.contains("<a href=\"#r1\">reset_mid_conversation</a>"), "{nav}");
        assert!(nav.contains(Cause::CrashedOnReset.title()), "{nav}");
        assert!(!nav.contains(">ok<"), "a passed run is not listed: {nav}");
        assert!(page.contains("id=\"r1\""), "the link has a target");
    }

    #[test]
    fn a_page_where_everything_passed_has_no_list_of_failures() {
        let page = page(&[Outcome::new("ok", "", Transport::Tcp, "target".into())], &ReportMeta::default());
        assert!(!page.contains("What failed"), "{page}");
    }

    #[test]
    fn a_run_names_its_attempts_only_when_there_were_several() {
        let mut o = Outcome::new("ok", "", Transport::Tcp, "target".into());
        let once = page(std::slice::from_ref(&o), &ReportMeta::default());
        assert!(once.contains("<span class=\"where\">tcp</span>"), "{once}");
        assert!(!once.contains("attempts"), "{once}");
        o.attempts = 3;
        let thrice = page(&[o], &ReportMeta::default());
        assert!(thrice.contains("<span class=\"where\">tcp · 3 attempts</span>"), "{thrice}");
    }
}
