"""
One patch to daphne, autobahn or Twisted: the attribute it replaces, why, and the versions of
the packages it was verified on.

Every patch here has the same shape: a class attribute (a method) is replaced by a function
that wraps the stock one. So applying a patch and telling whether it is in effect work the same
way for all of them, and the stock function stays reachable as the replacement's `__wrapped__`.
"""

import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata

# Kinds of patch. A fix corrects behaviour the app relies on; a speed-up changes only how fast
# the same thing happens, and NOTES_SPEEDUPS can leave it out.
FIX = "fix"
SPEED = "speed"

# The versions every patch was last verified on, pinned in requirements.txt. After an upgrade
# the patches that read or replace code of the upgraded package stay out (with a warning)
# until they are verified again and this is updated.
VERIFIED = {"daphne": "4.2.3", "autobahn": "26.11.1", "Twisted": "26.10.0"}


def verified_on(*packages: str) -> dict[str, str]:
    """The verified versions of the packages a patch depends on."""
    return {package: VERIFIED[package] for package in packages}


def installed_version(package: str) -> str | None:
    """The installed version of a distribution, or None if it is not installed."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


@dataclass(frozen=True)
class Patch:
    name: str
    kind: str  # FIX or SPEED
    purpose: str  # what it fixes or speeds up, in one line
    verified: Mapping[str, str]  # package -> the version it was verified on
    target: str  # "module:Class.attribute", the attribute it replaces
    wrap: Callable[[Callable], Callable]  # the stock attribute -> its replacement

    def installed(self) -> dict[str, str | None]:
        """The installed versions of the packages this patch was verified on."""
        return {package: installed_version(package) for package in self.verified}

    def versions_match(self) -> bool:
        return self.installed() == dict(self.verified)

    def apply(self) -> None:
        """Replace the target with the patched function (whatever the versions)."""
        owner, attribute = self.resolve()
        stock = getattr(owner, attribute)
        replacement = self.wrap(stock)
        replacement.__wrapped__ = stock
        replacement.tuning_patch = self.name
        setattr(owner, attribute, replacement)

    def in_effect(self) -> bool:
        """Whether the target is this patch's function right now."""
        owner, attribute = self.resolve()
        return getattr(getattr(owner, attribute), "tuning_patch", None) == self.name

    def resolve(self) -> tuple[type, str]:
        """The class the target belongs to, and the attribute's name."""
        # Imported only when needed: importing daphne.server installs Twisted's reactor.
        owner, attribute = self.target.rsplit(".", 1)
        return pkgutil.resolve_name(owner), attribute


def describe_versions(versions: Mapping[str, str | None]) -> str:
    """`daphne 4.2.3, autobahn 26.11.1`, for logs and failure messages."""
    return ", ".join(
        f"{package} {version or '(not installed)'}" for package, version in versions.items()
    )
