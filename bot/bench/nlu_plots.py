"""Tables and plots for the NLU benchmark."""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Sequence

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix  # noqa: E402

from bot.bench import metrics  # noqa: E402

QUALITY = ("accuracy", "macro_f1", "oos_recall")  # each shown at the threshold / raw
HEADER = (
    "| setting | pipeline | in-scope acc (threshold / raw) | macro-F1 (threshold / raw) "
    "| OOS recall (threshold / raw) | threshold | train s | p50 / p95 ms | peak RSS MB | model MB |"
)


def markdown_table(results: Dict) -> str:
    lines = [HEADER, "|---|---|" + "---|" * 8]
    for scenario in ("clinc150_full", "clinc150_10shot"):
        for side, m in results.get(scenario, {}).items():
            quality = [f"{_fmt(m[k])} / {_fmt(m[k + '_no_threshold'])}" for k in QUALITY]
            cost = [_fmt(m["threshold"]), _fmt(m["train_s"]), f"{m['p50_ms']:.1f} / {m['p95_ms']:.1f}",
                    _fmt(m["peak_rss_mb"]), f"{m['model_mb']:.1f}"]
            lines.append(f"| {scenario} | {side} | " + " | ".join(quality + cost) + " |")
    lines += ["", "| noisy test (full data) | in-scope acc clean → noisy (threshold) | drop | drop (raw) |", "|---|---|---|---|"]
    for side, m in results.get("clinc150_noisy", {}).items():
        lines.append(
            f"| {side} | {_fmt(m['accuracy_clean'])} → {_fmt(m['accuracy'])} | {_points(m['accuracy_drop'])} "
            f"| {_points(m['accuracy_drop_no_threshold'])} |"
        )
    emotion = results.get("emotion", {}).get("ours")
    if emotion:
        names = list(emotion["per_class_f1"])
        lines += ["", "| emotion (GoEmotions Ekman test) | macro-F1 | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
        lines.append(f"| ours | {_fmt(emotion['macro_f1'])} | " + " | ".join(_fmt(emotion["per_class_f1"][n]) for n in names) + " |")
    return "\n".join(lines)


def _points(share: float) -> str:
    return f"{100 * share:.1f} points"


def _fmt(value) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.0f}"


def per_intent_f1(details: Dict, path: Path) -> None:
    """Per-intent F1 on the full-data test split, each side's intents sorted by F1."""
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for (scenario, side), detail in details.items():
        if scenario != "clinc150_full":
            continue
        scores = sorted(metrics.per_label_f1(detail["gold"]["test"], detail["test_pred"]).values(), reverse=True)
        ax.plot(scores, label=side)
    ax.set(xlabel="intents, sorted by F1", ylabel="F1 on test", title="CLINC150 per-intent F1 (full data)", ylim=(0, 1.02))
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def oos_tradeoff(details: Dict, path: Path) -> None:
    """In-scope accuracy against OOS recall as the threshold moves (full data, test splits).

    The dot is each side's operating point (threshold calibrated on validation); the
    shaded corner is the target (at least 96% in-scope accuracy with 60% OOS recall).
    """
    fig, ax = plt.subplots(figsize=(6.5, 5))
    ax.axvspan(0.60, 1.0, ymin=(0.96 - 0.7) / 0.31, color="green", alpha=0.08, label="target")
    full_data = [(side, detail) for (scenario, side), detail in details.items() if scenario == "clinc150_full"]
    for (side, detail), color in zip(full_data, plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        for split, style in (("test", "-"), ("noisy", ":")):
            if split not in detail["predictions"]:
                continue
            curve = [_accuracy_and_oos_recall(detail, split, t) for t in np.linspace(0, 1, 101)]
            ax.plot(*zip(*[(r, a) for a, r in curve]), style, color=color, label=f"{side} ({split})")
            accuracy, recall = _accuracy_and_oos_recall(detail, split, detail["threshold"])
            ax.plot(recall, accuracy, "o", color=color)
    ax.set(xlabel="OOS recall", ylabel="in-scope accuracy", xlim=(0, 1), ylim=(0.7, 1.01),
           title="CLINC150 out-of-scope trade-off (full data)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _accuracy_and_oos_recall(detail: Dict, split: str, threshold: float) -> tuple:
    gold = np.array(detail["gold"][split])
    predicted = np.array(metrics.with_threshold(detail["predictions"][split], threshold))
    in_scope = gold != metrics.OOS
    return (predicted[in_scope] == gold[in_scope]).mean(), (predicted[~in_scope] == metrics.OOS).mean()


def summary(results: Dict, path: Path) -> None:
    """Macro-F1 and OOS recall per setting and side."""
    settings = [s for s in ("clinc150_full", "clinc150_10shot") if s in results]
    sides = list(results[settings[0]]) if settings else []
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key in zip(axes, ("macro_f1", "oos_recall")):
        width = 0.8 / max(len(sides), 1)
        for i, side in enumerate(sides):
            values = [results[s][side][key] for s in settings]
            ax.bar(np.arange(len(settings)) + i * width, values, width, label=side)
        ax.set_xticks(np.arange(len(settings)) + 0.4 - width / 2, settings)
        ax.set(title=key, ylim=(0, 1))
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def emotion_confusion(gold: np.ndarray, probs: np.ndarray, labels: Sequence[str], path: Path) -> None:
    """Confusion of the top emotion against the first gold emotion, rows normalised."""
    matrix = confusion_matrix(gold.argmax(1), probs.argmax(1), labels=range(len(labels)), normalize="true")
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    ConfusionMatrixDisplay(matrix, display_labels=list(labels)).plot(ax=ax, values_format=".2f", cmap="Blues", colorbar=False)
    ax.set_title("Emotion on GoEmotions test (top-1 vs first gold label)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
