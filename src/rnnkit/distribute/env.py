"""Is this process one rank of an MPI job? Read from the launcher's environment only.

``mpirun``/``mpiexec`` (MPICH/Hydra, Intel MPI, Open MPI) and Slurm's PMI export the world
size and rank to every process they start. Reading them costs nothing and does not load
MPI, so the CLI can decide whether to go data-parallel while a plain ``rnnkit train``
never imports mpi4py.
"""
from __future__ import annotations

import os
from typing import Mapping

# (size variable, rank variable), most specific first.
_LAUNCHERS = (
    ("OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK"),  # Open MPI
    ("PMIX_SIZE", "PMIX_RANK"),  # PMIx launchers
    ("PMI_SIZE", "PMI_RANK"),  # MPICH Hydra, Intel MPI, Slurm --mpi=pmi2
    ("MPI_LOCALNRANKS", "MPI_LOCALRANKID"),  # MPICH, this node only
)


def world_from_env(environ: Mapping[str, str] | None = None) -> tuple[int, int]:
    """``(size, rank)`` announced by an MPI launcher, or ``(1, 0)`` outside one."""
    env = os.environ if environ is None else environ
    for size_var, rank_var in _LAUNCHERS:
        size, rank = env.get(size_var), env.get(rank_var)
        if size is None:
            continue
        try:
            return max(1, int(size)), int(rank or 0)
        except ValueError:
            continue
    return 1, 0


def launched_by_mpi(environ: Mapping[str, str] | None = None) -> bool:
    """True when an MPI launcher started this process as one of several ranks."""
    return world_from_env(environ)[0] > 1


def local_ranks_from_env(environ: Mapping[str, str] | None = None) -> int:
    """How many ranks of the job share this node (1 when unknown)."""
    env = os.environ if environ is None else environ
    for var in ("MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE", "PMIX_LOCAL_SIZE"):
        try:
            return max(1, int(env[var]))
        except (KeyError, ValueError):
            continue
    return world_from_env(env)[0]
