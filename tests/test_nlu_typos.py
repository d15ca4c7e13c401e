"""Typo correction towards the training data's words (bot.nlu.typos)."""
from bot.nlu.typos import TypoCorrector

TRAINING = ["what is my account balance", "transfer money to savings", "play some jazz music"]


def test_misspelt_words_become_the_nearest_training_word():
    corrector = TypoCorrector.from_texts(TRAINING)
    assert corrector.correct("wat is my acount balnce") == "wat is my account balance"
    assert corrector.correct("trasnfer mony to savngs") == "transfer money to savings"


def test_correct_english_short_words_and_other_scripts_are_left_alone():
    corrector = TypoCorrector.from_texts(TRAINING)
    # "account" is one edit from "accounts", but "accounts" is English: not a typo.
    for text in ["my accounts are fine", "ok", "xz", "Ünïcödé мой счёт 口座残高 😀", "", "Jazz, please!"]:
        assert corrector.correct(text) == text


def test_unknown_words_far_from_every_training_word_stay():
    corrector = TypoCorrector.from_texts(TRAINING)
    assert corrector.correct("qwzxvbn") == "qwzxvbn"


def test_save_and_load_round_trip(tmp_path):
    corrector = TypoCorrector.from_texts(TRAINING)
    corrector.save(tmp_path)
    loaded = TypoCorrector.load(tmp_path)
    assert loaded.vocabulary == corrector.vocabulary
    assert loaded.correct("savngs") == "savings"
    assert TypoCorrector.load(tmp_path / "elsewhere") is None


def test_every_word_of_a_long_message_is_corrected():
    corrector = TypoCorrector.from_texts(TRAINING)
    text = "balnce " * 2000
    assert corrector.correct(text) == "balance " * 2000
