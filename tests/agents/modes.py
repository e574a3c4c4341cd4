#!/usr/bin/env python3
"""Switch on the terminal modes TUIs use (alternate screen, hidden cursor, bracketed paste,
mouse reporting, application cursor keys, focus events, kitty keyboard), then either exit
without switching them off, or wait to be killed.

  modes.py [--exit CODE | --wait]
"""

import os
import sys
import time

os.write(1, b"\x1b[?1049h\x1b[?25l\x1b[?2004h\x1b[?1000h\x1b[?1006h\x1b[?1h\x1b[?1004h\x1b[>1u")
os.write(1, b"\x1b[1;1HREADY modes on\r\n")
if len(sys.argv) > 1 and sys.argv[1] == "--wait":
    while True:
        time.sleep(1)
code = int(sys.argv[2]) if len(sys.argv) > 2 else 0
time.sleep(0.2)
sys.exit(code)
