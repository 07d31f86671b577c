"""
Patches to daphne, autobahn and Twisted, installed once when the ASGI application is built
(collab/asgi.py). Each corrects or speeds up how daphne handles WebSocket connections and keeps
its behaviour for everything else; each is a module here, and docs/server-tuning.md lists them.

A patch goes in only on the package versions it was verified on (realtime/tuning/patch.py), and
a speed-up only while NOTES_SPEEDUPS is on; otherwise the stock code runs (gate.py).
"""

from realtime.tuning.gate import install, speedups_enabled
from realtime.tuning.send_binary import SEND_BINARY

__all__ = ["SEND_BINARY", "install", "speedups_enabled"]
