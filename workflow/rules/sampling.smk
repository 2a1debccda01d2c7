# Stage 1: sample ensembles of networks and measure their correlators; gather one long table.


wildcard_constraints:
    seed=r"\d+",
    activation=r"[a-z]+",
    d_in=r"\d+",
    points_id=r"[0-9a-f]{12}",
    estimator=r"plain|conditional|control_variate",
    training_id=r"[0-9a-f]{12}",
    d_out=r"[0-9]+",
    depth_tag=r"(_L[0-9]+)?",
    n_nets=r"\d+",
    N=r"\d+",
    first=r"\d+",
    last=r"\d+",
    sigma_b=r"[0-9][0-9.e+-]*",
    sigma_w=r"[0-9][0-9.e+-]*",


rule sample_bags:
    output:
        f"results/samples/{BLOCK}.parquet",
    log:
        f"logs/sample_bags/{BLOCK}.log",
    benchmark:
        f"results/benchmarks/sample_bags/{BLOCK}.tsv"
    group:
        sampling_group
    conda:
        SAMPLING_ENV
    threads: config["threads_per_job"]
    resources:
        mem_mb=sample_mem_mb,
        runtime=sample_runtime,
    params:
        points=block_points,
        orders=config["orders"],
        backend=config["backend"],
        stream_version=STREAM_VERSION,
        code=code_digest("sample_bags.py"),
    script:
        "../../scripts/sample_bags.py"


# A trained point (an experiment with a `training`): every network of a bag trained by gradient flow from its own
# initial draw, its correlators recorded at each flow time. Its own rule, so that the training code (which reads the
# infinite-width theory) is in no untrained sampling job's code digest.
rule sample_trained:
    output:
        f"results/samples/{TRAINED_BLOCK}.parquet",
    log:
        f"logs/sample_trained/{TRAINED_BLOCK}.log",
    benchmark:
        f"results/benchmarks/sample_trained/{TRAINED_BLOCK}.tsv"
    group:
        sampling_group
    conda:
        "../../envs/nnqft.yaml"
    threads: 1
    resources:
        mem_mb=trained_mem_mb,
        runtime=sample_runtime,
    params:
        points=block_points,
        training=lambda wildcards: TRAININGS[wildcards.training_id],
        orders=trained_block_orders,
        stream_version=STREAM_VERSION,
        code=code_digest("sample_trained.py"),
    script:
        "../../scripts/sample_trained.py"


# A point of several outputs (an experiment with d_out > 1): every (point, output) multiset by the plain or the
# conditional estimator (nnqft.sampling.outputs), at any depth for the conditional one. Its own rule, as for trained
# points.
rule sample_outputs:
    output:
        f"results/samples/{OUTPUTS_BLOCK}.parquet",
    log:
        f"logs/sample_outputs/{OUTPUTS_BLOCK}.log",
    benchmark:
        f"results/benchmarks/sample_outputs/{OUTPUTS_BLOCK}.tsv"
    group:
        sampling_group
    conda:
        "../../envs/nnqft.yaml"
    threads: 1
    resources:
        mem_mb=outputs_mem_mb,
        runtime=sample_runtime,
    params:
        points=block_points,
        orders=config["orders"],
        stream_version=STREAM_VERSION,
        code=code_digest("sample_outputs.py"),
    script:
        "../../scripts/sample_outputs.py"


rule gather_correlators:
    input:
        design.block_paths(config),
    output:
        "results/tables/correlators.parquet",
    log:
        "logs/gather_correlators.log",
    localrule: True
    conda:
        "../../envs/nnqft.yaml"
    params:
        seed=config["seed"],
        ensembles=design.ensembles(config),
        orders=config["orders"],
        backend=config["backend"],
        stream_version=STREAM_VERSION,
        experiments=EXPERIMENTS,
        code=code_digest("gather_correlators.py"),
    script:
        "../../scripts/gather_correlators.py"


rule gather_trained:
    input:
        design.block_paths(config, kind="trained"),
    output:
        "results/tables/trained_correlators.parquet",
    log:
        "logs/gather_trained.log",
    localrule: True
    conda:
        "../../envs/nnqft.yaml"
    params:
        seed=config["seed"],
        ensembles=design.ensembles(config, kind="trained"),
        orders=config["orders"],
        backend=config["backend"],
        stream_version=STREAM_VERSION,
        experiments=EXPERIMENTS,
        code=code_digest("gather_correlators.py"),
    script:
        "../../scripts/gather_correlators.py"


rule gather_outputs:
    input:
        design.block_paths(config, kind="outputs"),
    output:
        "results/tables/output_correlators.parquet",
    log:
        "logs/gather_outputs.log",
    localrule: True
    conda:
        "../../envs/nnqft.yaml"
    params:
        seed=config["seed"],
        ensembles=design.ensembles(config, kind="outputs"),
        orders=config["orders"],
        backend=config["backend"],
        stream_version=STREAM_VERSION,
        experiments=EXPERIMENTS,
        code=code_digest("gather_correlators.py"),
    script:
        "../../scripts/gather_correlators.py"
