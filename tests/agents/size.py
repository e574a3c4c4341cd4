#!/usr/bin/env python3
"""Print the terminal size at start and on every SIGWINCH; exit on "q".

  size.py
"""

import os
import signal
import sys
import termios
import tty


def show(*_):
    cols, rows = os.get_terminal_size(0)
    os.write(1, f"size {cols}x{rows}\r\n".encode())


signal.signal(signal.SIGWINCH, show)
saved = termios.tcgetattr(0)
tty.setraw(0)
try:
    show()
    while True:
        try:
            key = os.read(0, 16)
        except InterruptedError:
            continue
        if b"q" in key:
            break
finally:
    termios.tcsetattr(0, termios.TCSADRAIN, saved)
sys.exit(0)
