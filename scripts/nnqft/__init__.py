"""nnqft: sampling and exact theory for the NN-QFT correspondence reproduction.

The package imports without Snakemake. Sub-modules:

- ``combos``   multisets of evaluation points and the product tree used by the kernel
- ``seeding``  per-bag random keys derived from the point's identity (never from execution order)
- ``kernel``   numba kernels: GaussNet sampling and correlator accumulation (SCIENCE.md §1-§2)
- ``exact``    exact finite-width correlators (SCIENCE.md §5)
- ``design``   expansion of a validated config into parameter points and bag blocks
- ``tables``   Parquet tables with metadata, written atomically
"""

__version__ = "0.1.0"

#: Version of the random-stream layout. Bump only with a documented change (README, "Random streams").
STREAM_VERSION = 1
