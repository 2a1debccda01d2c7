"""``python -m nnqft.sampling.precompile`` (run by ``make test`` first) compiles every kernel a sampling job runs:
each sampler that :func:`nnqft.sampling.bags.bag_correlators` dispatches to, serial and threaded."""
import pytest

from nnqft.sampling import conditional, deep, kernel, precompile

KERNELS = (kernel, conditional, deep)


class Reached(Exception):
    """Raised by a recording stand-in of a kernel: the precompile got there, and nothing is compiled."""


def test_the_precompile_reaches_every_kernel_in_both_variants(monkeypatch):
    reached = set()
    for module in KERNELS:
        def record(key, model, spec, threads, _module=module.__name__):
            reached.add((_module, threads))
            raise Reached
        monkeypatch.setattr(module, "chunk_sums", record)
    for sampler in precompile.SAMPLERS:
        for variant in precompile.VARIANTS:
            with pytest.raises(Reached):
                precompile.compile_sampler(sampler, variant)
    assert reached == {(module.__name__, threads) for module in KERNELS for threads in (1, None)}
