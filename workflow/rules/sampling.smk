# Stage 1: sample ensembles of networks and measure their correlators; gather one long table.


wildcard_constraints:
    seed=r"\d+",
    activation=r"[a-z]+",
    d_in=r"\d+",
    points_id=r"[0-9a-f]{12}",
    estimator=r"plain|conditional",
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
