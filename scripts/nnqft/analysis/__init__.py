"""Analysis: from the gathered correlators to the tables, the papers' claims and the figures.

- ``registry``    the analyses an experiment may ask for and the figures they draw, listed once (light: the Snakefile
                  reads it at parse time)
- ``stats``       jackknife errors, log-log fits, the folded normal
- ``deviations``  deviations from the Gaussian process beside the exact theory, error-bar checks, HMS's falloff
                  (docs/science.md §2, §5, §8)
- ``flow``        the couplings u_4, u_6, their running with σ_W (the flow fit) and the passive flow (§3, §4)
- ``hms``         HMS's quartic coupling λ vs the cutoff, its conventions, and the 6-point prediction (§8)
- ``claims``      the papers' claims with calibrated verdicts
- ``depth``       the running of N G_c^(4)/G^(2)² with depth (docs/science.md §10) and its claims
- ``figures``     the figures
"""
