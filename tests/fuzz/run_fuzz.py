"""Coverage-guided fuzzing of the harnesses in harnesses.py with atheris.

    python tests/fuzz/run_fuzz.py [--seconds N] [HARNESS ...]

runs each harness (all by default) for N seconds in its own process, with
the timecoin package instrumented for coverage, starting from
tests/fuzz/corpus/HARNESS (read only: new inputs go to a scratch
directory). A crashing input is written to tests/fuzz/crashes/. Prints and
writes to bench/results/fuzz.json the executions and crashes per harness;
exits 1 if any harness crashed. Needs the `fuzz` extra (atheris): `make fuzz`.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
CORPUS = ROOT / "corpus"
CRASHES = ROOT / "crashes"
RESULTS = ROOT.parents[1] / "bench" / "results" / "fuzz.json"
HARNESS_NAMES = ("frames", "message", "handshake", "transaction", "block", "jsonrpc")
EXECS = re.compile(r"stat::number_of_executed_units:\s*(\d+)")
GRACE_S = 120


def run_child(name: str, seconds: int, scratch: str) -> None:
    """Fuzz one harness in this process (atheris exits when time is up)."""
    import atheris  # the `fuzz` extra

    sys.path.insert(0, str(ROOT))
    with atheris.instrument_imports(include=["timecoin", "harnesses"]):
        from harnesses import HARNESSES
    CRASHES.mkdir(exist_ok=True)
    atheris.Setup(
        [
            sys.argv[0],
            f"-max_total_time={seconds}",
            "-print_final_stats=1",
            "-rss_limit_mb=2048",
            "-timeout=10",
            f"-artifact_prefix={CRASHES}/{name}-",
            scratch,
            str(CORPUS / name),
        ],
        HARNESSES[name],
    )
    atheris.Fuzz()


def run_parent(names: list[str], seconds: int) -> int:
    results: dict[str, dict[str, object]] = {}
    for name in names:
        before = set(CRASHES.glob(f"{name}-*")) if CRASHES.exists() else set()
        with tempfile.TemporaryDirectory() as scratch:
            started = time.monotonic()
            proc = subprocess.run(
                [sys.executable, __file__, "--child", name, "--seconds", str(seconds), scratch],
                capture_output=True,
                text=True,
                timeout=seconds + GRACE_S,
            )
            elapsed = time.monotonic() - started
            found = len(list(Path(scratch).iterdir()))
        after = set(CRASHES.glob(f"{name}-*")) if CRASHES.exists() else set()
        match = EXECS.search(proc.stderr)
        execs = int(match.group(1)) if match else 0
        crashes = sorted(str(p.relative_to(ROOT.parents[1])) for p in after - before)
        results[name] = {
            "seconds": round(elapsed, 1),
            "executions": execs,
            "executions_per_s": round(execs / max(elapsed, 1e-9)),
            "new_corpus_inputs": found,
            "crashes": crashes,
            "exit_status": proc.returncode,
        }
        print(f"{name}: {execs} executions in {elapsed:.0f} s, crashes: {crashes or 'none'}")
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.splitlines()[-30:])
            print(f"{name}: exit status {proc.returncode}\n{tail}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps({"seconds_per_harness": seconds, "harnesses": results}, indent=2) + "\n",
        encoding="utf-8",
    )
    return 0 if all(r["exit_status"] == 0 for r in results.values()) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("names", nargs="*")
    args = parser.parse_args()
    if args.child is not None:
        run_child(args.child, args.seconds, args.names[0])
        return 0
    names = args.names or list(HARNESS_NAMES)
    unknown = [name for name in names if name not in HARNESS_NAMES]
    if unknown:
        parser.error(f"unknown harness {unknown}: choose from {', '.join(HARNESS_NAMES)}")
    return run_parent(names, args.seconds)


if __name__ == "__main__":
    raise SystemExit(main())
