"""Two builds at once: the second waits for the first and reuses its output."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time

from labkit.sandbox import versions

_BUILD_ETCD_IF_MISSING = (
    "from labkit.sandbox import binaries; "
    "print(binaries.build(['etcd'], only_missing=True))"
)


def test_a_second_build_waits_for_the_first_and_reuses_its_binary(tmp_path):
    cache = tmp_path / "cache"
    out = cache / "k8s" / versions.KUBERNETES_VERSION
    out.mkdir(parents=True)
    env = dict(os.environ, LABKIT_CACHE=str(cache), GOPROXY="off")
    with open(cache / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)          # "the first build" is running
        second = subprocess.Popen([sys.executable, "-c", _BUILD_ETCD_IF_MISSING], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(3)
        assert second.poll() is None, "the second build did not wait for the lock"
        (out / "etcd").write_text("#!/bin/sh\n")  # the first build finishes its binary
    stdout, stderr = second.communicate(timeout=30)
    assert second.returncode == 0, stderr
    assert "another labkit build is running" in stdout + stderr
    assert str(out) in stdout
    assert (out / "etcd").read_text() == "#!/bin/sh\n"  # reused, not rebuilt (GOPROXY=off would fail)
