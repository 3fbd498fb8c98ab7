"""Bad situations end in errors that say what to do next."""

from __future__ import annotations

import os
import shutil
import sys

from .conftest import labkit_cli


def test_no_go_and_no_binaries_says_how_to_get_them(tmp_path):
    # A PATH with python but without go, etcd or kube-*; an empty cache; no LABKIT_K8S_BIN.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    env = {k: v for k, v in os.environ.items() if k != "LABKIT_K8S_BIN"}
    env.update(PATH=str(bin_dir), LABKIT_CACHE=str(tmp_path / "cache"), LABKIT_HOME=str(tmp_path / "home"))
    result = labkit_cli("up", "--name", "nogo", env=env)
    assert result.returncode == 1
    message = result.stderr
    assert "Go is not installed" in message
    assert "labkit build" in message
    assert "kubernetes-server" in message
    assert "LABKIT_K8S_BIN" in message
    assert "Traceback" not in message


def test_a_go_too_old_to_build_says_which_go_is_needed(tmp_path):
    # A stand-in `go` that reports an old version (only `go env GOVERSION` is asked).
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    (bin_dir / "go").write_text("#!/bin/sh\necho go1.19.8\n")
    (bin_dir / "go").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "LABKIT_K8S_BIN"}
    env.update(PATH=str(bin_dir), LABKIT_CACHE=str(tmp_path / "cache"), LABKIT_HOME=str(tmp_path / "home"))
    result = labkit_cli("build", env=env)
    assert result.returncode == 1
    assert "is Go 1.19.8; building Kubernetes v1.37.2 needs Go >= 1.26" in result.stderr
    assert "LABKIT_K8S_BIN" in result.stderr and "Traceback" not in result.stderr


def test_an_etcd_on_path_of_another_minor_is_refused(tmp_path):
    from labkit.sandbox import binaries

    fake = tmp_path / "etcd"
    fake.write_text("#!/bin/sh\necho 'etcd Version: 3.5.21'\n")
    fake.chmod(0o755)
    assert not binaries._version_matches(fake, "etcd")
    fake.write_text("#!/bin/sh\necho 'etcd Version: 3.6.4'\n")
    assert binaries._version_matches(fake, "etcd")


def test_binaries_from_labkit_k8s_bin_are_used(tmp_path):
    from labkit.sandbox import binaries

    cached = binaries.cache_dir()
    if not (cached / "etcd").exists():
        import pytest

        pytest.skip("needs the built binaries in the cache")
    folder = tmp_path / "k8s-bin"
    folder.mkdir()
    for name in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        (folder / name).symlink_to(cached / name)
    old = os.environ.get("LABKIT_K8S_BIN")
    os.environ["LABKIT_K8S_BIN"] = str(folder)
    try:
        found = binaries.find_all()
    finally:
        if old is None:
            os.environ.pop("LABKIT_K8S_BIN")
        else:
            os.environ["LABKIT_K8S_BIN"] = old
    assert {b.source for b in found.values()} == {"LABKIT_K8S_BIN"}


def test_a_binary_on_path_with_the_wrong_minor_is_refused(tmp_path):
    from labkit.sandbox import binaries

    fake = tmp_path / "kube-apiserver"
    fake.write_text("#!/bin/sh\necho 'Kubernetes v1.34.1'\n")
    fake.chmod(0o755)
    old_path = os.environ["PATH"]
    os.environ["PATH"] = f"{tmp_path}:{old_path}"
    try:
        assert not binaries._version_matches(fake, "kube-apiserver")
        found = binaries.find("kube-apiserver")
        assert found is None or found.path != fake
    finally:
        os.environ["PATH"] = old_path


def test_nodes_out_of_range_are_refused():
    result = labkit_cli("up", "--name", "toomany", "--nodes", "0")
    assert result.returncode != 0
    assert "--nodes must be between 1 and" in result.stderr


def test_a_failed_build_shows_gos_error_and_how_to_retry(tmp_path):
    if not shutil.which("go"):
        import pytest

        pytest.skip("needs Go")
    env = dict(os.environ, LABKIT_CACHE=str(tmp_path / "cache"), GOPROXY="off",
               GOMODCACHE=str(tmp_path / "modcache"), GOFLAGS="-mod=mod")
    result = labkit_cli("build", "etcd", env=env, timeout=120)
    assert result.returncode == 1
    assert "failed (exit" in result.stderr
    assert "GOPROXY=off" in result.stderr or "module lookup disabled" in result.stderr
    assert "retry with `labkit build`" in result.stderr
    assert not list((tmp_path / "cache").glob("k8s/*/etcd"))
