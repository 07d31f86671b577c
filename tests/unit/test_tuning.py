"""
Which server patches go in (realtime/tuning/gate.py): the version gate and NOTES_SPEEDUPS.

Patches change classes for the whole process, so each case starts the app in a fresh Python
process (importing collab.asgi, as daphne does) and reads back what went in. The tests of what
each patch does are in test_daphne_connection.py and test_tuning_write_through.py.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from realtime.tuning.gate import PATCHES
from realtime.tuning.patch import FIX, SPEED, VERIFIED

ROOT = Path(__file__).resolve().parents[2]
FAKE_VERSION = "0.0.0.test"

# Run in a fresh process: report another version (argv[2]) of one package (argv[1]) if given,
# load the app as daphne does, install again, and print what is in place.
START_APP = """
import gc, json, sys

import django
django.setup()

from realtime.tuning import install, patch
from realtime.tuning.gate import PATCHES

if len(sys.argv) > 1:
    real = patch.installed_version
    patch.installed_version = lambda name: sys.argv[2] if name == sys.argv[1] else real(name)

def current():
    return {p.name: getattr(*p.resolve()) for p in PATCHES}

stock = current()
import collab.asgi  # noqa: E402
loaded = current()
install()
print(json.dumps({
    "in_effect": sorted(p.name for p in PATCHES if p.in_effect()),
    "untouched": sorted(name for name in stock if loaded[name] is stock[name]),
    "again_unchanged": current() == loaded,
    "frozen": gc.get_freeze_count(),
}))
"""


def start_app(*, speedups: str, mismatch: str | None = None) -> dict:
    """What the app's process has in place once loaded, and its "logs" from realtime.tuning."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "collab.settings",
        "NOTES_SPEEDUPS": speedups,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
    }
    result = subprocess.run(
        [sys.executable, "-c", START_APP, *([mismatch, FAKE_VERSION] if mismatch else [])],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    state = json.loads(result.stdout.splitlines()[-1])
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    state["logs"] = [
        (line["level"].upper(), line["event"])
        for line in lines
        if line["logger"] == "realtime.tuning"
    ]
    return state


def names(kind=None, package=None) -> list[str]:
    return sorted(
        p.name
        for p in PATCHES
        if (kind is None or p.kind == kind) and (package is None or package in p.verified)
    )


@pytest.mark.parametrize("package", sorted(VERIFIED))
def test_a_patch_on_another_version_stays_out_with_one_warning_and_the_stock_code(package):
    state = start_app(speedups="1", mismatch=package)
    left_out = names(package=package)
    assert left_out, f"no patch depends on {package}"
    assert state["in_effect"] == sorted(set(names()) - set(left_out))
    assert state["untouched"] == left_out  # the stock functions, not a wrapper around them
    warnings = [message for level, message in state["logs"] if level == "WARNING"]
    assert len(warnings) == len(left_out) == len(state["logs"])
    for name, warning in zip(left_out, sorted(warnings), strict=True):
        assert warning.startswith(f"patch {name} left out, the stock code runs instead"), warning
        verified, installed = warning.split("verified on ")[1].split("; installed ")
        patch = next(p for p in PATCHES if p.name == name)
        for other, version in patch.verified.items():
            assert f"{other} {version}" in verified, warning
            assert f"{other} {FAKE_VERSION if other == package else version}" in installed
    assert state["again_unchanged"]


@pytest.mark.parametrize("speedups", ["1", "0"])
def test_notes_speedups_switches_the_speed_patches_and_the_heap_freeze_only(speedups):
    state = start_app(speedups=speedups)
    on = speedups == "1"
    assert state["in_effect"] == sorted(names(FIX) + (names(SPEED) if on else []))
    assert state["untouched"] == ([] if on else names(SPEED))
    assert (state["frozen"] > 0) is on  # collab/asgi.py's gc.freeze()
    expected_logs = [] if on else [("INFO", name) for name in names(SPEED)]
    assert sorted((level, message.split()[1]) for level, message in state["logs"]) == expected_logs
    for _, message in state["logs"]:
        assert "left out: NOTES_SPEEDUPS is off" in message, message
    assert state["again_unchanged"]


def test_every_patch_is_a_named_unit_on_the_versions_it_names():
    assert len({p.name for p in PATCHES}) == len(PATCHES)
    for patch in PATCHES:
        assert patch.kind in (FIX, SPEED)
        assert patch.purpose
        assert patch.verified and set(patch.verified) <= set(VERIFIED)
        owner, attribute = patch.resolve()
        assert hasattr(owner, attribute), patch.target


def test_the_verified_daphne_is_the_one_requirements_txt_pins():
    pins = dict(
        line.split("==")
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    assert pins["daphne"] == VERIFIED["daphne"]


def test_the_tuning_doc_lists_every_patch_with_its_kind_and_versions():
    doc = (ROOT / "docs" / "server-tuning.md").read_text()
    for patch in PATCHES:
        row = re.search(rf"^\| `{patch.name}` \|.*$", doc, re.MULTILINE)
        assert row, f"docs/server-tuning.md has no table row for {patch.name}"
        assert f"| {patch.kind} |" in row.group(0)
        for package, version in patch.verified.items():
            assert f"{package} {version}" in row.group(0)
