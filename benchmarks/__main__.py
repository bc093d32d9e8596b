"""Run the benchmark scripts: ``python -m benchmarks [NAME ...] [-- extra args]``.

Each ``bench_NAME.py`` prints its own table; timing claims are ratios against a
baseline measured in the same run, since these machines are noisy.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    names, extra = (argv[: argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    scripts = sorted(HERE.glob("bench_*.py"))
    available = {p.stem.removeprefix("bench_"): p for p in scripts}
    unknown = [n for n in names if n not in available]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; available: {sorted(available)}", file=sys.stderr)
        return 2
    failed = 0
    for name in names or sorted(available):
        print(f"\n=== {name} ===", flush=True)
        failed |= subprocess.call([sys.executable, str(available[name]), *extra]) != 0
    return int(failed)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
