#!/usr/bin/env python3
"""Compare the JSON reports written by run.sh with expected.json (what a correct tool says).

    python3 harness/tests/programs/check_expected.py [OUT]     (OUT: run.sh's directory)

For each program and scenario: the verdict must match (a `not_run` expectation accepts a report
that has no outcome or a skip/not_run outcome for the scenario), and a failure's message must
carry the expected cause (failure.cause). Also checks "alone equals in the catalogue" for the verdicts. Prints
one line per difference and exits 1 if there is any. Program-level expectations (model, start,
prompt, new_scenarios) are not checked here: today's reports have no field for them.
"""
import json
import os
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/sockcheck-programs"
expected = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "expected.json")))
problems = 0


def outcomes(path):
    try:
        with open(path) as f:
            return {o["scenario"]: o for o in json.load(f)["outcomes"]}
    except (OSError, ValueError):
        return None


def judge(want, got):
    """None if `got` (an outcome or None) is what `want` asks, else what is wrong."""
    verdict = want["verdict"]
    result = got["result"] if got else "absent"
    if verdict == "not_run":
        return None if result in ("absent", "skip", "not_run") else f"expected not run, got {result}"
    if verdict != result:
        msg = (got.get("failure") or {}).get("message", "") if got else ""
        return f"expected {verdict}, got {result}" + (f": {msg[:300]}" if msg else "")
    if verdict == "fail":
        failure = got.get("failure") or {}
        if failure.get("cause") != want["cause"]:
            return f"fails with cause {failure.get('cause')!r}, not {want['cause']!r}: {failure.get('message', '')[:300]}"
    return None


for kind in ("servers", "clients"):
    for name, prog in expected[kind].items():
        tag = name.replace(":", "@").replace("/", "@")
        cat = outcomes(os.path.join(out, f"{tag}.json"))
        if cat is None:
            print(f"{name}: no report in {out}")
            problems += 1
            continue
        for scenario, want in prog["expect"].items():
            why = judge(want, cat.get(scenario))
            if why:
                print(f"{name} {scenario} (catalogue): {why}")
                problems += 1
            alone = outcomes(os.path.join(out, f"{tag}.alone.{scenario}.json"))
            if alone is not None:
                a, c = alone.get(scenario), cat.get(scenario)
                ar, cr = (a or {}).get("result"), (c or {}).get("result")
                if ar != cr:
                    print(f"{name} {scenario}: alone {ar}, in the catalogue {cr}")
                    problems += 1
print(f"{problems} difference(s) from expected.json")
sys.exit(1 if problems else 0)
