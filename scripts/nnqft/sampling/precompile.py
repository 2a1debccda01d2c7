"""Compile the CPU sampling kernels into numba's on-disk cache once: ``python -m nnqft.sampling.precompile``.

Every sampling job is a fresh Python process that loads the kernels from numba's cache (a folder named by the digest
of the kernels' sources, beside the package or in ``NUMBA_CACHE_DIR``: :mod:`nnqft.sampling.kernel_cache`), or
compiles them when the cache is cold: 6 to 14 s for a threaded kernel, which compiles the body of a chunk, and about
1.5 s more for the serial one, which calls the same body (:func:`nnqft.sampling.blocks.parallel_and_serial`), on a
2-core machine. A run that starts many jobs at once on a cold cache (the first run after a clone or an edit of a
kernel, a cluster submitting a hundred jobs) has every one of them compile the same kernel at the same time. This
compiles each kernel once, side by side on the machine's cores: the serial and the threaded variant of the four
samplers (the plain and the conditional estimator, at one hidden layer and beyond), by sampling one tiny bag of each
through the entry point the jobs use (:func:`nnqft.sampling.bags.block_table`), and the four samplers of several
outputs (:func:`nnqft.sampling.outputs.block_table`; 3 to 11 s each on a cold cache), and the trained samplers
(:func:`nnqft.sampling.training.block_table`) at the shipped configs' training-set shape (:data:`TRAINING_SHAPES`:
the RK4 kernel is compiled for the number and dimension of the training inputs and the number of points, about 10 s
each; ``--training-shape INPUTS,D_IN,POINTS`` adds another, else a config of another shape has its first jobs
compile it). ``make test`` runs it first; run it once before
submitting a cold-cache run to a cluster (on a node of the kind the jobs run on: numba compiles for the CPU it runs
on).
"""
from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor

#: The samplers :func:`nnqft.sampling.bags.bag_correlators` dispatches to, by the model fields that select them.
SAMPLERS = {"plain": {}, "conditional": {"estimator": "conditional"}, "deep": {"depth": 2},
            "deep conditional": {"depth": 2, "estimator": "conditional"}}
#: The samplers of several outputs (:func:`nnqft.sampling.outputs.bag_correlators`, one thread), by the model fields
#: that select them.
OUTPUT_SAMPLERS = {"outputs plain": {}, "outputs conditional": {"estimator": "conditional"},
                   "outputs deep": {"depth": 2}, "outputs deep conditional": {"depth": 2, "estimator": "conditional"}}
#: The trained samplers (:func:`nnqft.sampling.training.bag_correlators`), by the model and training fields that
#: select them: the RK4 kernel of eight networks (nnqft.sampling.integrator), ReLU's flow through its kinks
#: (nnqft.sampling.kinks) and the readout's exact conditional law.
TRAINED_SAMPLERS = {"trained": ({"activation": "erf"}, "all"), "trained relu": ({"activation": "relu"}, "all"),
                    "trained readout": ({"activation": "erf", "estimator": "conditional"}, "readout")}
#: (training inputs, d_in, points) of the trained experiments of the shipped configs (config/training*.yaml; a test
#: keeps the two in step): the shapes the RK4 kernel is compiled for.
TRAINING_SHAPES = ((3, 1, 2),)
#: The kernels' variants: threaded (numba's thread pool; started first: it compiles the chunk body that the serial
#: one then loads from the cache) and serial (``threads=1``, a job with one thread).
VARIANTS = {"threaded": None, "serial": 1}


def compile_sampler(sampler: str, variant: str) -> float:
    """Samples one bag of 4 networks of a tiny model of ``sampler`` with the ``variant`` kernel (compiling it, or
    loading it from the cache); returns the seconds it took."""
    from ..model import Model
    from . import bags

    model = Model("gauss", (0.5, 1.0), sigma_b=1.0, sigma_w=1.0, N=2, n_nets=4, **SAMPLERS[sampler])
    start = time.perf_counter()
    bags.block_table(model, 0, [0], [2, 4], threads=VARIANTS[variant])
    return time.perf_counter() - start


def compile_outputs_sampler(sampler: str) -> float:
    """Samples one bag of 4 networks of two outputs of a tiny model of the outputs ``sampler`` (compiling its kernels,
    or loading them from the cache); returns the seconds it took."""
    from ..model import Model
    from . import outputs

    model = Model("gauss", (0.5, 1.0), sigma_b=1.0, sigma_w=1.0, N=2, n_nets=4, d_out=2, **OUTPUT_SAMPLERS[sampler])
    start = time.perf_counter()
    outputs.block_table(model, 0, [0], [2, 4])
    return time.perf_counter() - start


def compile_trained_sampler(sampler: str, shape: tuple[int, int, int]) -> float:
    """Trains one bag of 4 networks of a tiny model of the trained ``sampler`` on a training set of ``shape``
    (training inputs, d_in, points), compiling its kernels or loading them from the cache; returns the seconds it
    took."""
    from ..model import Model, Training
    from . import training

    fields, layers = TRAINED_SAMPLERS[sampler]
    n_inputs, d_in, n_points = shape
    grid = [[0.5 * (i + 1)] * d_in for i in range(max(n_inputs, n_points))]
    model = Model(fields["activation"], grid[:n_points], sigma_b=1.0, sigma_w=1.0, N=2, n_nets=4,
                  estimator=fields.get("estimator", "plain"),
                  training=Training(grid[:n_inputs], [0.0] * n_inputs, (0.0, 0.5), layers))
    start = time.perf_counter()
    training.block_table(model, 0, [0], [1, 2])
    return time.perf_counter() - start


def compile_job(sampler: str, variant) -> float:
    """Compiles ``sampler`` of :data:`SAMPLERS` (``variant`` one of :data:`VARIANTS`), :data:`OUTPUT_SAMPLERS`
    (``variant`` None) or :data:`TRAINED_SAMPLERS` (``variant`` a training-set shape)."""
    if sampler in TRAINED_SAMPLERS:
        return compile_trained_sampler(sampler, variant)
    if sampler in OUTPUT_SAMPLERS:
        return compile_outputs_sampler(sampler)
    return compile_sampler(sampler, variant)


def compile_jobs(training_shapes=()) -> list[tuple[str, object]]:
    """(sampler, variant) of every kernel to compile, for :func:`compile_job`: the threaded kernels first, the serial
    ones last (each loads the chunk body its threaded twin compiled); the trained samplers at :data:`TRAINING_SHAPES`,
    and the RK4 kernel, the one compiled per shape, at the further ``training_shapes``."""
    further = [shape for shape in dict.fromkeys(map(tuple, training_shapes)) if shape not in TRAINING_SHAPES]
    return ([(sampler, "threaded") for sampler in SAMPLERS] + [(sampler, None) for sampler in OUTPUT_SAMPLERS]
            + [(sampler, shape) for sampler in TRAINED_SAMPLERS for shape in TRAINING_SHAPES]
            + [("trained", shape) for shape in further] + [(sampler, "serial") for sampler in SAMPLERS])


def training_shape(text: str) -> tuple[int, int, int]:
    """``"P,D,Q"``: P training inputs of dimension D, Q points (``--training-shape``)."""
    try:
        shape = tuple(int(n) for n in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected three positive integers, training inputs,d_in,points (say 3,1,2)")
    return shape


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--training-shape", type=training_shape, action="append", default=[],
                        metavar="INPUTS,D_IN,POINTS", help="also compile the RK4 kernel of trained networks for a "
                        "training set of this many inputs of this dimension and this many points (repeatable; "
                        f"always: {', '.join(','.join(map(str, s)) for s in TRAINING_SHAPES)})")
    jobs = compile_jobs(parser.parse_args(argv).training_shape)
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=min(len(jobs), os.cpu_count() or 1)) as pool:
        for (sampler, variant), seconds in zip(jobs, pool.map(compile_job, *zip(*jobs))):
            label = "x".join(map(str, variant)) if sampler in TRAINED_SAMPLERS else variant or "serial"
            print(f"{sampler:>24} {label:>9} kernel: {seconds:6.1f} s")
    from . import kernel_cache

    print(f"compiled or loaded {len(jobs)} kernels in {time.perf_counter() - start:.1f} s, "
          f"in numba's cache {kernel_cache.FOLDER}")


if __name__ == "__main__":
    main()
