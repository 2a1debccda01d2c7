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


def write_frame(frame, path, meta: dict) -> None:
    """Write a pandas DataFrame atomically with ``meta`` (see :func:`write_table`)."""
    write_table(pa.Table.from_pandas(frame, preserve_index=False), path, meta)


def write_text(text: str, path) -> None:
    """Write a text file atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def read_correlators(path, seed: int, n_nets: int):
    """The gathered correlator table as pandas, refusing one made under another seed or n_nets."""
    meta = read_metadata(path)["params"]
    for key, want in (("seed", seed), ("n_nets", n_nets)):
        if meta[key] != want:
            raise ValueError(f"{path} was made with {key} = {meta[key]}, the config asks for {want}: "
                             f"rebuild it with `snakemake --forcerun gather_correlators`")
    frame = pq.read_table(path).to_pandas()
    frame["combo"] = frame["combo"].astype(str)
    return frame
