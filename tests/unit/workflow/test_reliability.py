"""Protections: corrupted files, failed writes, non-finite values, mixed provenance."""
import errno

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from nnqft.analysis import deviations
from nnqft.model import Ensemble, Experiment
from nnqft.workflow import tables


def small_table(path):
    tables.write_table(pa.table({"value": np.arange(1000.0)}), path, {"params": {"seed": 1, "n_nets": 10}})


def test_truncated_parquet_gives_a_clear_error_naming_file_and_rebuild_command(tmp_path):
    path = tmp_path / "bags0-9.parquet"
    small_table(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(tables.TableError) as err:
        tables.read_table(path)
    assert str(path) in str(err.value) and "snakemake --cores 1 --force" in str(err.value)


def test_garbage_parquet_gives_a_clear_error(tmp_path):
    path = tmp_path / "x.parquet"
    path.write_bytes(b"not a parquet file at all")
    with pytest.raises(tables.TableError, match="truncated or corrupted"):
        tables.read_table(path)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EACCES])
def test_failed_write_leaves_no_partial_output_and_says_why(tmp_path, monkeypatch, code):
    path = tmp_path / "out.parquet"

    def failing_write(table, where, **kwargs):
        with open(where, "wb") as fh:
            fh.write(b"PAR1 half a file")
        raise OSError(code, "simulated")

    monkeypatch.setattr(tables.pq, "write_table", failing_write)
    with pytest.raises(tables.TableError, match="could not write"):
        small_table(path)
    assert list(tmp_path.iterdir()) == []


def test_write_is_atomic_the_old_file_survives_a_failed_rewrite(tmp_path, monkeypatch):
    path = tmp_path / "out.parquet"
    small_table(path)
    before = path.read_bytes()
    monkeypatch.setattr(tables.pq, "write_table", lambda *a, **k: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
    with pytest.raises(tables.TableError):
        small_table(path)
    assert path.read_bytes() == before


def test_non_finite_values_are_reported_with_point_and_combination():
    frame = pd.DataFrame({"sigma_w": [1.0, 2.0], "N": [10, 10], "combo": ["0,1", "0,0,3,5"], "value": [1.0, np.inf]})
    with pytest.raises(tables.TableError, match=r"sigma_w=2.0, N=10, combo=0,0,3,5"):
        tables.check_finite(frame, ["value"], ["sigma_w", "N", "combo"])
    tables.check_finite(frame.iloc[:1], ["value"], ["sigma_w", "N", "combo"])


def test_analysis_refuses_a_table_made_under_another_seed(tmp_path):
    path = tmp_path / "correlators.parquet"
    table = pa.table({"activation": ["gauss"] * 2, "d_in": [1] * 2, "points": ["[[0.1], [0.2]]"] * 2,
                      "n_nets": [10] * 2, "estimator": ["plain", "conditional"], "sigma_b": [1.0] * 2,
                      "sigma_w": [1.0] * 2, "N": [2] * 2, "bag": [0] * 2, "order": [2] * 2, "combo": ["0,1"] * 2,
                      "value": [1.0, 2.0]})
    tables.write_table(table, path, {"params": {"seed": 1}})
    corr = tables.read_correlators(path, seed=1)
    with pytest.raises(tables.TableError, match="seed = 1, the config asks for 2"):
        tables.read_correlators(path, seed=2)
    # rows of another ensemble (here n_nets) are not this experiment's: the analysis says which lacks them
    def experiment(n_nets, estimator="plain"):
        return Experiment("mine", Ensemble("gauss", ((0.1,), (0.2,)), n_nets, estimator), 1.0, (1.0,), (2,), 1)

    with pytest.raises(ValueError, match="experiment mine: the correlator table lacks some of its points"):
        deviations.experiment_rows(corr, {"mine": experiment(20)})
    # each experiment reads its own estimator's rows, never both
    for estimator, value in (("plain", 1.0), ("conditional", 2.0)):
        rows = deviations.experiment_rows(corr, {"mine": experiment(10, estimator)})
        assert list(rows.value) == [value]


def test_metadata_records_seed_parameters_backend_and_versions(tmp_path):
    path = tmp_path / "t.parquet"
    tables.write_table(pa.table({"value": [1.0]}), path, tables.provenance(seed=5, n_nets=7))
    meta = tables.read_metadata(path)
    assert meta["params"] == {"seed": 5, "n_nets": 7} and meta["backend"] == "cpu"
    assert {"numpy", "numba", "nnqft", "pyarrow"} <= set(meta["versions"]) and meta["stream_version"] == 1


def test_with_time_adds_a_zero_flow_time_where_a_table_has_none_and_keeps_one_it_has():
    frame = pd.DataFrame({"N": [4, 8], "bag": [0, 1], "value": [1.0, 2.0]})
    assert list(tables.with_time(frame).columns) == ["N", "time", "bag", "value"]
    assert (tables.with_time(frame).time == 0.0).all() and "time" not in frame.columns  # a copy
    assert list(tables.with_time(frame.drop(columns="bag")).columns) == ["N", "time", "value"]
    assert list(tables.with_time(pd.DataFrame({"x": [1.0]})).columns) == ["x", "time"]
    arrow = tables.with_time(pa.table({"N": [4], "training": ["t"], "bag": [0]}))
    assert arrow.column_names == ["N", "training", "time", "bag"] and arrow.column("time").to_pylist() == [0.0]
    trained = pd.DataFrame({"N": [4], "time": [2.0], "bag": [0]})
    assert tables.with_time(trained) is trained
