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
