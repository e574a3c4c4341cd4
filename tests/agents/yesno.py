#!/usr/bin/env python3
"""A line-prompt agent for the wrap tests.

Asks `[y/n]` questions in cooked mode (like `input()`), and appends what it read to a log file
so tests can check exactly what reached the agent.

  yesno.py LOG [--question Q]... [--exit CODE] [--self-answer SECS] [--exit-after SECS]
           [--linger SECS]

--self-answer: if nothing is typed within SECS, the agent answers its own prompt ("y") and
goes on, as if someone had typed at the keyboard. --exit-after: ask, then exit without reading
after SECS (the agent dies while a request is pending). After a "n" answer it asks
"What should I do instead?" and reads one more line.
"""

import argparse
import select
import sys
import time


def log(path, line):
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("log")
    p.add_argument("--question", action="append")
    p.add_argument("--exit", type=int, default=0)
    p.add_argument("--self-answer", type=float)
    p.add_argument("--exit-after", type=float)
    p.add_argument("--linger", type=float, default=0.3)
    a = p.parse_args()
    questions = a.question or ["Apply the change to config.toml?"]

    print("Planning the change...")
    print("  export OPENAI_API_KEY=sk-proj-AbCdEf0123456789xyzXYZ")
    print("  edit config.toml: retries = 3")
    sys.stdout.flush()
    log(a.log, "started")
    for q in questions:
        sys.stdout.write(f"{q} [y/n] ")
        sys.stdout.flush()
        if a.exit_after is not None:
            time.sleep(a.exit_after)
            log(a.log, "exiting while asked")
            sys.exit(a.exit)
        if a.self_answer is not None:
            ready, _, _ = select.select([sys.stdin], [], [], a.self_answer)
            if not ready:
                sys.stdout.write("y\n(answered by itself)\n")
                sys.stdout.flush()
                log(a.log, "answer:y (self)")
                continue
        answer = sys.stdin.readline().strip()
        log(a.log, f"answer:{answer}")
        if answer == "n":
            sys.stdout.write("What should I do instead? ")
            sys.stdout.flush()
            feedback = sys.stdin.readline().rstrip("\n")
            log(a.log, f"feedback:{feedback}")
            print(f"ok, noted: {feedback}")
        else:
            print(f"ok: {answer}")
        sys.stdout.flush()
    print("done")
    sys.stdout.flush()
    log(a.log, "done")
    time.sleep(a.linger)
    sys.exit(a.exit)


if __name__ == "__main__":
    main()
