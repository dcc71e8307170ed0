#!/bin/sh
# Run every program of this directory through today's sockcheck exactly as a user would
# (PYTHONUNBUFFERED unset), once over the whole catalogue and once per scenario alone (--filter),
# writing JSON reports and the human output to OUT (default /tmp/sockcheck-programs).
#
#     sh harness/tests/programs/run.sh [OUT] [PROGRAM...]     (from the repository root)
#
# SOCKCHECK overrides the binary (default target/release/sockcheck). ALONE=0 skips the per-scenario
# runs. What a correct tool should say is in EXPECTED.md and expected.json next to this script.
set -u
out=${1:-/tmp/sockcheck-programs}
[ $# -gt 0 ] && shift
bin=${SOCKCHECK:-target/release/sockcheck}
dir=harness/tests/programs
mkdir -p "$out"

# name | check|check-client | command | extra options
programs() {
cat <<LIST
py_socketserver_strip.py|check|python3 $dir/py_socketserver_strip.py {port}|
py_threading_server.py|check|python3 $dir/py_threading_server.py {port}|
py_docs_echo_once.py|check|python3 $dir/py_docs_echo_once.py {port}|
py_banner_server.py|check|python3 $dir/py_banner_server.py {port}|
py_thread_dies.py|check|python3 $dir/py_thread_dies.py {port}|
py_asyncio_read_once.py|check|python3 $dir/py_asyncio_read_once.py {port}|
py_asyncio_upper.py|check|python3 $dir/py_asyncio_upper.py {port}|
py_asyncio_upper.py:unix|check|python3 $dir/py_asyncio_upper.py {path}|
node_echo_docs.js|check|node $dir/node_echo_docs.js {port}|--transform echo
node_echo_pipe.js|check|node $dir/node_echo_pipe.js {port}|--transform echo
node_upper.js|check|node $dir/node_upper.js {port}|
node_upper.js:unix|check|node $dir/node_upper.js {path}|
py_unix_server.py|check|python3 $dir/py_unix_server.py {path}|
perl_fork_server.pl|check|perl $dir/perl_fork_server.pl {port}|
py_print_client.py|check-client|python3 $dir/py_print_client.py {port}|
py_prompt_client.py|check-client|python3 $dir/py_prompt_client.py {port}|
node_pipe_client.js|check-client|node $dir/node_pipe_client.js {port}|
perl_client.pl|check-client|perl $dir/perl_client.pl {port}|
py_unix_client.py|check-client|python3 $dir/py_unix_client.py {path}|
mutants/py_exit_server.py|check|python3 $dir/mutants/py_exit_server.py {port}|
mutants/py_blank_server.py|check|python3 $dir/mutants/py_blank_server.py {port}|
mutants/py_udp_strip_server.py|check|python3 $dir/mutants/py_udp_strip_server.py {port}|--transport udp
mutants/node_help_server.js|check|node $dir/mutants/node_help_server.js {port}|
mutants/py_collapse_client.py|check-client|python3 $dir/mutants/py_collapse_client.py {port}|
mutants/node_tab_client.js|check-client|node $dir/mutants/node_tab_client.js {port}|
LIST
}

programs | while IFS='|' read -r name cmd spawn extra; do
    if [ $# -gt 0 ]; then
        case " $* " in *" $name "*) ;; *) continue ;; esac
    fi
    tag=$(echo "$name" | tr ':/' '@@')
    echo "== $name: sockcheck $cmd --spawn '$spawn' $extra"
    # shellcheck disable=SC2086
    env -u PYTHONUNBUFFERED "$bin" $cmd --spawn "$spawn" $extra --format json --output "$out/$tag.json" \
        >"$out/$tag.txt" 2>"$out/$tag.err" </dev/null
    echo "   exit $? ($(tail -2 "$out/$tag.txt" | head -1))"
    [ "${ALONE:-1}" = 0 ] && continue
    if [ "$cmd" = check ]; then list=$("$bin" list | awk '{print $1}'); else list=$("$bin" check-client --list | awk '{print $1}'); fi
    for s in $list; do
        # shellcheck disable=SC2086
        env -u PYTHONUNBUFFERED "$bin" $cmd --spawn "$spawn" $extra --filter "$s" --format json \
            --output "$out/$tag.alone.$s.json" >"$out/$tag.alone.$s.txt" 2>&1 </dev/null
    done
done
