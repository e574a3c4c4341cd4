#!/usr/bin/env python3
"""An agent that asks the terminal where the cursor is (and what it is) before drawing, as
prompt_toolkit and Codex do, and logs the replies. Exits 9 if a reply never comes.

  queries.py LOG
"""

import os
import select
import sys
import termios
import time
import tty


def reply(fd, final, timeout=5.0):
    data = b""
    deadline = time.time() + timeout
    while not data.endswith(final):
        left = deadline - time.time()
        if left <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            data += os.read(fd, 1)
    return data


def main():
    path = sys.argv[1]
    fd = 0
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    results = []
    try:
        os.write(1, b"hello\r\n  world")
        for query, final in ((b"\x1b[6n", b"R"), (b"\x1b[c", b"c"), (b"\x1b[5n", b"n")):
            os.write(1, query)
            got = reply(fd, final)
            results.append((query, got))
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
    with open(path, "a", encoding="utf-8") as f:
        for query, got in results:
            f.write(f"{query.hex()} -> {got.hex() if got is not None else 'timeout'}\n")
    ok = all(got is not None for _, got in results)
    print("\r\nqueries answered" if ok else "\r\nqueries NOT answered")
    sys.stdout.flush()
    sys.exit(0 if ok else 9)


if __name__ == "__main__":
    main()
