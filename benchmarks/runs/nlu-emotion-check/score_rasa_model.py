"""Emotion accuracy of the newest trained Rasa model in models/ on the 35 emotion-annotated user
lines of tests/test_stories.yml. Run on 2026-12-04 against the model CI trained at commit f610ace
(synthetic outliers, contrastive loss and linear probe as defaults; reverted): see
three_together_rasa_model.txt. Run from the repository root with PYTHONPATH=.
"""
import asyncio, glob, re
from rasa.core.agent import Agent
held = re.findall(r'\[([^\]]+)\]\{"entity": "emotion", "value": "(\w+)"\}', open("tests/test_stories.yml").read())
async def main():
    agent = Agent.load(sorted(glob.glob("models/*.tar.gz"))[-1])
    wrong = []
    for t, g in held:
        r = await agent.parse_message(t)
        if r["emotion"]["name"] != g: wrong.append((t, g, r["emotion"]["name"]))
    print("ACC", (len(held) - len(wrong)) / len(held), len(held)); [print("WRONG", w) for w in wrong]
asyncio.run(main())
