"""Typo correction towards the training data's words (bot.nlu.typos)."""
import json
import os
import subprocess
import sys

from bot.nlu.typos import BIGRAMS_FILE, VOCABULARY_FILE, TypoCorrector, typing_cost

TRAINING = ["what is my account balance", "transfer money to savings", "play some jazz music"]


def test_misspelt_words_become_the_nearest_training_word():
    corrector = TypoCorrector.from_texts(TRAINING)
    # "wat" is among the 20,000 commonest English words: taken as meant.
    assert corrector.correct("wat is my acount balnce") == "wat is my account balance"
    assert corrector.correct("trasnfer mony to savngs") == "transfer money to savings"


def test_correct_english_short_words_and_other_scripts_are_left_alone():
    corrector = TypoCorrector.from_texts(TRAINING)
    # "account" is one edit from "accounts", but "accounts" is English: not a typo. Chat
    # shorthand ("ok", "u") is not in the English list, and short words only ever become
    # training words.
    for text in ["my accounts are fine", "ok", "u", "xz", "Ünïcödé мой счёт 口座残高 😀", "", "Jazz, please!"]:
        assert corrector.correct(text) == text


def test_unknown_words_far_from_every_training_word_stay():
    corrector = TypoCorrector.from_texts(TRAINING)
    assert corrector.correct("qwzxvbn") == "qwzxvbn"
    assert corrector.correct("x" * 10_000) == "x" * 10_000


def test_typing_cost_makes_neighbouring_keys_cheap():
    assert typing_cost("your", "your") == 0
    assert typing_cost("your", "youg") == 1  # r and g are neighbours
    assert typing_cost("your", "youp") == 2  # p is across the keyboard
    assert typing_cost("your", "yuor") == 1  # swapped letters
    assert typing_cost("your", "you") == typing_cost("you", "your") == 1  # dropped / extra letter


def test_a_slip_to_a_neighbouring_key_beats_a_commoner_word():
    corrector = TypoCorrector.from_texts(["are you there", "you are kind", "what is your name"])
    # "you" is commoner and one deletion away, but g is next to r: "your" was meant.
    assert corrector.correct("what is youg name") == "what is your name"


def test_the_neighbouring_words_choose_between_equally_near_candidates():
    corrector = TypoCorrector.from_texts(["what time is it", "what is the weather", "the time in paris"] * 3)
    assert corrector.correct("what tihe is it") == "what time is it"
    assert corrector.correct("tihe weather") == "the weather"


def test_english_words_outside_the_training_data_are_candidates_too():
    corrector = TypoCorrector.from_texts(["where is your home planet"])
    assert corrector.correct("where is your home palnet") == "where is your home planet"
    corrector = TypoCorrector.from_texts(TRAINING)
    assert corrector.correct("waht a lovley day") == "what a lovely day"


def test_rare_english_words_are_taken_for_typos():
    # "hae" is in the English list, but far down it: here it is "have" mistyped.
    corrector = TypoCorrector.from_texts(["i have a question", "do you have time"])
    assert corrector.correct("do you hae time") == "do you have time"


def test_save_and_load_round_trip(tmp_path):
    corrector = TypoCorrector.from_texts(TRAINING)
    corrector.save(tmp_path)
    loaded = TypoCorrector.load(tmp_path)
    assert loaded.vocabulary == corrector.vocabulary
    assert loaded.bigrams == corrector.bigrams and loaded.bigrams["<s> what"] == 1
    assert loaded.correct("savngs") == "savings"
    assert TypoCorrector.load(tmp_path / "elsewhere") is None


def test_a_model_saved_before_word_bigrams_still_loads(tmp_path):
    (tmp_path / VOCABULARY_FILE).write_text(json.dumps({"balance": 1, "savings": 1}))
    loaded = TypoCorrector.load(tmp_path)
    assert not (tmp_path / BIGRAMS_FILE).exists() and loaded.bigrams == {}
    assert loaded.correct("my balnce") == "my balance"


def test_every_word_of_a_long_message_is_corrected():
    corrector = TypoCorrector.from_texts(TRAINING)
    assert corrector.correct("balnce " * 2000) == "balance " * 2000


def test_equally_likely_candidates_are_chosen_the_same_way_in_every_process():
    """Python salts string hashes per process: where two candidates score the same ("ft" and
    "t" for "rt", each typed once in training), picking from a set chose differently in the
    process that trained the model and in the one serving it."""
    script = (
        "from bot.nlu.typos import TypoCorrector; "
        "print(TypoCorrector.from_texts(['a ft', 'a t', 'a dl', 'a fl']).correct('a rt, a el'))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script], check=True, capture_output=True, text=True,
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
        ).stdout
        for seed in range(8)
    }
    assert len(outputs) == 1, outputs
