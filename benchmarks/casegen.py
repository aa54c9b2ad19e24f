"""Generated cases for the benchmarks: a thin wrapper over harness.tools.casegen, the seeded
generator `python -m harness fuzz` runs (its rules are in that module's docstring).

Run by hand from the repository root:

    python benchmarks/casegen.py --count 1000 --seed 0 --out DIR
    python -m harness validate DIR
    python -m harness run DIR --isolation none -q --out DIR_OUT

(`python -m harness fuzz --count 1000 --seed 0 --out DIR` does all three, and shrinks what
fails.) The same seed gives the same cases as before the generator moved into the package.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from harness.format import catalog  # noqa: E402
from harness.tools.casegen import (LOG_OF_PROBABILITY, LOW_FORMATS, MODES,  # noqa: E402,F401
                                   Options, generate, write)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100, help="how many cases (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="the generator's seed (default 0)")
    parser.add_argument("--out", required=True, help="the folder to write the YAML files to")
    parser.add_argument("--dtype", choices=[*catalog.DTYPES, "any"],
                        help="every case's numeric format (any: one drawn per case); default: "
                             "float32, float64 or both")
    parser.add_argument("--modes", action="store_true",
                        help="list the execution modes among every case's frameworks")
    args = parser.parse_args(argv)
    if args.count < 0 or args.seed < 0:
        parser.error("--count and --seed must be ≥ 0")
    write(generate(args.count, args.seed, args.dtype, args.modes), args.out)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
