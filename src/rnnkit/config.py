"""Settings that steer how rnnkit computes: the one place that reads ``RNNKIT_*``.

Everything that decides *how* a recurrent layer runs (which engine, how many threads,
the measured crossovers between engines) is one immutable :class:`Settings` object.
It is read from the environment once, at import, and changed only through this
module::

    import rnnkit
    rnnkit.config.set_engine("reference")          # for the rest of the process
    with rnnkit.config.use_engine("numpy"):        # for a block
        model.predict(x)
    with rnnkit.config.override(threads=1):        # any field, for a block
        model.fit(x, y)

A layer can also choose for itself: ``LSTM(32, engine="reference")``.

Engines (see :mod:`rnnkit.layers.recurrent.engines`):

``"auto"`` (default)
    the fastest engine that implements the layer's configuration, by the measured
    crossovers below;
``"reference"``
    the reference kernels, written as the equations (the cell modules);
``"numpy"``
    the feature-major NumPy kernels, never the compiled ones;
``"jit"``
    the compiled kernels (``rnnkit[jit]``, Numba) wherever they implement the
    configuration, whatever the batch size;
``"gpu"``
    CuPy on an NVIDIA GPU (``rnnkit[gpu]``): cuBLAS products, one fused gate kernel per
    step, the time loop on the device.

Environment variables, all read here: ``RNNKIT_ENGINE`` (one of the names above),
``RNNKIT_REFERENCE_KERNELS=1`` (same as ``RNNKIT_ENGINE=reference``), ``RNNKIT_JIT``
(``0`` never loads the compiled kernels; ``1`` asks for them even in the CLI's
one-shot commands), ``RNNKIT_NUM_THREADS`` (``1`` keeps everything on the caller's
thread), ``RNNKIT_JIT_MAX_WORK`` (one crossover for every cell), ``RNNKIT_MPI_TIMEOUT``, and the data
locations ``RNNKIT_DATA``, ``RNNKIT_CACHE``, ``RNNKIT_OFFLINE`` (read at each use,
since they name files, not computation).
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path
from typing import Iterator

ENGINES = ("auto", "reference", "numpy", "jit", "gpu")

_TRUE = ("1", "true", "True", "yes", "on")
_FALSE = ("0", "false", "False", "no", "off")


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@dataclasses.dataclass(frozen=True)
class Settings:
    """How the recurrent layers compute. Immutable: change it with :func:`override`.

    Attributes:
        engine: ``"auto"``, ``"reference"``, ``"numpy"`` or ``"jit"`` (see the module).
        jit: whether the compiled kernels may load: ``None`` (not set: yes, except in
            the CLI's one-shot commands), ``True`` (asked for) or ``False`` (never).
        threads: threads the feature-major and compiled kernels use (1 or 2).
        blas_single: BLAS is known to run single-threaded (``OPENBLAS_NUM_THREADS=1``, ...).
        chunk: steps per chunk of the feature-major kernels (the unit of work handed to
            the helper thread).
        min_task_macs: multiply-adds below which a helper-thread task runs inline.
        max_step_macs: per-step multiply-adds from which BLAS' own threads split each
            product better than the helper thread (LSTM(256), batch 128: 34M).
        small_units: up to this many units the compiled recurrence wins at any batch.
        max_work: ``batch * units`` per core up to which the compiled recurrence wins
            for wider layers, per cell (measured on 2 cores); ``max_work_override``
            replaces all of them.
        min_split_macs: multiply-adds per half batch below which the compiled kernels
            stay on one thread.
        mpi_timeout: seconds a rank waits at a collective before it names the stuck
            operation and aborts every rank (``RNNKIT_MPI_TIMEOUT``; None: no limit).
    """

    engine: str = "auto"
    jit: bool | None = None
    threads: int = 2
    blas_single: bool = False
    chunk: int = 32
    min_task_macs: int = 1 << 20
    max_step_macs: int = 1 << 22
    small_units: int = 64
    max_work: tuple = (("simple_rnn", 4096), ("lstm", 2048), ("gru", 6144))
    max_work_default: int = 1024
    max_work_override: int | None = None
    min_split_macs: int = 1 << 18
    mpi_timeout: float | None = None

    def crossover(self, cell: str) -> int:
        """``batch * units`` per core up to which the compiled recurrence runs ``cell``."""
        if self.max_work_override is not None:
            return self.max_work_override
        return dict(self.max_work).get(cell, self.max_work_default)

    @property
    def jit_allowed(self) -> bool:
        """Whether the compiled kernels may be used at all."""
        return self.jit is not False and self.engine in ("auto", "jit")


def _flag(name: str) -> bool | None:
    value = os.environ.get(name)
    if value is None or value == "":
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"${name} must be 0 or 1; received {value!r}")


def _from_env() -> Settings:
    engine = os.environ.get("RNNKIT_ENGINE", "").strip() or "auto"
    if engine not in ENGINES:
        raise ValueError(f"$RNNKIT_ENGINE must be one of {ENGINES}; received {engine!r}")
    if _flag("RNNKIT_REFERENCE_KERNELS"):
        engine = "reference"
    threads = int(os.environ.get("RNNKIT_NUM_THREADS", "0") or 0) or min(2, _cpus())
    override_work = os.environ.get("RNNKIT_JIT_MAX_WORK")
    blas_single = any(os.environ.get(v) == "1"
                      for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"))
    mpi_timeout = os.environ.get("RNNKIT_MPI_TIMEOUT")
    return Settings(engine=engine, jit=_flag("RNNKIT_JIT"), threads=max(1, threads),
                    blas_single=blas_single,
                    max_work_override=int(override_work) if override_work else None,
                    mpi_timeout=float(mpi_timeout) if mpi_timeout else None)


_current = _from_env()


def settings() -> Settings:
    """The settings in force now."""
    return _current


def _replace(**changes) -> Settings:
    fields = {f.name for f in dataclasses.fields(Settings)}
    bad = sorted(set(changes) - fields)
    if bad:
        raise TypeError(f"rnnkit.config: unknown setting(s) {bad}; expected some of {sorted(fields)}")
    if "engine" in changes and changes["engine"] not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}; received {changes['engine']!r}")
    return dataclasses.replace(_current, **changes)


@contextlib.contextmanager
def override(**changes) -> Iterator[Settings]:
    """Change settings inside a ``with`` block (restored after it, also on error)."""
    global _current
    saved, _current = _current, _replace(**changes)
    try:
        yield _current
    finally:
        _current = saved


def set_engine(name: str) -> None:
    """Choose the recurrent engine for the rest of the process (see the module docs)."""
    global _current
    _current = _replace(engine=name)


def get_engine() -> str:
    """The engine in force: ``"auto"``, ``"reference"``, ``"numpy"`` or ``"jit"``."""
    return _current.engine


def use_engine(name: str):
    """``with use_engine("reference"): ...`` runs the block on that engine."""
    return override(engine=name)


# --------------------------------------------------------------- data locations
# Read at each use: tests and the CLI point them elsewhere while a process runs.

def data_dirs() -> list[Path]:
    """Directories named by ``$RNNKIT_DATA`` (``os.pathsep``-separated), in order."""
    return [Path(p).expanduser() for p in os.environ.get("RNNKIT_DATA", "").split(os.pathsep)
            if p.strip()]


def prepend_data_dir(path: str | os.PathLike) -> None:
    """Search ``path`` before the other data directories, in this process and the
    processes it starts (the CLI's ``--data DIR``)."""
    dirs = [os.path.abspath(path), *map(str, data_dirs())]
    os.environ["RNNKIT_DATA"] = os.pathsep.join(dirs)


def cache_dir() -> Path:
    """The dataset cache: ``$RNNKIT_CACHE`` or ``~/.rnnkit/datasets`` (not created here)."""
    return Path(os.environ.get("RNNKIT_CACHE") or "~/.rnnkit/datasets").expanduser()


def offline() -> bool:
    """True when ``$RNNKIT_OFFLINE`` asks loaders never to touch the network."""
    return os.environ.get("RNNKIT_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
