"""Kept for code that still imports SEND_BINARY from here: import it from realtime.tuning."""

from realtime.tuning.send_binary import SEND_BINARY

__all__ = ["SEND_BINARY"]
