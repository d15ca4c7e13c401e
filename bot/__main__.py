"""`python -m bot COMMAND`: the project's maintenance commands.

    python -m bot identities migrate --endpoints endpoints.yml [--dry-run]
        rename conversations stored before identities were namespaced
        (see bot/identity_migration.py)
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m bot", description=__doc__.splitlines()[0])
    commands = root.add_subparsers(dest="command", required=True)
    identities = commands.add_parser("identities", help="conversation identities").add_subparsers(
        dest="action", required=True
    )
    migrate = identities.add_parser("migrate", help="namespace conversations stored before identities were")
    migrate.add_argument("--endpoints", default="endpoints.yml", help="the endpoints file naming the tracker store")
    migrate.add_argument("--dry-run", action="store_true", help="list what would change, change nothing")
    return root


def main(argv: Optional[List[str]] = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "identities" and args.action == "migrate":
        from bot.identity_migration import main as migrate  # imports Rasa: only when asked

        return migrate(args.endpoints, args.dry_run)
    return 2


if __name__ == "__main__":
    sys.exit(main())
