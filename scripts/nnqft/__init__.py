"""nnqft: sampling and exact theory for the NN-QFT correspondence reproduction.

Install it with ``pip install -e .`` from the repository root; it imports without Snakemake
(``nnqft.theory.of(model)`` in a notebook gives a model's theory). Its folders are its
layers; every module:

- ``model``        the model value (:class:`nnqft.model.Model`: activation, points, σ_b, σ_W, N, n_nets, estimator,
                   depth), the experiments of a config, the activation table
- ``combos``       multisets of evaluation points and the product tree used by the kernel
- ``sampling/``    from a model's identity to its measured correlators
  - ``streams``       per-bag keys from the point's identity; the SplitMix64 / ziggurat generator
  - ``fastmath``      branch-free exp and erf
  - ``blocks``        the compiled building blocks the CPU kernels share
  - ``kernel``        the CPU kernel of the plain estimator (docs/science.md §1-§2, §8)
  - ``conditional``   the CPU kernel of the conditional-Gaussian estimator (§9)
  - ``deep``          networks of several hidden layers, layer by layer from conditional Gaussians (§10)
  - ``reference``     the numpy reference sampler that draws every weight matrix (any depth)
  - ``cuda_kernel``   the plain estimator on a GPU (numba.cuda)
  - ``cuda_compile``  the CUDA kernels compiled to PTX without a GPU
  - ``kernel_cache``  numba's cache folder, named by the digest of the kernels' sources
  - ``precompile``    the CPU kernels compiled into numba's cache once, before a run
  - ``training``      networks trained by gradient flow from their own draws (§11), their estimators, a trained block
  - ``integrator``    RK4 for eight networks at once, one per vector lane, the activations carried along the flow
  - ``kinks``         ReLU's flow with both layers trained, through its kinks (events located, Filippov sliding)
  - ``outputs``       networks of several outputs by the conditional estimator (§12), a block of them
  - ``bags``          a bag or a block of bags, as arrays or as the workflow's long table
- ``theory/``      what the correlators should be
  - ``base``          the protocol the theories share; ``nnqft.theory.of(model)`` picks a model's theory
  - ``neurons``       single-neuron theory: kernels in closed form, moments by converged quadrature (§8)
  - ``cones``         ReLU's single-neuron moments by cubature on simplicial cones (§8)
  - ``partitions``    set partitions, perfect pairings and the moment-cumulant weights
  - ``exact``         the exact finite-width theory of one hidden layer ``Theory`` (§5, §8, §9)
  - ``linear``        linear networks of any depth, exactly ``LinearTheory`` (§10)
  - ``deep``          deep networks at order 1/N: the kernel, vertex and 2-point recursions ``DeepTheory`` (§10)
  - ``couplings``     u_4, u_6 and their vertex integrals (§3)
  - ``cutoff``        HMS's cutoff integrals (§8)
  - ``ntk``           training by gradient flow: the NTK, its variance, the infinite-width trained ensemble (§11)
  - ``outputs``       several outputs at one hidden layer: exact correlators over (point, output) multisets (§12)
- ``analysis/``    tables, claims and figures
  - ``registry``      the analyses, the tables and the figures they make, listed once
  - ``steps``         one function per analysis table
  - ``stats``         jackknife, log-log fits, the folded normal
  - ``deviations``    deviations beside the exact theory, error-bar checks, HMS's falloff
  - ``flow``          couplings, the flow fit and the passive flow (§3, §4)
  - ``hms``           HMS's λ, its conventions and the 6-point prediction (§8)
  - ``depth``         the running with depth (§10), its claims and its figure
  - ``training``      trained ensembles against the NTK theory (§11): tables, claims, figure
  - ``outputs``       networks of several outputs against their exact theory (§12): table, claims, figure
  - ``verdicts``      the verdict machinery the claims share
  - ``claims``        the papers' claims with calibrated verdicts
  - ``style``         the figures' colours, markers, ticks and panels
  - ``figures``       the figures
- ``workflow/``    the Snakefile's and rule scripts' plumbing
  - ``config``        the config checks
  - ``design``        experiments, sampled points, bag blocks, file names, job resources
  - ``tables``        Parquet tables and figures with metadata, written atomically, and their readers
  - ``codedeps``      what each rule's output depends on in this package (the rules' ``code`` params)
  - ``logs``          logging of the rule scripts to their ``log:`` files
- ``bench/``       benchmark scripts: ``kernel``, ``estimators``, ``deep``, ``training``, ``cuda``
"""

__version__ = "0.1.0"

#: Version of the random-stream layout. Bump only with a documented change (README, "Random streams").
STREAM_VERSION = 1
