"""snnjax.host_memory: large freed buffers are reused instead of faulted in again."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from snnjax import host_memory

_FAULTS = r"""
import resource, sys
import numpy as np
from snnjax.host_memory import reuse_large_buffers
if sys.argv[1] == "on":
    assert reuse_large_buffers()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
n = 96 * 2**20 // 8  # a 96 MiB buffer, above glibc's default mmap threshold
x = np.ones(n); del x
before = faults()
for _ in range(4):
    x = np.ones(n); del x
print(faults() - before)
"""


def _page_faults(policy: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", _FAULTS, policy], capture_output=True, text=True, check=True
    )
    return int(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_reused_buffers_fault_no_pages_in_again():
    """Four fresh 96 MiB buffers fault their pages in each time by default; with the
    policy the freed heap memory is reused (counted in a fresh process each)."""
    default, reused = _page_faults("off"), _page_faults("on")
    assert default > 100, default
    assert reused < default / 10, (reused, default)


@pytest.mark.parametrize("bad", [0, -1, 2**31, 1.5, True, "1"])
def test_thresholds_must_be_positive_ints(bad):
    with pytest.raises(ValueError, match="int of bytes"):
        host_memory.reuse_large_buffers(mmap_threshold=bad)
    with pytest.raises(ValueError, match="int of bytes"):
        host_memory.reuse_large_buffers(trim_threshold=bad)


def test_other_c_libraries_are_left_alone(monkeypatch):
    monkeypatch.setattr(platform, "libc_ver", lambda: ("", ""))
    assert host_memory.reuse_large_buffers() is False
