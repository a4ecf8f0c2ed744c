"""Launching the MPI worker from the tests: find mpirun, skip where MPI is absent."""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SRC = HERE.parents[1] / "src"


def mpirun_path() -> str | None:
    # The mpich wheel installs mpirun next to the interpreter (a venv's bin/).
    local = Path(sys.executable).parent / "mpirun"
    if local.exists():
        return str(local)
    return shutil.which("mpirun") or shutil.which("mpiexec")


def require_mpi():
    if importlib.util.find_spec("mpi4py") is None:
        pytest.skip("mpi4py is not installed (pip install 'rnnkit[mpi]')")
    if mpirun_path() is None:
        pytest.skip("no mpirun/mpiexec on PATH (pip install mpich)")


def env() -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([str(SRC)] + ([e["PYTHONPATH"]] if e.get("PYTHONPATH") else []))
    # One BLAS thread per rank: the ranks already fill the cores.
    e.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return e


def mpirun(n: int, args: list[str], timeout: float = 90, cwd=None) -> subprocess.CompletedProcess:
    """``mpirun -n N python ARGS`` with a timeout (a hang fails the test, never the suite)."""
    cmd = [mpirun_path(), "-n", str(n), sys.executable, *args]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env(), cwd=cwd)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"mpirun -n {n} {' '.join(args)} did not finish in {timeout}s (a hang?):\n"
                    f"{exc.stdout}\n{exc.stderr}")


def worker(n: int, case: str, outdir, timeout: float = 90) -> subprocess.CompletedProcess:
    return mpirun(n, [str(HERE / "mpi_worker.py"), case, str(outdir)], timeout=timeout)
