"""Compare the Parquet tables of two runs value by value, bit for bit: ``python tests/tools/compare_tables.py A B``.

A and B are results/tables folders (or folders holding them). For every table present in either, prints whether
its columns, its rows and every value are identical (floats by their IEEE-754 bits, NaN equal to NaN), and else
which columns differ and in how many rows. Exits 1 if any table differs. Metadata (package versions, the stored
config) is not compared: only the values.

``--rtol R``: floats that differ in their bits but by at most R relative (|a − b| <= R max(|a|, |b|)) are reported per
column with their largest relative difference and do not count as differing (for a change of the theory's arithmetic
that moves its values by rounding only).

``--new-column NAME`` (repeatable): a column that B has and A has not (a column added on purpose, such as ``time``,
docs/workflow.md) is reported with its distinct values and does not count as a difference; every other column is
compared as usual.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd


def tables_dir(path: Path) -> Path:
    return path / "tables" if (path / "tables").is_dir() else path


def same_values(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Row by row: identical values (floats by their bits; lists and arrays element by element)."""
    if a.dtype.kind == "f" and b.dtype.kind == "f":
        return a.to_numpy().view(np.int64) == b.to_numpy().view(np.int64)
    return np.array([np.array_equal(np.asarray(x), np.asarray(y)) if isinstance(x, (list, np.ndarray))
                     else bool(x == y or (x is None and y is None) or (x != x and y != y)) for x, y in zip(a, b)],
                    dtype=bool)


def relative_difference(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Row by row |a − b| / max(|a|, |b|) of two float columns (0 where both are equal, NaN and inf included)."""
    x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.abs(x - y) / np.maximum(np.abs(x), np.abs(y))
    return np.where((x == y) | (np.isnan(x) & np.isnan(y)), 0.0, rel)


def compare(a_dir: Path, b_dir: Path, rtol: float | None = None, new_columns=()) -> bool:
    names = sorted({p.name for p in a_dir.glob("*.parquet")} | {p.name for p in b_dir.glob("*.parquet")})
    identical = True
    for name in names:
        if not (a_dir / name).exists() or not (b_dir / name).exists():
            print(f"{name}: only in {'B' if (b_dir / name).exists() else 'A'}")
            identical = False
            continue
        a, b = pd.read_parquet(a_dir / name), pd.read_parquet(b_dir / name)
        if len(a) != len(b):
            print(f"{name}: {len(a)} rows vs {len(b)} rows")
            identical = False
            continue
        added = [c for c in new_columns if c in b.columns and c not in a.columns]
        if added:
            print(f"{name}: new column(s) " + ", ".join(f"{c} (values {sorted(set(b[c].astype(str)))[:5]})" for c in added))
            b = b.drop(columns=added)
        if list(a.columns) != list(b.columns):
            only_a, only_b = [c for c in a.columns if c not in b], [c for c in b.columns if c not in a]
            print(f"{name}: columns only in A {only_a}, only in B {only_b}; the others compared")
            identical = False
            common = [c for c in a.columns if c in b.columns]
            a, b = a[common], b[common]
        differing = {col: int((~same_values(a[col].astype(object) if a[col].dtype != b[col].dtype else a[col],
                                            b[col].astype(object) if a[col].dtype != b[col].dtype else b[col])).sum())
                     for col in a.columns}
        differing = {col: n for col, n in differing.items() if n}
        rounded = False
        if rtol is not None:
            for col in [c for c in differing if a[c].dtype.kind == "f" and b[c].dtype.kind == "f"]:
                worst = float(np.nanmax(relative_difference(a[col], b[col])))
                if worst <= rtol:
                    print(f"{name}: {col} differs in {differing.pop(col)} rows by at most {worst:.1e} relative")
                    rounded = True
        if differing:
            identical = False
            print(f"{name}: {len(a)} rows; values differ in {differing}")
        else:
            print(f"{name}: {len(a)} rows x {len(a.columns)} columns, "
                  f"{'identical within the relative tolerance' if rounded else 'bit-identical'}")
    return identical


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--rtol", type=float, default=None, help="accept floats within this relative difference")
    parser.add_argument("--new-column", action="append", default=[], help="a column B adds on purpose (repeatable)")
    args = parser.parse_args()
    sys.exit(0 if compare(tables_dir(args.a), tables_dir(args.b), args.rtol, args.new_column) else 1)
