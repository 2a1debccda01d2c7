"""nnqft: sampling and exact theory for the NN-QFT correspondence reproduction.

Install it with ``pip install -e .`` from the repository root; it imports without Snakemake
(``from nnqft import exact`` in a notebook gives the exact finite-width theory). Sub-modules:

- ``combos``       multisets of evaluation points and the product tree used by the kernel
- ``seeding``      per-bag random keys derived from the point's identity (never from execution order)
- ``kernel``       numba kernels: sampling GaussNet, ReLU and Erf networks at any d_in and accumulating
                   their correlators (docs/science.md §1-§2, §8)
- ``cuda_kernel``  the same on a GPU (numba.cuda)
- ``sampling``     a bag or a block of bags, from a point's identity to its correlators
- ``exact``        exact finite-width correlators (docs/science.md §5); ``exact.Theory`` for GaussNet,
                   ReLU and Erf at any d_in ≤ 3 (docs/science.md §8)
- ``neurons``      single-neuron theory: kernels in closed form, moments by converged quadrature
- ``couplings``    u_4, u_6 and the vertex integrals (docs/science.md §3)
- ``analysis``     deviations, couplings, flow fits and the passive flow (docs/science.md §2-§4)
- ``claims``       the paper's claims with computed verdicts
- ``figures``      the figures; ``figure_list`` lists them once for the rules, the script and the report
- ``design``       expansion of a validated config into parameter points and bag blocks
- ``tables``       Parquet tables with metadata, written atomically
- ``codedeps``     what each rule's output depends on in this package (the rules' ``code`` params)
- ``logs``         logging of the rule scripts to their ``log:`` files
"""

__version__ = "0.1.0"

#: Version of the random-stream layout. Bump only with a documented change (README, "Random streams").
STREAM_VERSION = 1
