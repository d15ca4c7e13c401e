"""The reference assistant holds a 10-turn chitchat conversation over the REST channel.

Real servers, the model from `make train`: every chitchat turn must be answered by
GenerativeResponsePolicy through utter_generated, with no crash, no empty and no
repeated reply, and the generated text must be an ordinary bot event in the tracker.
"""
from __future__ import annotations

import uuid

import requests

from tests.servers import rest_conversation, running, say, start_action_server, start_rasa_server, write_endpoints

CHITCHAT = [
    "what's your favourite colour?",
    "do you like pizza?",
    "tell me a joke",
    "what do you do for fun?",
    "do you like the rain?",
    "what's the weather like where you are?",
    "have you ever been to the sea?",
    "what is your favourite season?",
    "do you prefer cats or dogs?",
    "what did you do today?",
]


def test_ten_turn_chitchat_over_rest(trained_model, tmp_path):
    actions = start_action_server(tmp_path)
    endpoints = write_endpoints(tmp_path / "endpoints.yml", actions.port, tmp_path / "tracker.db")
    token = uuid.uuid4().hex
    rasa = start_rasa_server(trained_model, endpoints, tmp_path, extra_args=["--enable-api", "--auth-token", token])
    sender = f"chitchat-{uuid.uuid4().hex[:8]}"
    with running(rasa, actions):
        replies = []
        for text in CHITCHAT:
            answer = say(rasa, sender, text, timeout=120)
            assert answer, f"no reply to {text!r}:\n{rasa.log()[-3000:]}"
            replies.append(" ".join(m.get("text", "") for m in answer).strip())
        response = requests.get(f"{rasa.url}/conversations/{rest_conversation(sender)}/tracker", params={"token": token}, timeout=30)
        response.raise_for_status()
        tracker = response.json()

    assert all(replies), replies
    assert len(set(replies)) == len(replies), f"repeated reply: {replies}"
    generated = [e for e in tracker["events"] if e["event"] == "action" and e["name"] == "utter_generated"]
    assert len(generated) >= 8, f"only {len(generated)} generated turns: {replies}"
    assert all(e["policy"] == "GenerativeResponsePolicy" for e in generated)
    bot_texts = [e["text"] for e in tracker["events"] if e["event"] == "bot"]
    assert set(replies) <= set(bot_texts)  # the generated text is an ordinary bot utterance
