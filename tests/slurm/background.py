"""The SLURM module's cluster runs, made in the background from the start of the test session (tests/conftest.py:
``slurm_runs``) so that their waits on the plugin's status checks overlap the other tests' work;
tests/workflow/test_slurm.py reads what they left. Usage: ``python tests/slurm/background.py FOLDER``.

In FOLDER, for each run of helpers.SLURM_RUNS, <name>.out (its output) and then <name>.rc (its exit status, the
sign that it is over; -1: not run, the cluster did not start):
- start: tests/slurm/start_cluster.sh;
- quick: config/quick.yaml through the shipped cluster profile (filled in, FOLDER/profile/slurm), in FOLDER/slurm-quick;
- fail: tests/slurm/Snakefile.fail through the same profile, in FOLDER/slurm-fail, side by side with quick (its three
  submissions take about two minutes, nearly all of it the plugin's status checks: their interval grows by 10 s
  while no job finishes, and the last sleep is waited out at shutdown)."""
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers import QUICK, ROOT, SLURM_TARGETS, cluster_command, filled_profile  # noqa: E402


def record(folder: Path, name: str, returncode: int, output: str):
    (folder / f"{name}.out").write_text(output)
    (folder / f"{name}.rc.partial").write_text(str(returncode))
    os.replace(folder / f"{name}.rc.partial", folder / f"{name}.rc")


def main(folder: Path):
    start = subprocess.run(["timeout", "-k", "10", "300", "bash", str(ROOT / "tests/slurm/start_cluster.sh")],
                           capture_output=True, text=True)
    record(folder, "start", start.returncode, start.stdout + start.stderr)
    if start.returncode != 0:
        for name in ("quick", "fail"):
            record(folder, name, -1, "not run: the cluster did not start")
        return
    profile = filled_profile("slurm", folder / "profile")
    for name in ("slurm-quick", "slurm-fail"):
        (folder / name).mkdir()
    fail = subprocess.Popen(cluster_command(folder / "slurm-fail", None, profile,
                                            snakefile=ROOT / "tests" / "slurm" / "Snakefile.fail", timeout=300),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    quick = subprocess.run(cluster_command(folder / "slurm-quick", QUICK, profile, *SLURM_TARGETS),
                           capture_output=True, text=True)
    record(folder, "quick", quick.returncode, quick.stdout + quick.stderr)
    out, _ = fail.communicate()
    record(folder, "fail", fail.returncode, out)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
