"""Theory: what the sampled correlators should be, exactly at finite width and in the papers' expansions.

- ``neurons``     single-neuron theory: kernels in closed form, moments by converged quadrature (docs/science.md §8)
- ``partitions``  set partitions and the moment-cumulant weights of the exact theory
- ``exact``       the exact finite-width theory ``Theory`` (docs/science.md §5, §8, §9): G^(n), G_0^(n), cumulants,
                  the estimators' variances
- ``couplings``   u_4, u_6 and their Gaussian vertex integrals I_n, T_6 (docs/science.md §3)
- ``cutoff``      HMS's cutoff integrals ∫_{[−Λ,Λ]^d_in} Π k(y, x_i) by converged cubature (docs/science.md §8)
- ``deep``        networks of L hidden layers (docs/science.md §10): the infinite-width kernel recursion, the 1/N
                  vertex and 2-point recursions ``DeepTheory``, and linear networks exactly ``LinearTheory``
"""
