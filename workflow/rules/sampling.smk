# Stage 1: sample ensembles of networks and measure their correlators; gather one long table.


wildcard_constraints:
    seed=r"\d+",
    n_nets=r"\d+",
    N=r"\d+",
    first=r"\d+",
    last=r"\d+",
    sigma_b=r"[0-9][0-9.e+-]*",
    sigma_w=r"[0-9][0-9.e+-]*",


rule sample_bags:
    output:
        SAMPLES,
    log:
        "logs/sample_bags/seed{seed}_nnets{n_nets}/sb{sigma_b}_sw{sigma_w}_N{N}/bags{first}-{last}.log",
    benchmark:
        "results/benchmarks/sample_bags/seed{seed}_nnets{n_nets}/sb{sigma_b}_sw{sigma_w}_N{N}/bags{first}-{last}.tsv"
    params:
        points=config["points"],
        orders=config["orders"],
    threads: config["threads_per_job"]
    resources:
        mem_mb=config["mem_mb_per_job"],
        runtime=sample_runtime,
    conda:
        "../../envs/nnqft.yaml"
    script:
        "../../scripts/sample_bags.py"


rule gather_correlators:
    input:
        design.block_paths(config),
    output:
        "results/tables/correlators.parquet",
    log:
        "logs/gather_correlators.log",
    params:
        seed=config["seed"],
        n_nets=config["n_nets"],
        points=config["points"],
        orders=config["orders"],
        experiments=config["experiments"],
    localrule: True
    conda:
        "../../envs/nnqft.yaml"
    script:
        "../../scripts/gather_correlators.py"
