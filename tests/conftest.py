"""Shared test configuration: Hypothesis profiles and the replay seed; a
small real file system to fill (fixtures `mount_tmpfs`, `fill_filesystem`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "nightly",
    deadline=None,
    max_examples=5_000,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def mount_tmpfs(tmp_path: Path) -> Iterator[Callable[[int], Path]]:
    """A factory mounting a tmpfs of the given size (bytes) under tmp_path: a
    real, small file system to fill. Skips the test unless run as root on Linux
    with `mount` available; unmounts everything at teardown."""
    mounted: list[Path] = []
    if sys.platform != "linux" or os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root on Linux to mount a small tmpfs")

    def mount(size_bytes: int) -> Path:
        target = tmp_path / f"tmpfs{len(mounted)}"
        target.mkdir()
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(target)],
            capture_output=True,
            timeout=30,
        )
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs: {result.stderr.decode(errors='replace')}")
        mounted.append(target)
        return target

    yield mount
    for target in reversed(mounted):
        subprocess.run(["umount", "-l", str(target)], capture_output=True, timeout=30)


@pytest.fixture
def fill_filesystem() -> Callable[[Path, int], Path]:
    """`fill(directory, leave_bytes)`: fill the file system of `directory`."""
    return _fill_filesystem


def _fill_filesystem(directory: Path, leave_bytes: int = 0) -> Path:
    """Fill the file system of `directory` with one file, leaving about
    `leave_bytes` free; return the file (delete it to free the space)."""
    filler = directory / "filler"
    stats = os.statvfs(directory)
    size = max(0, stats.f_bavail * stats.f_frsize - leave_bytes)
    with filler.open("wb") as stream:
        chunk = b"\0" * (1 << 20)
        try:
            while size > 0:
                size -= stream.write(chunk[: min(len(chunk), size)])
            stream.flush()
            os.fsync(stream.fileno())
        except OSError:
            pass  # full: what was wanted
    return filler
