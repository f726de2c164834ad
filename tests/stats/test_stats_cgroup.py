"""The cgroup readers on file trees copied from real hosts (tests/stats/fixtures/README.md):
cgroup v1 and v2, the cgroupfs and systemd drivers, and containers vanishing mid-read."""

from __future__ import annotations

import json
import resource
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from dockstate.engine import DockerClient
from dockstate.stats import (
    AutoSource,
    CgroupReader,
    CgroupSource,
    Counters,
    Target,
    counters_from_api,
    make_source,
)
from dockstate.stats._procfs import (
    RESERVED_FILES,
    KeptFiles,
    parse_mountinfo,
    parse_net_dev,
    parse_proc_cgroup,
    read_text,
)

FIXTURES = Path(__file__).parent / "fixtures"
V1_ID = "4dfca53b5f3be6397258ed7142fa64bfb7da4cd7885c7b117609b8bfeb4eddff"
HAND_ID = "9c1e4f1a7b3d2e5f6a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f"
HOST_MEMORY = 24683584 * 1024  # MemTotal of the fixtures' proc/meminfo
MIB = 1 << 20


class FakeDocker:
    """An engine whose inspect tells each container's init pid."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.inspects = 0

    async def inspect_container(self, container_id: str) -> dict[str, object] | None:
        self.inspects += 1
        pid = self.pids.get(container_id)
        return None if pid is None else {"Id": container_id, "State": {"Pid": pid}}


def test_v1_cgroupfs_reads_what_docker_stats_showed() -> None:
    reader = CgroupReader(FIXTURES / "v1-cgroupfs")
    assert reader.version == 1
    assert reader.readable
    loc = reader.locate(V1_ID, 600)
    assert loc is not None
    assert set(loc.dirs) == {"cpuacct", "memory", "blkio", "pids"}
    assert loc.dirs["memory"] == FIXTURES / f"v1-cgroupfs/sys/fs/cgroup/memory/docker/{V1_ID}"
    c = reader.read(loc)
    # usage_in_bytes 26021888 - total_inactive_file 8388608 (the 16 MiB in /dev/shm counts)
    assert c.memory_bytes == 26021888 - 8388608
    assert c.memory_limit_bytes == HOST_MEMORY  # unlimited: capped to the host's memory
    assert (c.net_rx_bytes, c.net_tx_bytes) == (586, 0)
    assert (c.block_read_bytes, c.block_write_bytes, c.pids) == (0, 0, 1)

    cli = json.loads((FIXTURES / "v1-cgroupfs/docker-stats.json").read_text())
    assert cli["MemUsage"] == f"{c.memory_bytes / MIB:.2f}MiB / {HOST_MEMORY / (1 << 30):.2f}GiB"
    assert cli["NetIO"] == "586B / 0B"
    api = counters_from_api(json.loads((FIXTURES / "v1-cgroupfs/api-stats.json").read_text()))
    assert api is not None
    assert (api.cpu_ns, api.memory_bytes, api.memory_limit_bytes, api.pids) == (
        c.cpu_ns,
        c.memory_bytes,
        c.memory_limit_bytes,
        c.pids,
    )
    assert api.block_read_bytes == c.block_read_bytes
    assert api.net_rx_bytes >= c.net_rx_bytes  # read a moment later: a few ARP bytes more


def test_v1_systemd_driver_with_comounted_cpu_cpuacct() -> None:
    reader = CgroupReader(FIXTURES / "v1-systemd")
    loc = reader.locate(HAND_ID, 4242)
    assert loc is not None
    scope = f"system.slice/docker-{HAND_ID}.scope"
    assert loc.dirs["cpuacct"] == FIXTURES / "v1-systemd/sys/fs/cgroup/cpu,cpuacct" / scope
    c = reader.read(loc)
    assert c.memory_bytes == 26021888 - 8388608
    assert c.memory_limit_bytes == 512 * MIB
    assert (c.net_rx_bytes, c.net_tx_bytes) == (104857 + 1000, 20480 + 500)  # not lo
    assert (c.block_read_bytes, c.block_write_bytes) == (1048576 + 2048, 4096 + 8192)
    assert c.cpu_ns == int(read_text(loc.dirs["cpuacct"] / "cpuacct.usage"))


@pytest.mark.parametrize(
    ("tree", "cgroup", "limit", "block"),
    [
        ("v2-systemd", f"system.slice/docker-{HAND_ID}.scope", HOST_MEMORY, (1050624, 12288)),
        ("v2-cgroupfs", f"docker/{HAND_ID}", 256 * MIB, (0, 0)),
    ],
)
def test_v2_both_drivers(tree: str, cgroup: str, limit: int, block: tuple[int, int]) -> None:
    reader = CgroupReader(FIXTURES / tree)
    assert reader.version == 2
    loc = reader.locate(HAND_ID, 4242)
    assert loc is not None
    assert loc.dirs == {"unified": FIXTURES / tree / "sys/fs/cgroup" / cgroup}
    c = reader.read(loc)
    assert c.cpu_ns == 2_500_000 * 1000  # usage_usec in ns
    assert c.memory_bytes == 26021888 - 8388608  # memory.current - inactive_file
    assert c.memory_limit_bytes == limit
    assert (c.block_read_bytes, c.block_write_bytes) == block
    assert c.pids == 3


def test_a_process_that_is_not_the_containers_is_unreadable_here() -> None:
    # Another pid namespace: the pid exists here, but its cgroup does not name the id.
    assert CgroupReader(FIXTURES / "v1-cgroupfs").locate(HAND_ID, 600) is None


def test_a_gone_process_raises_oserror() -> None:
    with pytest.raises(FileNotFoundError):
        CgroupReader(FIXTURES / "v1-cgroupfs").locate(V1_ID, 999999)


def test_no_cgroup_mounts_is_not_readable(tmp_path: Path) -> None:
    (tmp_path / "proc/self").mkdir(parents=True)
    (tmp_path / "proc/self/mountinfo").write_text("25 1 8:1 / / rw - ext4 /dev/sda1 rw\n")
    reader = CgroupReader(tmp_path)
    assert reader.version is None
    assert not reader.readable


@pytest.mark.parametrize("tree", ["v1-cgroupfs", "v1-systemd", "v2-systemd"])
@pytest.mark.parametrize("after", [1, 2, 3, 5, 7])
def test_a_container_vanishing_mid_read_gives_no_sample(
    tmp_path: Path, tree: str, after: int
) -> None:
    root = tmp_path / tree
    shutil.copytree(FIXTURES / tree, root)
    cid, pid = (V1_ID, 600) if tree == "v1-cgroupfs" else (HAND_ID, 4242)
    calls = -1  # not counting until located

    def read_then_vanish(path: str) -> str:
        nonlocal calls
        if calls >= 0:
            calls += 1
        if calls == after:  # the container stops: its cgroups and its process go away
            for d in (root / "sys/fs/cgroup").rglob(f"*{cid}*"):
                shutil.rmtree(d, ignore_errors=True)
            shutil.rmtree(root / f"proc/{pid}")
        return read_text(path)

    reader = CgroupReader(root, read=read_then_vanish)
    loc = reader.locate(cid, pid)
    assert loc is not None
    calls = 0
    assert reader.read_many([loc]) == {}


async def test_cgroup_source_drops_a_vanished_container_and_looks_it_up_again(
    tmp_path: Path,
) -> None:
    root = tmp_path / "t"
    shutil.copytree(FIXTURES / "v1-cgroupfs", root)
    docker = FakeDocker({V1_ID: 600})
    # Files opened for each read: a fixture tree's deleted file, unlike a removed cgroup's
    # (ENODEV), stays readable through a descriptor kept open.
    source = CgroupSource(docker, CgroupReader(root, read=read_text))
    target = Target(V1_ID, started_at="2026-12-02T19:59:00Z")
    assert set(await source.read([target])) == {V1_ID}
    assert set(await source.read([target])) == {V1_ID}
    assert docker.inspects == 1  # one pid lookup per start
    shutil.rmtree(root / "proc/600")
    assert await source.read([target]) == {}
    assert await source.read([target]) == {}  # looked up again; the process is gone
    assert docker.inspects == 2
    # a restart (new started_at) is looked up again
    shutil.copytree(FIXTURES / "v1-cgroupfs/proc/600", root / "proc/600")
    restarted = Target(V1_ID, started_at="2026-12-02T20:10:00Z")
    assert set(await source.read([restarted])) == {V1_ID}
    # an unknown container (inspect: 404) and a stopped one (pid 0) give no sample
    docker.pids["gone"] = 0
    assert set(await source.read([restarted, Target("gone"), Target("nope")])) == {V1_ID}


def test_parsers() -> None:
    mounts = parse_mountinfo(
        "30 25 0:26 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
        "31 25 0:27 / /sys/fs/cgroup/x\\040y rw - cgroup2 cgroup2 rw\n"
    )
    assert mounts[0].path_of("/docker/abc/sub") == "/sys/fs/cgroup/memory/sub"
    assert mounts[0].path_of("/other") is None
    assert mounts[1].mountpoint == "/sys/fs/cgroup/x y"
    cg = parse_proc_cgroup("3:cpu,cpuacct:/a\n0::/b\n1:name=systemd:/c\n")
    assert cg.v1 == {"cpu": "/a", "cpuacct": "/a", "name=systemd": "/c"}
    assert cg.unified == "/b"
    assert parse_net_dev("h1\nh2\n  lo: 5 0 0 0 0 0 0 0 5 0 0 0 0 0 0 0\n") == (0, 0)


class FakeApi:
    name = "api"

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def read(self, targets: Sequence[Target]) -> dict[str, Counters]:
        self.asked += [t.id for t in targets]
        return {t.id: Counters(1, 1, 1, 1, 1, 1, 1, 1, 1) for t in targets}


async def test_auto_asks_the_api_only_for_containers_unreadable_here() -> None:
    # HAND_ID's "init process" is pid 600, whose cgroup names another container: another pid
    # namespace, as with a remote or virtualized engine.
    docker = FakeDocker({V1_ID: 600, HAND_ID: 600, "stopped": 0})
    cgroup = CgroupSource(docker, CgroupReader(FIXTURES / "v1-cgroupfs"))
    api = FakeApi()
    source = AutoSource(cgroup, api)  # type: ignore[arg-type]
    targets = [Target(V1_ID), Target(HAND_ID), Target("stopped")]
    out = await source.read(targets)
    assert set(out) == {V1_ID, HAND_ID}
    assert out[V1_ID].memory_bytes == 26021888 - 8388608  # from the files
    assert api.asked == [HAND_ID]
    await source.read(targets)
    assert api.asked == [HAND_ID, HAND_ID]
    assert docker.inspects == 4  # V1_ID and HAND_ID once, "stopped" at each tick


@pytest.mark.parametrize(
    ("mode", "host", "tree", "expected"),
    [
        ("auto", "unix:///var/run/docker.sock", "v1-cgroupfs", "auto"),
        ("auto", "unix:///var/run/docker.sock", "nothing-mounted", "api"),
        ("auto", "tcp://127.0.0.1:2375", "v1-cgroupfs", "api"),  # a remote engine
        ("cgroup", "tcp://127.0.0.1:2375", "v1-cgroupfs", "cgroup"),
        ("api", "unix:///var/run/docker.sock", "v1-cgroupfs", "api"),
    ],
)
async def test_stats_source_modes(mode: str, host: str, tree: str, expected: str) -> None:
    async with DockerClient(host) as docker:
        source = make_source(mode, docker, reader=CgroupReader(FIXTURES / tree))  # type: ignore[arg-type]
        assert source.name == expected


def test_kept_files_read_afresh_and_close_what_is_no_longer_read(tmp_path: Path) -> None:
    counter, other = tmp_path / "cpuacct.usage", tmp_path / "pids.current"
    counter.write_text("100\n")
    other.write_text("1\n")
    kept = KeptFiles(budget=10)
    read = kept.reader("c1:600")
    assert read(str(counter)) == "100\n"
    with open(counter, "r+") as f:  # rewritten in place, as the kernel renders it anew
        f.write("250\n")
    assert read(str(counter)) == "250\n"
    kept.reader("c2:700")(str(other))
    assert kept.open_files == 2
    kept.keep_only(["c2:700"])  # c1 is no longer read: its file is closed
    assert kept.open_files == 1
    kept.close()
    assert kept.open_files == 0


def test_kept_files_past_the_budget_open_for_each_read(tmp_path: Path) -> None:
    files = [tmp_path / f"f{n}" for n in range(3)]
    for n, f in enumerate(files):
        f.write_text(f"{n}\n")
    kept = KeptFiles(budget=2)
    read = kept.reader("c1:600")
    assert [read(str(f)) for f in files] == ["0\n", "1\n", "2\n"]
    assert kept.open_files == 2


def test_a_removed_cgroup_s_kept_file_raises_and_is_closed() -> None:
    # A directory read as a file fails as a removed cgroup's file does (an OSError).
    kept = KeptFiles(budget=4)
    read = kept.reader("c1:600")
    with pytest.raises(IsADirectoryError):
        read(str(FIXTURES))
    assert kept.open_files == 0


def test_kept_files_budget_leaves_a_reserve_and_holds_1000_containers() -> None:
    """By default the budget is the soft open-files limit but a reserve for the server's
    connections: at a limit of 20 000 (this machine's), 1000 containers' 7000 files fit (the
    old quarter, 4936, did not: a third of them were opened for every read); at the common
    1024, half is kept for the rest of the process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 20_000:
        pytest.skip(f"the hard open-files limit here is {hard}")
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (20_000, hard))
        assert KeptFiles().budget == 20_000 - RESERVED_FILES >= 7 * 1000
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
        assert KeptFiles().budget == 512
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
