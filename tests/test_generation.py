"""Prompt building, privacy rule, guard rails and guarded generation (bot.generation, no Rasa)."""
from __future__ import annotations

import pytest

from bot.generation import guards
from bot.generation.config import ConfigError, GeneratorConfig
from bot.generation.generator import ReplyGenerator, encode_prompt
from bot.generation.model import base_for_inference, load_tokenizer
from bot.generation.prompt import (
    ASSISTANT, USER, DialogueContext, ProfileFacts, ProfileLeakError, Turn, build_messages, system_prompt,
)
from bot.generation.corpus import chitchat_examples, is_held_out
from bot.generation.training import IGNORE_INDEX, encode_example
from bot.generation.corpus import Example

FALLBACK = "Sorry, I didn't quite get that. Could you rephrase?"


def _context(text: str = "Tell me something fun.", **kwargs) -> DialogueContext:
    return DialogueContext("ana", [Turn(USER, "hi"), Turn(ASSISTANT, "Hi there!"), Turn(USER, text)], **kwargs)


@pytest.fixture(scope="module")
def config() -> GeneratorConfig:
    return GeneratorConfig(max_new_tokens=12, time_budget_s=60.0)


@pytest.fixture(scope="module")
def generator(config: GeneratorConfig) -> ReplyGenerator:
    return ReplyGenerator(base_for_inference(config), load_tokenizer(config.base_model), config, FALLBACK)


def test_prompt_has_history_emotion_and_own_profile() -> None:
    profile = ProfileFacts("ana", name="Ana", preferences={"movie": "Inception"})
    messages = build_messages(_context(emotion="sadness", profile=profile), "You are Kai.", max_turns=2)
    assert [m["role"] for m in messages] == ["system", "assistant", "user"]
    assert "name: \"Ana\"" in messages[0]["content"] and "likes movie: \"Inception\"" in messages[0]["content"]
    assert "sad" in messages[0]["content"]


def test_another_users_profile_is_refused() -> None:
    with pytest.raises(ProfileLeakError, match="bob"):
        _context(profile=ProfileFacts("bob", name="Bob"))


def test_prompt_must_end_with_the_user_turn() -> None:
    with pytest.raises(ValueError, match="user turn"):
        build_messages(DialogueContext("ana", [Turn(ASSISTANT, "hello")]), "You are Kai.", 4)


def test_bad_config_names_the_key() -> None:
    with pytest.raises(ConfigError, match="top_p"):
        GeneratorConfig(top_p=1.5)


@pytest.mark.parametrize(
    "reply, reason",
    [
        ("   ", guards.EMPTY),
        ("x" * 400, guards.TOO_LONG),
        ("Click <b>here</b>", guards.MARKUP),
        ("See https://example.com", guards.MARKUP),
        ("Your [user data] says Ana.", guards.MARKUP),  # reciting the prompt's data block
        ("Hi there!", guards.REPEATED),
        ("Tell me something fun.", guards.ECHO),
        ("I am fine I am fine I am fine I am fine I am fine", guards.LOOPING),
        ("Bob would love that movie.", guards.FOREIGN_DATA),
        ("Ana, you would love Inception.", None),
    ],
)
def test_guards(reply: str, reason) -> None:
    context = _context(profile=ProfileFacts("ana", name="Ana", preferences={"movie": "Inception"}))
    prompt = system_prompt("You are Kai.", None, context.profile)
    assert guards.first_failure(reply, context, prompt, 300, known_personal=["Bob", "Ana", "Inception"]) == reason


def test_generates_a_reply_deterministically(generator: ReplyGenerator) -> None:
    first, second = generator.reply(_context()), generator.reply(_context())
    assert first.generated, first.fallback_reason
    assert first.text == second.text and first.text != FALLBACK
    assert 0 < first.new_tokens <= 12


def test_falls_back_when_over_time_budget(generator: ReplyGenerator, config: GeneratorConfig) -> None:
    tight = ReplyGenerator(generator.model, generator.tokenizer, GeneratorConfig(time_budget_s=1e-4), FALLBACK)
    reply = tight.reply(_context())
    assert reply.text == FALLBACK and reply.fallback_reason == guards.TIMEOUT


@pytest.mark.parametrize(
    "text, kept",
    [
        ("Sure. I was about to", "Sure."),
        ("Great idea! Let's go to", "Great idea!"),
        ("Wait... really? Yes, I", "Wait... really?"),
        ('She said "hello." Then she', 'She said "hello."'),
        ("All done.", "All done."),
        ("No sentence is finished", ""),
    ],
)
def test_complete_sentences(text: str, kept: str) -> None:
    assert guards.complete_sentences(text) == kept


def test_prompt_is_cut_to_its_token_cap(generator: ReplyGenerator, config: GeneratorConfig) -> None:
    """Old turns go first, then the end of an overlong message: the prompt pass has no budget."""
    history = [Turn(USER, f"message number {i} " * 20) if i % 2 == 0 else Turn(ASSISTANT, "I see.") for i in range(9)]
    for context in (_context("👩‍👩‍👧‍👦" * 500), DialogueContext("ana", history)):
        messages = build_messages(context, config.persona, config.max_history_turns)
        ids = encode_prompt(generator.tokenizer, messages, config.max_prompt_tokens)["input_ids"]
        assert ids.shape[1] <= config.max_prompt_tokens
        assert generator.tokenizer.decode(ids[0]).startswith("<|im_start|>system")
    reply = generator.reply(_context("👩‍👩‍👧‍👦" * 500))
    assert reply.text


class _CutShort(ReplyGenerator):
    """Decoding that the time budget stopped after ``partial``: no slow machine needed."""

    def __init__(self, partial: str) -> None:
        super().__init__(None, None, GeneratorConfig(), FALLBACK)
        self.partial = partial

    def _generate(self, messages) -> tuple:
        return self.partial, 30, True


@pytest.mark.parametrize(
    "partial, sent",
    [("That sounds lovely. I think you could", "That sounds lovely."), ("That sounds lov", FALLBACK)],
)
def test_reply_cut_by_the_budget_keeps_its_finished_sentences(partial: str, sent: str) -> None:
    reply = _CutShort(partial).reply(_context())
    assert reply.text == sent
    assert reply.fallback_reason == (None if sent != FALLBACK else guards.TIMEOUT)


def test_falls_back_on_output_failing_a_guard(generator: ReplyGenerator) -> None:
    strict = ReplyGenerator(
        generator.model, generator.tokenizer, GeneratorConfig(max_new_tokens=12, max_reply_chars=10, time_budget_s=60.0), FALLBACK
    )
    reply = strict.reply(_context())
    assert reply.text == FALLBACK and reply.fallback_reason == guards.TOO_LONG


def test_training_example_masks_the_prompt(config: GeneratorConfig) -> None:
    tokenizer = load_tokenizer(config.base_model)
    ids, labels = encode_example(tokenizer, Example(_context(), "Sure, here goes!"), config)
    targets = [t for t in labels if t != IGNORE_INDEX]
    assert len(ids) == len(labels) and targets[-1] == tokenizer.eos_token_id
    assert tokenizer.decode(targets, skip_special_tokens=True).strip() == "Sure, here goes!"


def test_corpus_examples_come_from_their_side_of_the_split() -> None:
    from bot.generation.corpus import _conversations, _turns

    conversations = _conversations()
    held_ids = [cid for cid in conversations if is_held_out(cid)]
    assert 0.07 < len(held_ids) / len(conversations) < 0.13
    held_turns = {t for cid in held_ids for t in _turns(conversations[cid])}
    held = chitchat_examples(held_out=True, limit=50, max_history=4, seed=1)
    assert len(held) == 50 and all(e.reply in held_turns for e in held)
    assert all(e.context.turns[-1].role == USER for e in held)


def test_generation_benchmark_scores_the_adapter_the_assistant_serves(trained_model, tmp_path):
    from bot.bench.generation import served_adapter

    adapter = served_adapter(trained_model, tmp_path)
    assert adapter is not None and (adapter / "adapter_model.safetensors").is_file()
    assert tmp_path in adapter.parents


def test_skill_examples_put_profile_and_emotion_in_the_prompt(config: GeneratorConfig) -> None:
    from bot.generation.skills import skill_examples

    examples = skill_examples(40, seed=0)
    grounded = [e for e in examples if e.context.profile is not None]
    empathic = [e for e in examples if e.context.profile is None]
    assert len(grounded) == len(empathic) == 20
    for example in grounded:
        (value,) = example.context.profile.preferences.values()
        assert value in example.reply
        assert value in build_messages(example.context, config.persona, 6)[0]["content"]
    assert {e.context.emotion for e in empathic} == {"sadness", "anger", "fear"}
    assert all(e.context.turns[-1].role == USER for e in examples)


def test_skill_material_is_disjoint_from_the_evaluation() -> None:
    import re

    import yaml
    from bot.bench.generation import SCENARIOS
    from bot.generation.skills import material

    def strings(node) -> list:
        if isinstance(node, dict):
            return [s for value in node.values() for s in strings(value)]
        if isinstance(node, list):
            return [s for item in node for s in strings(item)]
        return [str(node).lower()]

    taught = strings(material())
    scenarios = yaml.safe_load(SCENARIOS.read_text())
    held_out = [s["keyword"] for s in scenarios["profile"]] + [s["name"] for s in scenarios["profile"]]
    held_out += [s["text"] for group in scenarios.values() for s in group]
    # Keywords are word stems ("comed", "swim"): a match starts at a word boundary.
    leaks = [term for term in held_out if any(re.search(rf"\b{re.escape(term.lower())}", t) for t in taught)]
    assert not leaks, f"evaluation material in skills.yml: {leaks}"

