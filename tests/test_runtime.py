"""The XLA CPU settings applied before JAX starts (see theory_lab/runtime.py)."""
import os

from theory_lab.runtime import EIGEN_FLAG, with_safe_cpu_flags


def test_eigen_pool_is_turned_off_and_other_flags_are_kept(monkeypatch):
    monkeypatch.delenv("THEORY_LAB_EIGEN_THREADS", raising=False)
    assert with_safe_cpu_flags(None) == EIGEN_FLAG
    assert with_safe_cpu_flags("--xla_force_host_platform_device_count=4") == (
        "--xla_force_host_platform_device_count=4 " + EIGEN_FLAG)
    assert with_safe_cpu_flags("--xla_cpu_multi_thread_eigen=true") == "--xla_cpu_multi_thread_eigen=true"
    monkeypatch.setenv("THEORY_LAB_EIGEN_THREADS", "1")
    assert with_safe_cpu_flags("") == ""


def test_this_test_process_runs_with_it():
    assert "xla_cpu_multi_thread_eigen" in os.environ.get("XLA_FLAGS", "")
