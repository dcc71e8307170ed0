#!/usr/bin/env bash
# ClusterFuzzLite / OSS-Fuzz build: every cargo-fuzz target of fuzz/ into $OUT, each with its seed
# corpus ($OUT/<target>_seed_corpus.zip, from fuzz/corpus/<target>/) and its dictionary
# ($OUT/<target>.dict, from fuzz/<target>.dict) where those exist.
# Runs in the builder image (the repository at $SRC/sockcheck) and outside it with SRC and OUT set
# to any directories (the repository is then the one this script lives in, unless $SRC/sockcheck
# exists): .ci/cfl-build-check does that.
set -euo pipefail
: "${OUT:?set OUT to the directory the fuzzers go to}"

if [ -n "${SRC:-}" ] && [ -d "$SRC/sockcheck" ]; then
    repo=$SRC/sockcheck
else
    repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fi
cd "$repo"
mkdir -p "$OUT"

# Seed corpora: libFuzzer wants the files at the top of the zip, whatever their names.
zip_dir() { # DIR ZIP
    local zipfile
    zipfile=$(realpath -m "$2")
    rm -f "$zipfile"
    if command -v zip >/dev/null 2>&1; then
        (cd "$1" && find . -maxdepth 1 -type f -printf '%f\n' | zip -q -@ "$zipfile")
    else
        local files
        mapfile -t files < <(cd "$1" && find . -maxdepth 1 -type f -printf '%f\n')
        (cd "$1" && python3 -m zipfile -c "$zipfile" "${files[@]}")
    fi
}

# `harness`: addr_parse and placeholders fuzz harness code and need it (fuzz/Cargo.toml); the other
# targets link only the protocol core either way.
cargo fuzz build -O --features harness

release=fuzz/target/x86_64-unknown-linux-gnu/release
built=0
for target in $(cargo fuzz list); do
    # *_broken targets are deliberately broken (the fuzz smoke in .ci/run checks they are caught
    # quickly): they crash by design, and a continuous campaign would only report that again.
    case $target in *_broken) echo "build.sh: skipping $target (broken by design)"; continue ;; esac
    cp "$release/$target" "$OUT/"
    if [ -d "fuzz/corpus/$target" ] && [ -n "$(find "fuzz/corpus/$target" -maxdepth 1 -type f -print -quit)" ]; then
        zip_dir "fuzz/corpus/$target" "$OUT/${target}_seed_corpus.zip"
    fi
    if [ -f "fuzz/$target.dict" ]; then
        cp "fuzz/$target.dict" "$OUT/$target.dict"
    fi
    built=$((built + 1))
done
echo "build.sh: $built fuzz targets in $OUT"
[ "$built" -gt 0 ]
