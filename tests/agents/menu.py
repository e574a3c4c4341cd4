#!/usr/bin/env python3
"""A permission-menu agent for the wrap tests, drawn like Claude Code's dialog.

Raw mode, application cursor keys and bracketed paste on; the dialog is redrawn in place every
REDRAW seconds the way Ink does it (cursor up, erase, rewrite, in two writes), so a bridge
looking at half-drawn frames would see the prompt vanish and come back.

  menu.py LOG [--redraw SECS] [--self-answer SECS]

Keys: Up/Down (CSI or SS3), 1-3 pick at once, Enter picks the focused row, Esc = No,
Tab on "No" starts typing feedback (Enter submits). The choice and feedback are logged.
"""

import argparse
import os
import select
import sys
import termios
import time
import tty

OPTIONS = ["Yes", "Yes, and don't ask again for rm commands", "No"]


def log(path, line):
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def out(s):
    os.write(1, s.encode())


class Dialog:
    def __init__(self):
        self.focus = 0
        self.typing = None  # feedback text while amending
        self.lines = 0

    def render(self):
        rows = [
            "─" * 60,
            " Bash command",
            "",
            "   rm -rf build",
            "   Remove the build directory",
            "",
            " Do you want to proceed?",
        ]
        for i, label in enumerate(OPTIONS):
            marker = "❯" if i == self.focus else " "
            text = label
            if i == 2 and self.typing is not None:
                text = "No, " + (self.typing or "and tell Claude what to do differently")
            rows.append(f" {marker} {i + 1}. {text}")
        rows.append("")
        rows.append(" Esc to cancel · Tab to amend")
        return rows

    def draw(self, split=False):
        erase = ""
        if self.lines:
            erase = f"\x1b[{self.lines - 1}A\r" if self.lines > 1 else "\r"
            erase += "\x1b[J"
        rows = self.render()
        body = "\r\n".join(rows)
        if split:
            out(erase)
            time.sleep(0.03)
            out(body)
        else:
            out(erase + body)
        self.lines = len(rows)

    def clear(self):
        if self.lines:
            out((f"\x1b[{self.lines - 1}A" if self.lines > 1 else "") + "\r\x1b[J")
            self.lines = 0


def read_key(fd, timeout):
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        return None
    data = os.read(fd, 64)
    if data == b"\x1b":
        more, _, _ = select.select([fd], [], [], 0.05)
        if more:
            data += os.read(fd, 64)
    return data


def main():
    p = argparse.ArgumentParser()
    p.add_argument("log")
    p.add_argument("--redraw", type=float, default=0.3)
    p.add_argument("--self-answer", type=float)
    a = p.parse_args()

    fd = 0
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    out("\x1b[?1h\x1b[?2004h\x1b[?25l")
    out("Working on the task...\r\n")
    d = Dialog()
    d.draw()
    log(a.log, "asked")
    started = time.time()
    last = time.time()
    chosen = None
    feedback = None
    try:
        while chosen is None:
            if a.self_answer is not None and time.time() - started > a.self_answer:
                chosen = OPTIONS[0]
                log(a.log, "self-answer")
                break
            key = read_key(fd, 0.05)
            if key is None:
                if time.time() - last >= a.redraw:
                    d.draw(split=True)
                    last = time.time()
                continue
            log(a.log, "key:" + key.hex())
            key = key.replace(b"\x1b[200~", b"").replace(b"\x1b[201~", b"")
            if d.typing is not None:
                if key in (b"\r", b"\n"):
                    chosen, feedback = OPTIONS[2], d.typing
                elif key == b"\x7f":
                    d.typing = d.typing[:-1]
                elif not key.startswith(b"\x1b"):
                    d.typing += key.decode(errors="replace")
                d.draw()
                continue
            if key in (b"\x1b[A", b"\x1bOA"):
                d.focus = max(0, d.focus - 1)
            elif key in (b"\x1b[B", b"\x1bOB"):
                d.focus = min(len(OPTIONS) - 1, d.focus + 1)
            elif key in (b"1", b"2", b"3"):
                chosen = OPTIONS[int(key) - 1]
            elif key == b"\r":
                chosen = OPTIONS[d.focus]
            elif key == b"\x1b":
                chosen = "No (esc)"
            elif key == b"\t" and d.focus == 2:
                d.typing = ""
            elif key.startswith(b"\t") and d.focus == 2:
                d.typing = key[1:].decode(errors="replace")
            d.draw()
    finally:
        d.clear()
        out("\x1b[?2004l\x1b[?1l\x1b[?25h")
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
    log(a.log, f"choice:{chosen}")
    if feedback is not None:
        log(a.log, f"feedback:{feedback}")
    print(f"Chose: {chosen}" + (f" ({feedback})" if feedback else ""))
    sys.stdout.flush()
    time.sleep(0.3)


if __name__ == "__main__":
    main()
