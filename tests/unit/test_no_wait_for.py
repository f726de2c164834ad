"""``asyncio.wait_for`` is not used in the package: on Python 3.11 it swallows a cancel that
comes in the step its awaitable completes (it returns the result instead), so a loop around it
(a queue's get, an event's wait) can outlive its cancellation and hang a shutdown.
``asyncio.timeout`` has no such race."""

from __future__ import annotations

from pathlib import Path

import dockstate

PACKAGE = Path(dockstate.__file__).parent


def test_the_package_uses_asyncio_timeout_not_wait_for() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)}:{number}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "wait_for(" in line and "asyncio.wait_for" in line
    ]
    assert offenders == []
