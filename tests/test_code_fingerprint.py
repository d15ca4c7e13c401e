"""The fingerprint of the library code behind our Rasa components (``bot.code_fingerprint``)."""
from bot.code_fingerprint import package_fingerprint, source_fingerprint
from models_custom.generative_policy import GenerativeResponsePolicy
from models_custom.lora_intent_emotion_classifier import LoraIntentEmotionClassifier


def test_the_fingerprint_follows_every_source_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "model.py").write_text("LOSS = 'cross-entropy'\n")
    (tmp_path / "sub" / "typos.py").write_text("MAX_WORD_LENGTH = 24\n")
    (tmp_path / "notes.txt").write_text("not code")
    before = source_fingerprint(tmp_path)
    assert source_fingerprint(tmp_path) == before
    (tmp_path / "notes.txt").write_text("still not code")
    assert source_fingerprint(tmp_path) == before
    (tmp_path / "sub" / "typos.py").write_text("MAX_WORD_LENGTH = 20\n")
    changed = source_fingerprint(tmp_path)
    assert changed != before
    (tmp_path / "sub" / "typos.py").rename(tmp_path / "typos.py")  # same text, another module
    assert source_fingerprint(tmp_path) not in (before, changed)


def test_each_component_fingerprints_the_package_it_delegates_to():
    nlu = LoraIntentEmotionClassifier.fingerprint_addon({"emotion_corpus": None})
    policy = GenerativeResponsePolicy.fingerprint_addon(GenerativeResponsePolicy.get_default_config())
    assert nlu.startswith(package_fingerprint("bot.nlu") + ":")
    assert policy.startswith(package_fingerprint("bot.generation") + ":")
    assert package_fingerprint("bot.nlu") != package_fingerprint("bot.generation")
