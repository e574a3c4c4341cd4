#!/usr/bin/env python3
"""A line-prompt agent that timestamps its side of every prompt, for latency measurements
(the benchmark in tests/it/bench.rs) and the soak test (tests/it/soak.rs).

  stamp.py LOG [--count N] [--chatter LINES] [--every SECS] [--seed N] [--drain SECS]

For each of N prompts: prints LINES lines of chatter, then writes `Step K: proceed? [y/n] `
in one write and logs `asked K <ns>` with CLOCK_REALTIME taken right after that write
returned (the agent's last output byte). Then it reads one line and logs
`answer K <text> <ns>` with the time the line arrived (after `n` it asks "What should I do
instead?" and logs the next line as `feedback K <text>`). `--every` sleeps between prompts
(chatter keeps coming meanwhile, one line per 50 ms). At the end it logs `done`, then, with
`--drain`, keeps reading for SECS and logs `extra <text>` for anything else that arrives (an
answer typed twice).
"""

import argparse
import os
import random
import select
import sys
import time


def readline():
    """One line from fd 0, unbuffered, so nothing typed later hides in a buffer."""
    line = b""
    while not line.endswith(b"\n"):
        byte = os.read(0, 1)
        if not byte:
            break
        line += byte
    return line.decode(errors="replace")


def log(path, line):
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")
        f.flush()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("log")
    p.add_argument("--count", type=int, default=10)
    p.add_argument("--chatter", type=int, default=5)
    p.add_argument("--every", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--drain", type=float, default=0.0)
    a = p.parse_args()
    rnd = random.Random(a.seed)
    words = ["reading", "src/main.rs", "\x1b[32mok\x1b[0m", "tests", "passed", "diff", "+12 -3"]
    log(a.log, "started")
    for k in range(a.count):
        for i in range(a.chatter):
            line = " ".join(rnd.choice(words) for _ in range(rnd.randint(2, 12)))
            os.write(1, f"[{k}.{i}] {line}\n".encode())
        if a.every > 0:
            end = time.monotonic() + a.every
            while time.monotonic() < end:
                time.sleep(0.05)
                os.write(1, f"  working… {rnd.randint(0, 999)}\n".encode())
        os.write(1, f"Step {k}: proceed? [y/n] ".encode())
        asked = time.time_ns()
        log(a.log, f"asked {k} {asked}")
        line = readline()
        got = time.time_ns()
        if not line:
            log(a.log, f"eof {k} {got}")
            return
        log(a.log, f"answer {k} {line.strip()} {got}")
        if line.strip() == "n":
            # Like yesno.py: a reject is followed by a question the `n` choice waits for.
            os.write(1, b"What should I do instead? ")
            feedback = readline()
            log(a.log, f"feedback {k} {feedback.strip()}")
        os.write(1, f"ok: {line.strip()}\n".encode())
    log(a.log, "done")
    end = time.monotonic() + a.drain
    while True:
        left = end - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([sys.stdin], [], [], left)
        if ready:
            extra = os.read(0, 4096)
            if not extra:
                break
            log(a.log, f"extra {extra!r}")


if __name__ == "__main__":
    main()
