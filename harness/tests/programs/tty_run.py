#!/usr/bin/env python3
"""Not a program under test: a helper that runs a client the way a terminal does, to check the
"correct on a terminal" verdicts of EXPECTED.md with today's sockcheck (which uses pipes).

    sockcheck check-client --spawn "python3 harness/tests/programs/tty_run.py python3 CLIENT {port}"
    sockcheck check-client --spawn "python3 harness/tests/programs/tty_run.py --stdout-only python3 CLIENT {port}"

The client gets a pseudo-terminal as stdin and stdout (so C stdio, Python and Perl line-buffer
their output, and input() behaves as typed at a prompt); its stderr stays the one this helper was
given. The terminal's echo and its \\n -> \\r\\n output translation are turned off before the client
starts, so what comes out is exactly what the client printed. Lines from this helper's stdin are
typed into the terminal; at the end of stdin it types ^D (end of input), like a person would.
Exits with the client's status (128+N if a signal killed it).

With --stdout-only, only stdout is the terminal and stdin stays this helper's stdin (a pipe): a
terminal in canonical mode takes at most 4095 bytes per typed line (Linux N_TTY_BUF_SIZE), so
reply_over_64k_is_printed_whole, which types a 100 KiB line, cannot pass with stdin on a pty.
"""
import os
import pty
import select
import signal
import sys
import termios


def main(argv):
    stdout_only = argv[0] == "--stdout-only"
    if stdout_only:
        argv = argv[1:]
    master, slave = pty.openpty()
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.ONLCR  # oflag: print \n as \n
    attrs[3] &= ~(termios.ECHO | termios.ECHONL)  # lflag: no echo of typed input
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    pid = os.fork()
    if pid == 0:
        os.setsid()
        os.close(master)
        import fcntl

        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        if not stdout_only:
            os.dup2(slave, 0)
        os.dup2(slave, 1)
        os.close(slave)
        os.execvp(argv[0], argv)
    os.close(slave)
    signal.signal(signal.SIGTERM, lambda *_: (os.kill(pid, signal.SIGTERM), sys.exit(143)))
    stdin_open = not stdout_only
    pending = b""
    while True:
        fds = [master] + ([0] if stdin_open else [])
        ready, _, _ = select.select(fds, [], [], 0.05)
        if master in ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the client closed the terminal (exited)
                data = b""
            if not data:
                break
            os.write(1, data)
        if 0 in ready:
            data = os.read(0, 65536)
            if data:
                pending += data
            else:
                stdin_open = False
                pending += b"\x04"  # ^D: end of input (at the start of a line)
        if pending:
            try:
                n = os.write(master, pending[:1024])
                pending = pending[n:]
            except OSError:
                pending = b""
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            # the client exited: copy what it left in the terminal, then stop
            while select.select([master], [], [], 0.05)[0]:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    break
                if not data:
                    break
                os.write(1, data)
            sys.exit(os.waitstatus_to_exitcode(status) if os.waitstatus_to_exitcode(status) >= 0 else 128 - os.waitstatus_to_exitcode(status))
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: tty_run.py COMMAND [ARG...]")
    main(sys.argv[1:])
