"""
Which patches go in: each one whose packages are installed at the versions it was verified on,
speed-ups only while NOTES_SPEEDUPS is on. Any other patch is left out, with a log line that
names it, and the stock code runs instead.
"""

import logging

from django.conf import settings

from realtime.tuning import (
    close_codes,
    content_type,
    send_binary,
    send_size,
    upgrade_request,
    write_through,
)
from realtime.tuning.patch import SPEED, describe_versions

logger = logging.getLogger("realtime.tuning")

PATCHES = (
    close_codes.PATCH,
    send_size.PATCH,
    upgrade_request.PATCH,
    write_through.PATCH,
    write_through.SEQUENCE_PATCH,
    content_type.PATCH,
    send_binary.PATCH,
)

_installed = False


def speedups_enabled() -> bool:
    """Whether speed-only tuning is on (the NOTES_SPEEDUPS setting)."""
    return settings.NOTES_SPEEDUPS


def install() -> None:
    """Called when the ASGI application is built: apply the patches that fit; later calls do
    nothing."""
    global _installed
    if _installed:
        return
    _installed = True
    speedups = speedups_enabled()
    for patch in PATCHES:
        if patch.in_effect():
            continue
        if patch.kind == SPEED and not speedups:
            logger.info(
                "patch %s left out: NOTES_SPEEDUPS is off (%s)",
                patch.name,
                patch.purpose,
                extra={"patch": patch.name},
            )
        elif patch.versions_match():
            patch.apply()
        else:
            _warn_left_out(patch)


def _warn_left_out(patch) -> None:
    verified = describe_versions(patch.verified)
    installed = describe_versions(patch.installed())
    logger.warning(
        "patch %s left out, the stock code runs instead (%s): verified on %s; installed %s. "
        "See docs/server-tuning.md to verify it again.",
        patch.name,
        patch.purpose,
        verified,
        installed,
        extra={"patch": patch.name, "verified": verified, "installed": installed},
    )
