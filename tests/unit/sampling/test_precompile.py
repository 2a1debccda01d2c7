"""``python -m nnqft.sampling.precompile`` (run by ``make test`` first) compiles every kernel a sampling job runs:
each compiled chunk-sum kernel of the samplers, serial and threaded."""
import pytest
from numba.core.registry import CPUDispatcher

from nnqft.sampling import conditional, deep, kernel, precompile


class Reached(Exception):
    """Raised by a recording stand-in of a kernel: the precompile got there, and nothing is compiled."""


def chunk_kernels():
    """Every kernel a sampling job may run, by module and name: the pairs that
    :func:`nnqft.sampling.blocks.parallel_and_serial` makes (``name``, threaded, and ``name_serial``)."""
    found = set()
    for module in (kernel, conditional, deep):
        compiled = {name for name, value in vars(module).items() if isinstance(value, CPUDispatcher)}
        found |= {(module, n) for name in compiled if name + "_serial" in compiled for n in (name, name + "_serial")}
    return found


def test_the_precompile_reaches_every_kernel_in_both_variants(monkeypatch):
    kernels = chunk_kernels()
    assert len(kernels) == 8  # plain, conditional; deep plain, deep conditional; each serial and threaded
    reached = set()
    for module, name in kernels:
        def record(*args, _kernel=(module, name)):
            reached.add(_kernel)
            raise Reached
        monkeypatch.setattr(module, name, record)
    for sampler in precompile.SAMPLERS:
        for variant in precompile.VARIANTS:
            with pytest.raises(Reached):
                precompile.compile_sampler(sampler, variant)
    assert reached == kernels


#: The compiled functions the samplers of several outputs call (nnqft.sampling.outputs.bag_correlators): the whole
#: networks' draw and features at one hidden layer, and deeper the last layer's covariance and the outputs drawn given it.
OUTPUT_KERNELS = {("training", "_draw_with_readouts"), ("training", "_features"), ("deep", "_last_layer")}


def test_the_precompile_reaches_every_kernel_of_the_samplers_of_several_outputs(monkeypatch):
    from nnqft.sampling import training

    modules = {"training": training, "deep": deep}
    for module, name in OUTPUT_KERNELS:
        assert isinstance(getattr(modules[module], name), CPUDispatcher), name
    reached = set()
    for module, name in OUTPUT_KERNELS:
        def record(*args, _kernel=(module, name)):
            reached.add(_kernel)
            raise Reached
        monkeypatch.setattr(modules[module], name, record)
    for sampler in precompile.OUTPUT_SAMPLERS:
        with pytest.raises(Reached):
            precompile.compile_outputs_sampler(sampler)
    assert reached == OUTPUT_KERNELS


#: The compiled functions a trained sampler's job starts with: the RK4 kernel of eight networks (compiled for the
#: training set's shape) and ReLU's flow through its kinks.
TRAINED_KERNELS = {("integrator", "train"), ("kinks", "train")}


def test_the_precompile_reaches_the_kernels_of_the_trained_samplers(monkeypatch):
    from nnqft.sampling import integrator, kinks

    modules = {"integrator": integrator, "kinks": kinks}
    reached = set()
    for module, name in TRAINED_KERNELS:
        assert isinstance(getattr(modules[module], name), CPUDispatcher), name
        def record(*args, _kernel=(module, name)):
            reached.add(_kernel)
            raise Reached
        monkeypatch.setattr(modules[module], name, record)
    for sampler in precompile.TRAINED_SAMPLERS:
        for shape in precompile.TRAINING_SHAPES:
            if sampler == "trained readout":  # its exact law: no flow to integrate
                assert precompile.compile_trained_sampler(sampler, shape) >= 0
                continue
            with pytest.raises(Reached):
                precompile.compile_trained_sampler(sampler, shape)
    assert reached == TRAINED_KERNELS


def test_the_precompiled_training_shapes_are_the_shipped_configs():
    """Every trained experiment of config/*.yaml has a training set of a shape the precompile compiles the RK4
    kernel for (training inputs, d_in, points), and every such shape is one of theirs."""
    from helpers import ROOT, load_config
    from nnqft.workflow import design

    shapes = set()
    for path in sorted((ROOT / "config").glob("*.yaml")):
        for exp in design.experiments(load_config(path.stem, defaults=True)).values():
            if exp.training is not None:
                shapes.add((len(exp.training.inputs), len(exp.training.inputs[0]), len(exp.points)))
    assert shapes == set(precompile.TRAINING_SHAPES)


def test_a_further_training_shape_compiles_the_rk4_kernel_for_that_shape(monkeypatch):
    """``--training-shape 4,2,3``: the RK4 kernel (the one compiled per training-set shape) is called with 4 training
    inputs of dimension 2 and 3 points; the shipped shape is not compiled twice; a malformed shape is refused."""
    from nnqft.sampling import integrator

    shapes = [precompile.training_shape(text) for text in ("4,2,3", "3,1,2", "4,2,3")]
    jobs = precompile.compile_jobs(shapes)
    assert [job for job in jobs if job[1] == (4, 2, 3)] == [("trained", (4, 2, 3))]
    assert len(jobs) == len(precompile.compile_jobs()) + 1
    seen = []

    def record(thetas, N, d_in, sigma_b, sigma_w, activation, inputs, shifts, targets, point_rows, *rest):
        seen.append((len(inputs), len(inputs[0]), len(point_rows)))
        raise Reached
    monkeypatch.setattr(integrator, "train", record)
    with pytest.raises(Reached):
        precompile.compile_job("trained", (4, 2, 3))
    assert seen == [(4, 2, 3)]
    for bad in ("4,2", "4,0,3", "a,b,c"):
        with pytest.raises(precompile.argparse.ArgumentTypeError):
            precompile.training_shape(bad)
