"""Where a run ran: the machine and the versions of what it measured, recorded in every report."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import lmdb
import numpy as np
import psycopg
import pyroaring


def machine() -> dict:
    info = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "memory_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
            "os": platform.platform(), "load_average_at_start": os.getloadavg()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return info


def versions() -> dict:
    return {"python": platform.python_version(), "lmdb": lmdb.__version__, "lmdb_c": ".".join(map(str, lmdb.version())),
            "pyroaring": pyroaring.__version__, "numpy": np.__version__, "psycopg": psycopg.__version__}
