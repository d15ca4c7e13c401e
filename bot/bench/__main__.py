"""`python -m bot.bench NAME [options]`: run one benchmark (nlu, profiles, generation, scale)."""
from __future__ import annotations

import importlib
import sys
from typing import List, Optional

BENCHMARKS = ("nlu", "profiles", "generation", "scale")


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in BENCHMARKS:
        print(f"usage: python -m bot.bench {{{','.join(BENCHMARKS)}}} [options]   (--help after a name)")
        return 2
    return importlib.import_module(f"bot.bench.{argv[0]}").main(argv[1:]) or 0


if __name__ == "__main__":
    sys.exit(main())
