#!/usr/bin/env python3
"""An aider-like agent for the answer-rules tests.

For each COMMAND: prints an empty line, the command, and `Run shell command? [y/n] ` (the
subject sits right above the question, as in aider), reads one line, and logs it. After "n"
it asks "What should I do instead?" and logs the line it reads (the feedback).

  shellask.py LOG COMMAND...
"""

import sys
import time


def log(path, line):
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def main():
    path = sys.argv[1]
    commands = sys.argv[2:]
    print("Planning the work...")
    sys.stdout.flush()
    log(path, "started")
    for command in commands:
        sys.stdout.write(f"\n{command}\nRun shell command? [y/n] ")
        sys.stdout.flush()
        answer = sys.stdin.readline().strip()
        log(path, f"answer:{command}:{answer}")
        if answer == "n":
            sys.stdout.write("What should I do instead? ")
            sys.stdout.flush()
            feedback = sys.stdin.readline().rstrip("\n")
            log(path, f"feedback:{feedback}")
            print(f"ok, noted: {feedback}")
        else:
            print(f"ran: {command}")
        sys.stdout.flush()
    print("done")
    sys.stdout.flush()
    log(path, "done")
    time.sleep(0.3)


if __name__ == "__main__":
    main()
