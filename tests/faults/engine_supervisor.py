"""Runs one private dockerd and reaps everything it leaves behind (a test helper process).

Usage: ``python engine_supervisor.py ROOT -- DOCKERD ARGS...``, then one command per line on
stdin, each answered by one line on stdout:

- ``start``: start dockerd; answers ``started <pid>``.
- ``kill``: SIGKILL dockerd, and wait until the containerd it ran has exited too; answers
  ``killed``.
- ``stop``: SIGTERM dockerd and wait for it (SIGKILL after 30 s); answers ``stopped``.

On end of input it stops dockerd, kills what is left of its descendants, and exits.

Why a process of its own: dockerd's containerd and container shims outlive a killed dockerd
and are re-parented to the nearest "subreaper", by default the machine's init. Where that init
does not reap (as in some sandboxes), they stay zombies, and a restarted dockerd takes the
zombie of its old containerd for a live one and fails to start. This process declares itself
the subreaper of everything below it and reaps it all.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36


class Reaper:
    """Reaps every child (ours, and the orphans re-parented to us) in a thread."""

    def __init__(self) -> None:
        self.exited: set[int] = set()
        self._changed = threading.Condition()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                pid, _ = os.waitpid(-1, 0)
            except ChildProcessError:
                time.sleep(0.05)
                continue
            with self._changed:
                self.exited.add(pid)
                self._changed.notify_all()

    def wait(self, pid: int, timeout: float) -> bool:
        """Whether ``pid`` exited (and was reaped) within ``timeout`` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: pid in self.exited, timeout)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def descendants() -> list[int]:
    """The processes whose parent is this one (re-parented orphans included)."""
    mine = str(os.getpid())
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[1] == mine and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def main(root: Path, command: list[str]) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    reaper = Reaper()
    dockerd: int | None = None
    log = os.open(root / "dockerd.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def stop() -> None:
        nonlocal dockerd
        if dockerd is not None and dockerd not in reaper.exited:
            os.kill(dockerd, signal.SIGTERM)
            if not reaper.wait(dockerd, 30):
                os.kill(dockerd, signal.SIGKILL)
                reaper.wait(dockerd, 10)
        dockerd = None

    for line in sys.stdin:
        verb = line.strip()
        if verb == "start":
            dockerd = os.posix_spawnp(
                command[0],
                command,
                dict(os.environ),
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_DUP2, log, 1),
                    (os.POSIX_SPAWN_DUP2, log, 2),
                ],
            )
            print(f"started {dockerd}", flush=True)
        elif verb == "kill":
            assert dockerd is not None
            containerd_pid = root / "exec" / "containerd" / "containerd.pid"
            containerd = int(containerd_pid.read_text()) if containerd_pid.exists() else None
            os.kill(dockerd, signal.SIGKILL)
            reaper.wait(dockerd, 10)
            dockerd = None
            deadline = time.monotonic() + 30
            while containerd is not None and alive(containerd) and time.monotonic() < deadline:
                time.sleep(0.05)
            print("killed", flush=True)
        elif verb == "stop":
            stop()
            print("stopped", flush=True)
    stop()
    deadline = time.monotonic() + 10
    while descendants() and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in descendants():  # what would not end by itself: ours, and ended by id
        os.kill(pid, signal.SIGKILL)


if __name__ == "__main__":
    separator = sys.argv.index("--")
    main(Path(sys.argv[1]), sys.argv[separator + 1 :])
