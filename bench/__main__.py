"""Run every benchmark and print its figures: `make bench` or `python -m bench [NAME...]`.

Each bench_*.py module has `run() -> dict[str, float | str]`. Figures are seconds unless
the name says otherwise. Set CLINICAST_TEST_PG_URL to measure PostgreSQL as well.
"""

import importlib
import sys
import time

from bench.common import Figures

MODULES = ["bench_history", "bench_import", "bench_assign", "bench_delivery", "bench_relay", "bench_tui"]


def main(argv: list[str]) -> int:
    names = argv or MODULES
    for name in names:
        name = name if name.startswith("bench_") else f"bench_{name}"
        try:
            mod = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as e:
            print(f"{name}: not available ({e})")
            continue
        t0 = time.perf_counter()
        Figures.echo = True  # rows with their targets and bare baselines, as they come
        print(f"== {name}", flush=True)
        figures = mod.run()
        print(f"== {name} done ({time.perf_counter() - t0:.1f} s)")
        if isinstance(figures, Figures):
            continue
        for key, value in figures.items():
            shown = f"{value:.3f}" if isinstance(value, float) else str(value)
            print(f"  {key:58} {shown}")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
