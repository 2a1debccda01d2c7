"""Parquet tables with provenance metadata, written atomically (temporary name, then rename)."""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from . import STREAM_VERSION, __version__

METADATA_KEY = b"nnqft"


def versions() -> dict[str, str]:
    """Versions of the packages that determine the numbers."""
    import numba
    import numpy

    return {"nnqft": __version__, "numpy": numpy.__version__, "numba": numba.__version__,
            "pyarrow": pa.__version__, "python": platform.python_version()}


def provenance(**params) -> dict:
    """Metadata block stored under the ``nnqft`` key of every table."""
    return {"params": params, "backend": "cpu", "stream_version": STREAM_VERSION, "versions": versions()}


def write_table(table: pa.Table, path, meta: dict) -> None:
    """Write ``table`` with ``meta`` as JSON metadata; the file appears complete or not at all."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           METADATA_KEY: json.dumps(meta, sort_keys=True).encode()})
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def read_metadata(path) -> dict:
    """The ``nnqft`` metadata of a table written by :func:`write_table`."""
    return json.loads(pq.read_schema(path).metadata[METADATA_KEY])
