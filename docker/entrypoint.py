"""The container's entrypoint: ``dockstate serve`` on 0.0.0.0, as a non-root user.

Started as root (the image's default), it adds the ``dockstate`` user to the group that owns
the mounted Docker socket (whatever its gid on this host), makes sure the user owns ``/data``,
and drops to that user. Started with ``--user`` already (then give it the socket's group with
``--group-add $(stat -c %g /var/run/docker.sock)``), it only runs the server.

``serve`` refuses to listen beyond loopback with a random token, so the token is this
script's: ``$DOCKSTATE_TOKEN`` if set, else the one kept in ``/data/token`` (made on the first
start, so sessions and bookmarks survive a restart). A token it made is printed once at each
start, as the URL to open (``$DOCKSTATE_URL``, default ``http://127.0.0.1:$DOCKSTATE_PORT``),
so ``docker logs`` shows it. Extra arguments go to ``dockstate serve``.
"""

from __future__ import annotations

import grp
import os
import pwd
import secrets
import sys
from pathlib import Path

USER = "dockstate"
DATA = Path("/data")
TOKEN_FILE = DATA / "token"


def socket_path() -> Path:
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        return Path(host.removeprefix("unix://"))
    return Path("/var/run/docker.sock")


def drop_privileges() -> None:
    """As root: join the socket's group, own /data, become ``dockstate``."""
    user = pwd.getpwnam(USER)
    groups = {user.pw_gid}
    sock = socket_path()
    try:
        groups.add(sock.stat().st_gid)
    except OSError:
        print(
            f"dockstate-entrypoint: no Docker socket at {sock}: mount it with "
            f"-v /var/run/docker.sock:{sock}",
            file=sys.stderr,
            flush=True,
        )
    for path in (DATA, *DATA.iterdir()) if DATA.is_dir() else ():
        # A bind-mounted or older /data: its files are the user's.
        if path.stat().st_uid != user.pw_uid:
            os.chown(path, user.pw_uid, user.pw_gid)
    os.setgroups(sorted(groups))
    os.setgid(user.pw_gid)
    os.setuid(user.pw_uid)
    os.environ["HOME"] = user.pw_dir
    os.environ["USER"] = USER


def token() -> tuple[str, bool]:
    """The token, and whether it is one of ours (to be printed)."""
    given = os.environ.get("DOCKSTATE_TOKEN")
    if given:
        return given, False
    try:
        kept = TOKEN_FILE.read_text().strip()
        if kept:
            return kept, True
    except OSError:
        pass
    made = secrets.token_urlsafe(32)
    try:
        fd = os.open(TOKEN_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(made + "\n")
    except OSError as error:
        print(
            f"dockstate-entrypoint: cannot keep the token in {TOKEN_FILE} ({error}): "
            "it changes on every start",
            file=sys.stderr,
            flush=True,
        )
    return made, True


def main() -> None:
    if os.getuid() == 0:
        drop_privileges()
    secret, ours = token()
    os.environ["DOCKSTATE_TOKEN"] = secret
    port = os.environ.get("DOCKSTATE_PORT", "8765")
    if ours:
        url = os.environ.get("DOCKSTATE_URL", f"http://127.0.0.1:{port}").rstrip("/")
        print(
            f"dockstate: open {url}/?token={secret}  (the port published with -p; "
            f"set $DOCKSTATE_URL to change this address)",
            flush=True,
        )
    try:
        groups = ", ".join(grp.getgrgid(g).gr_name if _named(g) else str(g) for g in os.getgroups())
    except OSError:
        groups = "?"
    print(
        f"dockstate: running as {pwd.getpwuid(os.getuid()).pw_name if _user() else os.getuid()}"
        f" (groups: {groups})",
        flush=True,
    )
    argv = [
        "dockstate",
        "serve",
        "--host",
        os.environ.get("DOCKSTATE_HOST", "0.0.0.0"),
        "--port",
        port,
        *sys.argv[1:],
    ]
    os.execvp(argv[0], argv)


def _named(gid: int) -> bool:
    try:
        grp.getgrgid(gid)
    except KeyError:
        return False
    return True


def _user() -> bool:
    try:
        pwd.getpwuid(os.getuid())
    except KeyError:
        return False
    return True


if __name__ == "__main__":
    main()
