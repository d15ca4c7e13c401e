"""Run the security benchmark on freshly started servers; write benchmarks/results/security.json.

    python -m benchmarks.security [--requests 1000] [--seed 35] [--sections isolation fuzz injection]
                                  [--model models/x.tar.gz] [--out benchmarks/results/security.json]
                                  [--logs DIR]

Starts the channel tests' stack on the newest model in models/ (see
``benchmarks.security.stack``) and runs each section asked for:

* ``isolation``: ``benchmarks.security.isolation.run_isolation`` on the stack;
* ``fuzz``: about ``--requests`` hypothesis-drawn requests to every public endpoint
  under ``--seed`` (the same seed sends the same requests), then the fixed
  bad-input corpus; counts, internal errors by cause, liveness and memory growth;
* ``injection``: ``benchmarks.security.injection.run_injection_on_model`` on the
  model (in this process, after the servers are stopped).

Each section replaces its own key in the results file; the others are kept. A
section whose module is missing is skipped with a line saying so. Exits 1 when a
section failed its bar (a leak, a 5xx, an unanswered request, a dead server).
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
import tempfile
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional

from bot.bench.generation import newest_rasa_model
from bot.paths import PROJECT_ROOT

RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "security.json"
SECTIONS = ("isolation", "fuzz", "injection")
DEFAULT_REQUESTS = 1000
DEFAULT_SEED = 35  # the number: any fixed seed makes the run repeatable


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.security", description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=DEFAULT_REQUESTS, help="drawn fuzz requests (the corpus adds its own)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--model", type=Path, default=None, help="trained Rasa model (default: the newest in models/)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--logs", type=Path, default=None,
                        help="keep the servers' logs and databases in this folder (default: a temporary one)")
    args = parser.parse_args(argv)
    model = args.model or newest_rasa_model()
    if model is None:
        parser.error("no trained model in models/: run `make train` first")

    results = run_sections(args.sections, model, args.requests, args.seed, args.logs)
    write_sections(results, args.out)
    for name, section in results.items():
        print(f"{name}: {json.dumps(_headline(section))}")
    print(f"wrote {', '.join(results)} to {args.out}")
    return 0 if all(passed(name, section) for name, section in results.items()) else 1


def run_sections(
    sections: List[str], model: Path, requests: int, seed: int, logs: Optional[Path] = None,
) -> Dict[str, Dict[str, Any]]:
    """The sections asked for whose modules exist, in the order isolation, fuzz, injection."""
    from benchmarks.security.stack import fuzz_section
    from tests.channel_stack import running_channel_stack

    results: Dict[str, Dict[str, Any]] = {}
    on_stack: Dict[str, Callable[[Any], Dict[str, Any]]] = {}
    isolation = _optional("isolation", "run_isolation") if "isolation" in sections else None
    if isolation is not None:
        on_stack["isolation"] = isolation
    if "fuzz" in sections:
        on_stack["fuzz"] = lambda stack: fuzz_section(stack, requests, seed)
    if on_stack:
        with _workdir(logs) as workdir, running_channel_stack(model, workdir) as stack:
            for name, run in on_stack.items():
                results[name] = run(stack)
    injection = _optional("injection", "run_injection_on_model") if "injection" in sections else None
    if injection is not None:
        results["injection"] = injection(model)
    return results


@contextmanager
def _workdir(keep: Optional[Path]) -> Iterator[Path]:
    """``keep`` (created), or a temporary folder removed afterwards."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="kai-security-") as workdir:
        yield Path(workdir)


def _optional(module: str, function: str) -> Optional[Callable[..., Dict[str, Any]]]:
    """``benchmarks.security.<module>.<function>``, or None (said on stderr) if it is not there."""
    name = f"benchmarks.security.{module}"
    if importlib.util.find_spec(name) is None:
        print(f"{module}: skipped, {name} does not exist", file=sys.stderr)
        return None
    return getattr(importlib.import_module(name), function)


def write_sections(results: Dict[str, Dict[str, Any]], path: Path) -> None:
    """Replace the given sections of the results file, keeping the others."""
    data = json.loads(path.read_text()) if path.exists() else {}
    data.update(results)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def passed(name: str, section: Dict[str, Any]) -> bool:
    if name == "fuzz":
        return section["status_5xx"] == 0 and section["failed_requests"] == 0 and not section["server_died"]
    return section.get("leaks", 0) == 0


def _headline(section: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in section.items() if not isinstance(v, (dict, list)) or k == "causes"}


if __name__ == "__main__":
    raise SystemExit(main())
