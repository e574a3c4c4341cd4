#!/usr/bin/env python3
"""Write a file's bytes to the terminal unmodified (raw mode: no \n -> \r\n), then exit at once.

  flood.py FILE
"""

import os
import sys
import tty

tty.setraw(1)
with open(sys.argv[1], "rb") as f:
    data = f.read()
view = memoryview(data)
while view:
    n = os.write(1, view[:65536])
    view = view[n:]
os._exit(0)
