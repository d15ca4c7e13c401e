"""Profile store benchmark: lookup latency at 100,000 users, and lost writes under concurrency.

    python -m bot.bench profiles                   # SQLite and PostgreSQL, 100,000 users
    python -m bot.bench profiles --users 5000      # a quick run (results JSON not written)

Latency is measured through the real session-start action (``action_session_start``
loads the profile into slots), on a database filled with ``--users`` profiles of
two preferences each. The concurrent run has ``--writers`` users writing
``--updates`` preference changes each, all at once, alternating between two
channels of the same person; a write is lost when its audit row or its final value
is missing afterwards. PostgreSQL runs in a fresh database on ``--postgres-admin-url``
that is dropped at the end. Writes ``benchmarks/results/profiles.json`` for a full
run, and a table and a latency plot to ``benchmarks/runs/profiles-TIMESTAMP/``.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import sqlalchemy as sa
from tqdm import tqdm

from bot.profiles import CATEGORIES, ProfileStore
from bot.profiles.models import Identity, Preference, User, utcnow
from bot.profiles.settings import PROJECT_ROOT

RESULTS_JSON = PROJECT_ROOT / "benchmarks" / "results" / "profiles.json"
FULL_RUN_USERS = 100_000
CHANNEL = "bench"
INSERT_CHUNK = 5_000


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    run_dir = Path(args.out or PROJECT_ROOT / "benchmarks" / "runs" / f"profiles-{time.strftime('%Y%m%d-%H%M%S')}")
    run_dir.mkdir(parents=True, exist_ok=True)
    results: Dict = {}
    samples: Dict[str, List[float]] = {}
    concurrent: Dict[str, Dict[str, int]] = {}
    with tempfile.TemporaryDirectory() as tmp, _postgres_database(args.postgres_admin_url) as pg_url:
        for backend, url in (("sqlite", f"sqlite:///{Path(tmp) / 'profiles.db'}"), ("postgresql", pg_url)):
            store = ProfileStore.from_url(url)
            try:
                _fill(store, args.users, backend)
                samples[backend] = _lookup_latencies(store, args.users, args.lookups)
                results[backend] = {"users": args.users, **_percentiles(samples[backend])}
                concurrent[backend] = _concurrent_writes(store, args.writers, args.updates)
            finally:
                store.close()
    results["concurrent"] = {
        "writes": sum(c["writes"] for c in concurrent.values()),
        "lost": sum(c["lost"] for c in concurrent.values()),
        "writers": args.writers,
        "updates_per_writer": args.updates,
        "by_backend": concurrent,
    }
    _report(results, samples, run_dir)
    if args.users >= FULL_RUN_USERS:
        RESULTS_JSON.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {RESULTS_JSON.relative_to(PROJECT_ROOT)}")
    return 1 if results["concurrent"]["lost"] else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot.bench profiles", description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=FULL_RUN_USERS, help="stored profiles per database")
    parser.add_argument("--lookups", type=int, default=2_000, help="timed session-start actions per database")
    parser.add_argument("--writers", type=int, default=50, help="users writing at the same time")
    parser.add_argument("--updates", type=int, default=20, help="preference changes per writer")
    parser.add_argument(
        "--postgres-admin-url",
        default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL URL allowed to CREATE DATABASE",
    )
    parser.add_argument("--out", help="run folder (default benchmarks/runs/profiles-TIMESTAMP)")
    return parser


@contextmanager
def _postgres_database(admin_url: str) -> Iterator[str]:
    """A fresh database for the run, dropped afterwards (fails loudly if PG is down)."""
    name = f"kai_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield str(sa.engine.make_url(admin_url).set(database=name))
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _fill(store: ProfileStore, users: int, backend: str) -> None:
    """Insert ``users`` profiles with Core bulk inserts (the ORM path is measured separately)."""
    rng = random.Random(0)
    now = utcnow()
    with store.engine.begin() as conn:
        for start in tqdm(range(0, users, INSERT_CHUNK), desc=f"filling {backend}", unit="chunk"):
            ids = range(start + 1, min(start + INSERT_CHUNK, users) + 1)
            conn.execute(sa.insert(User), [
                {"id": i, "display_name": f"User {i}", "created_at": now, "updated_at": now} for i in ids
            ])
            conn.execute(sa.insert(Identity), [
                {"user_id": i, "channel": CHANNEL, "sender_id": f"u{i}", "created_at": now} for i in ids
            ])
            conn.execute(sa.insert(Preference), [
                {"user_id": i, "category": c, "value": f"value-{rng.randrange(1000)}", "updated_at": now}
                for i in ids for c in rng.sample(CATEGORIES, 2)
            ])
        if backend == "postgresql":  # ids were given explicitly: move the sequence past them
            conn.exec_driver_sql("SELECT setval('users_id_seq', (SELECT max(id) FROM users))")
    with store.engine.connect() as conn:
        if backend == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")


def _lookup_latencies(store: ProfileStore, users: int, lookups: int) -> List[float]:
    """Milliseconds per ``action_session_start`` run for random stored users."""
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    from actions import profile_client
    from actions.profile_actions import ActionSessionStart

    profile_client.use_store(store)
    action, rng = ActionSessionStart(), random.Random(1)

    async def timed() -> List[float]:
        latencies = []
        for _ in tqdm(range(lookups), desc="lookups", unit="call"):
            sender = f"u{rng.randrange(1, users + 1)}"
            events = [{"event": "user", "text": "hi", "input_channel": CHANNEL, "parse_data": {}}]
            tracker = Tracker(sender, {}, {}, events, False, None, {}, None)
            start = time.perf_counter()
            result = await action.run(CollectingDispatcher(), tracker, {})
            latencies.append((time.perf_counter() - start) * 1000)
            if not any(e.get("name") == "user_name" and e.get("value") for e in result):
                raise AssertionError(f"profile of {sender} not loaded: {result}")
        return latencies

    try:
        return asyncio.run(timed())
    finally:
        profile_client.use_store(None)


def _percentiles(latencies: List[float]) -> Dict[str, float]:
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 3)

    return {"lookups": len(ordered), "p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99),
            "mean_ms": round(statistics.fmean(ordered), 3)}


def _concurrent_writes(store: ProfileStore, writers: int, updates: int) -> Dict[str, int]:
    """All writers at once, each alternating between two channels of one person."""
    people = [(f"web-{uuid.uuid4().hex[:8]}", f"slack-{uuid.uuid4().hex[:8]}") for _ in range(writers)]
    for web, slack in people:
        store.link_identity("slack", slack, "web", web)

    def write(person: int) -> List[tuple]:
        web, slack = people[person]
        done = []
        for i in range(updates):
            channel, sender = ("web", web) if i % 2 == 0 else ("slack", slack)
            category, value = CATEGORIES[i % len(CATEGORIES)], f"p{person}-u{i}"
            store.set_preference(channel, sender, category, value)
            done.append((category, value))
        return done

    with ThreadPoolExecutor(max_workers=writers) as pool:
        written = list(tqdm(pool.map(write, range(writers)), total=writers, desc="concurrent writers"))
    lost = 0
    for (web, _), writes in zip(people, written):
        audited = {(c.field.split(":", 1)[1], c.new_value) for c in store.changes("web", web)}
        final = store.get("web", web).preferences
        expected_final = {category: value for category, value in writes}  # last write per category
        lost += sum(1 for w in writes if w not in audited)
        lost += sum(1 for c, v in expected_final.items() if final.get(c) != v)
    return {"writes": writers * updates, "lost": lost}


def _report(results: Dict, samples: Dict[str, List[float]], run_dir: Path) -> None:
    rows = ["| backend | users | lookups | p50 ms | p95 ms | p99 ms | mean ms |", "|---|---|---|---|---|---|---|"]
    for backend in samples:
        r = results[backend]
        rows.append(f"| {backend} | {r['users']:,} | {r['lookups']:,} | {r['p50_ms']} | {r['p95_ms']} "
                    f"| {r['p99_ms']} | {r['mean_ms']} |")
    c = results["concurrent"]
    rows.append(f"\nConcurrent: {c['writers']} writers x {c['updates_per_writer']} updates per backend: "
                f"{c['writes']} writes, {c['lost']} lost.")
    table = "\n".join(rows)
    print(table)
    (run_dir / "profiles.md").write_text(table + "\n")
    (run_dir / "profiles.json").write_text(json.dumps(results, indent=2) + "\n")
    _plot(samples, run_dir / "profiles_latency.png")
    print(f"run folder: {run_dir}")


def _plot(samples: Dict[str, List[float]], path: Path) -> None:
    import warnings

    with warnings.catch_warnings():  # matplotlib 3.5 vs newer pyparsing: deprecation noise
        warnings.simplefilter("ignore", DeprecationWarning)
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for backend, latencies in samples.items():
        ordered = sorted(latencies)
        ax.plot(ordered, [(i + 1) / len(ordered) for i in range(len(ordered))], label=backend)
    ax.axvline(20, color="grey", linestyle="--", label="20 ms target")
    ax.set_xscale("log")
    ax.set_xlabel("action_session_start latency (ms)")
    ax.set_ylabel("fraction of lookups")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
