"""Parquet tables with provenance metadata, written atomically (temporary name, then rename)."""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .. import STREAM_VERSION, __version__

METADATA_KEY = b"nnqft"
#: Columns that identify a sampled point in the correlator table: its ensemble (activation, d_in, depth, point
#: set as JSON, n_nets, estimator) and (sigma_b, sigma_w, N).
SAMPLE_KEYS = ["activation", "d_in", "depth", "points", "n_nets", "estimator", "sigma_b", "sigma_w", "N"]


def versions() -> dict[str, str]:
    """Versions of the packages that determine the numbers."""
    import numba
    import numpy

    return {"nnqft": __version__, "numpy": numpy.__version__, "numba": numba.__version__,
            "pyarrow": pa.__version__, "python": platform.python_version()}


def provenance(backend: str = "cpu", **params) -> dict:
    """Metadata block stored under the ``nnqft`` key of every table: the parameters, the sampling
    backend (both backends use random-stream layout ``STREAM_VERSION``) and the package versions."""
    return {"params": params, "backend": backend, "stream_version": STREAM_VERSION, "versions": versions()}


def block_provenance(model, seed: int, bags: range, orders, *, backend: str = "cpu", **extra) -> dict:
    """:func:`provenance` of a sampled block: the seed and the point (its model's fields), its bags [first, last] and
    orders, and ``extra`` (a training, a number of outputs)."""
    return provenance(backend=backend, seed=seed, activation=model.activation, estimator=model.estimator,
                      d_in=model.d_in, points=[list(p) for p in model.points], sigma_b=model.sigma_b,
                      sigma_w=model.sigma_w, N=model.N, n_nets=model.n_nets, depth=model.depth,
                      bags=[bags.start, bags.stop - 1], orders=list(orders), **extra)


class TableError(RuntimeError):
    """A table that cannot be read or written; the message names the file and what to do."""


def atomic_write(path, write) -> None:
    """Call ``write(tmp_path)`` and rename the result to ``path``: the file appears complete or not at all.

    An OSError (disk full, permission denied, ...) becomes a :class:`TableError` naming the file; the
    temporary file is removed in every case.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob(f".{path.name}.tmp-*"):  # left by a killed job
            stale.unlink()
        write(tmp)
        os.replace(tmp, path)
    except OSError as err:
        raise TableError(f"could not write {path}: {err.strerror or err} (no partial output was left; "
                         f"free space or fix permissions, then rerun the same command)") from err
    finally:
        if tmp.exists():
            tmp.unlink()


def write_table(table: pa.Table, path, meta: dict) -> None:
    """Write ``table`` with ``meta`` as JSON metadata, atomically (see :func:`atomic_write`)."""
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           METADATA_KEY: json.dumps(meta, sort_keys=True).encode()})
    atomic_write(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def read_table(path, rebuild: str | None = None) -> pa.Table:
    """Read a Parquet table, turning a truncated or corrupted file into a :class:`TableError` that names
    the file and the command that rebuilds it."""
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as err:
        rebuild = rebuild or f"snakemake --cores 1 --force {path}"
        raise TableError(f"{path} is truncated or corrupted ({type(err).__name__}: {err}); "
                         f"delete it and rebuild it with: {rebuild}") from err


def read_metadata(path) -> dict:
    """The ``nnqft`` metadata of a table written by :func:`write_table`."""
    return json.loads(pq.read_schema(path).metadata[METADATA_KEY])


def with_time(table):
    """``table`` (a pyarrow Table or a pandas DataFrame) with a ``time`` column, the gradient-flow time τ of its rows
    (docs/science.md §11): where it has none, 0.0 on every row (an untrained ensemble is a trained one at τ = 0), before
    ``bag`` as in the trained correlator table, else after ``N``, else at the end. Every table of results/tables has it
    but the claims' verdicts."""
    names = list(table.columns) if not isinstance(table, pa.Table) else table.column_names
    if "time" in names:
        return table
    at = names.index("bag") if "bag" in names else names.index("N") + 1 if "N" in names else len(names)
    if isinstance(table, pa.Table):
        return table.add_column(at, "time", pa.array([0.0] * table.num_rows, type=pa.float64()))
    table = table.copy()
    table.insert(at, "time", 0.0)
    return table


def write_frame(frame, path, meta: dict) -> None:
    """Write a pandas DataFrame atomically with ``meta`` (see :func:`write_table`)."""
    write_table(pa.Table.from_pandas(frame, preserve_index=False), path, meta)


def write_text(text: str, path) -> None:
    """Write a text file atomically."""
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def check_finite(frame, value_columns, key_columns) -> None:
    """Fail loudly on NaN or inf, naming the point and combination of the first bad row."""
    import numpy as np

    for col in value_columns:
        bad = ~np.isfinite(frame[col].to_numpy(dtype=float))
        if bad.any():
            row = frame[bad].iloc[0]
            where = ", ".join(f"{k}={row[k]}" for k in key_columns if k in frame.columns)
            raise TableError(f"{int(bad.sum())} non-finite value(s) in column {col!r}, first at {where}")


#: The correlator table's string columns, read as plain strings (not categoricals).
CORRELATOR_STRINGS = ("combo", "activation", "points", "estimator")


def read_correlators(path, seed: int):
    """A gathered correlator table (of the untrained or the trained points) as pandas, its string columns as plain
    strings, refusing one made under another seed."""
    table = read_table(path, rebuild="snakemake --cores all --forcerun gather_correlators")
    meta = json.loads(table.schema.metadata[METADATA_KEY])["params"]
    if meta["seed"] != seed:
        raise TableError(f"{path} was made with seed = {meta['seed']}, the config asks for {seed}: "
                         f"rebuild it with `snakemake --cores all --forcerun gather_correlators`")
    strings = [c for c in table.column_names if c in CORRELATOR_STRINGS or pa.types.is_dictionary(table.schema.field(c).type)]
    for col in strings:
        # Parquet stores these dictionary-encoded: decoded by Arrow, 2× faster than pandas' astype on categoricals
        if pa.types.is_dictionary(table.schema.field(col).type):
            table = table.set_column(table.schema.get_field_index(col), col,
                                     table.column(col).cast(table.schema.field(col).type.value_type))
    frame = table.to_pandas()
    for col in strings:
        frame[col] = frame[col].astype(str)
    return frame


def write_figure(fig, pdf_path, png_path):
    """Save a matplotlib figure as PDF and PNG, each atomically (a killed job leaves no half-written figure), and
    close it."""
    import matplotlib.pyplot as plt

    atomic_write(pdf_path, lambda tmp: fig.savefig(tmp, format="pdf"))
    atomic_write(png_path, lambda tmp: fig.savefig(tmp, format="png", dpi=130))
    plt.close(fig)
