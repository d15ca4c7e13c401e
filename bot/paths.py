"""Where the project's files live, overridable by environment variables."""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def datasets_dir() -> Path:
    """Public labelled datasets (benchmarks, emotion corpus): ../shared/datasets by default."""
    default = PROJECT_ROOT.parent / "shared" / "datasets"
    return Path(os.environ.get("BOT_DATASETS_DIR", default)).expanduser()
