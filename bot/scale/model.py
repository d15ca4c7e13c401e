"""The model a scale run serves: the project's config with generation switched off.

Generated replies cost about a second of CPU each and would measure SmolLM2, not
the serving stack, so the scale runs drop ``GenerativeResponsePolicy`` from
``config.yml`` (its intents then fall back to the rules and stories, as without the
policy). ``light=True`` also swaps the LoRA transformer NLU for Rasa's cheapest
pipeline, for tests on a busy 2-core machine. The config is derived in memory and
written to a temporary file: there is no second config to keep in sync.
"""
from __future__ import annotations

import hashlib
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Dict

import yaml

from bot.profiles.settings import PROJECT_ROOT

GENERATIVE_POLICY = "models_custom.generative_policy.GenerativeResponsePolicy"
RASA = PROJECT_ROOT / ".venv" / "bin" / "rasa"

# Rasa's own cheap pipeline: bag of words + logistic regression, CRF entities.
LIGHT_PIPELINE = [
    {"name": "WhitespaceTokenizer"},
    {"name": "LexicalSyntacticFeaturizer"},
    {"name": "CountVectorsFeaturizer"},
    {"name": "CRFEntityExtractor"},
    {"name": "EntitySynonymMapper"},
    {"name": "LogisticRegressionClassifier"},
    {"name": "FallbackClassifier", "threshold": 0.3, "ambiguity_threshold": 0.05},
]
LIGHT_TED_EPOCHS = 20


def scale_config(light: bool = False, base: Path = PROJECT_ROOT / "config.yml") -> Dict[str, Any]:
    """``config.yml`` without the generative policy (and with a cheap NLU if ``light``)."""
    config = yaml.safe_load(base.read_text())
    config["policies"] = [p for p in config["policies"] if p["name"] != GENERATIVE_POLICY]
    if light:
        config["pipeline"] = LIGHT_PIPELINE
        for policy in config["policies"]:
            if policy["name"] == "TEDPolicy":
                policy["epochs"] = LIGHT_TED_EPOCHS
    return config


def train_scale_model(out_dir: Path, light: bool = False) -> Path:
    """Train (or reuse) the scale model in ``out_dir``; returns the ``.tar.gz`` path.

    The file name carries a hash of the config, domain and data, so a second run
    with the same inputs reuses the model instead of training again.
    """
    config = scale_config(light)
    name = f"scale-{'light' if light else 'full'}-{_inputs_hash(config)}"
    model = out_dir / f"{name}.tar.gz"
    if model.exists():
        return model
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".yml", prefix="config-scale-") as config_file:
        yaml.safe_dump(config, config_file, sort_keys=False)
        config_file.flush()
        command = [
            str(RASA), "train", "--config", config_file.name, "--domain", "domain.yml",
            "--data", "data", "--out", str(out_dir), "--fixed-model-name", name,
        ]
        print(f"scale: training {model} (generation off{', light NLU' if light else ''})", flush=True)
        subprocess.run(command, cwd=PROJECT_ROOT, check=True)
    if not model.exists():
        raise RuntimeError(f"rasa train finished but {model} is missing")
    return model


def _inputs_hash(config: Dict[str, Any]) -> str:
    digest = hashlib.sha256(yaml.safe_dump(config).encode())
    for path in sorted([PROJECT_ROOT / "domain.yml", *(PROJECT_ROOT / "data").glob("*.yml")]):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]
