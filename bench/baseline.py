"""The "before" of a before-and-after: a run's consumer and latency rows, kept in the repository.

    python -m bench.baseline bench/results/2026-12-01T020100+0000.json
    python -m bench.baseline old-run.json --commit cb59ea3 --load "2.1 at start, 3.4 at end"

`make bench` prints this run's CPU per order by part and consumer rates beside the baseline's
(`bench/baseline.json`), at each rate and worker count both measured. Before an optimisation,
run the benchmark on the code as it is and turn that run into the baseline with this command.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from harness.project import PROJECT_DIR

BASELINE_FILE = PROJECT_DIR / "bench" / "baseline.json"
# What the comparison reads; the rest of a run stays in its results file.
KEPT = ("started_at", "command", "machine", "relay_batch_size", "consumer_prefetch", "queue_type")


def from_results(
    results: dict[str, Any], *, commit: str | None = None, load: str | None = None
) -> dict[str, Any]:
    """The baseline of a run's results: where and when it ran, its consumer and latency rows."""
    commit = commit or results.get("commit")
    if not commit:
        raise ValueError("the results do not name their commit: give it with --commit")
    if not results.get("latency") and not results.get("consumer"):
        raise ValueError("the results hold neither latency nor consumer rows")
    return {
        "commit": commit,
        "load_average": load or describe_load(results),
        **{key: results[key] for key in KEPT if key in results},
        "consumer": results.get("consumer", []),
        # Each latency row holds the CPU per order by part measured at its rate.
        "latency": results.get("latency", []),
    }


def describe_load(results: dict[str, Any]) -> str:
    """The load averages a run recorded at its start and end, or that it recorded none."""
    loads = [results.get(f"load_average_at_{moment}") for moment in ("start", "end")]
    if not all(loads):
        return "not recorded"
    start, end = (", ".join(f"{value:.1f}" for value in load) for load in loads)
    return f"1, 5, 15 min: {start} at the start; {end} at the end"


def load(path: Path = BASELINE_FILE) -> dict[str, Any] | None:
    """The committed baseline, if there is one."""
    return json.loads(path.read_text()) if path.exists() else None


def main(argv: list[str]) -> Path:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline", description=__doc__)
    parser.add_argument("results", type=Path, help="a results JSON written by bench.run")
    parser.add_argument("--commit", help="the commit measured, if the results do not name it")
    parser.add_argument("--load", help="the load average seen, if the results do not hold it")
    parser.add_argument("--output", type=Path, default=BASELINE_FILE)
    arguments = parser.parse_args(argv)
    try:
        baseline = from_results(
            json.loads(arguments.results.read_text()), commit=arguments.commit, load=arguments.load
        )
    except ValueError as error:
        parser.error(str(error))
    arguments.output.write_text(json.dumps(baseline, indent=2) + "\n")
    print(f"Baseline of commit {baseline['commit']} written to {arguments.output}")
    return arguments.output


if __name__ == "__main__":
    main(sys.argv[1:])
