"""The timeline of a whole recording's predictions as a figure (matplotlib):
`experiments.predict --recording … --plot PNG` draws it."""

from __future__ import annotations

from mer_tf.evaluation.dimensions import DIMENSIONS
from mer_tf.serving.timeline import SKIPPED, TurnPrediction

# Colours people read as the emotion (IEMOCAP's codes); other classes take tab10's.
EMOTION_COLOURS = {"ang": "#d62728", "exc": "#ff7f0e", "hap": "#e6b800", "neu": "#7f9fbf",
                   "sad": "#1f4e9c", "fru": "#8c564b", "sur": "#e377c2", "fea": "#9467bd",
                   "dis": "#17becf", "uncertain": "#bbbbbb", SKIPPED: "#eeeeee"}


def timeline_figure(rows: list[TurnPrediction], label_names, title: str = ""):
    """Each class's probability per turn (above), arousal, valence and dominance per turn
    where the model gives them (a lane each), and the turns as bars coloured by their
    label, one lane per speaker (below)."""
    from mer_tf.evaluation.plots import _pyplot

    plt = _pyplot()
    colours = {**dict(zip(label_names, plt.get_cmap("tab10").colors)), **EMOTION_COLOURS}
    speakers = sorted({row.speaker or "speech" for row in rows})
    rated = [row for row in rows if row.dimensions]
    lanes = DIMENSIONS if rated else ()
    heights = [3, *[1] * len(lanes), max(1, 0.45 * len(speakers))]
    figure, axes = plt.subplots(
        len(heights), 1, sharex=True, figsize=(12, 3.2 + 0.9 * len(lanes) + 0.45 * len(speakers)),
        gridspec_kw={"height_ratios": heights})
    top, bottom = axes[0], axes[-1]
    for ax, name in zip(axes[1:-1], lanes):
        ax.hlines([row.dimensions[name] for row in rated], [r.start for r in rated],
                  [r.end for r in rated], color="#444444", linewidth=3)
        ax.set(ylim=(0, 1), ylabel=name)
        ax.grid(alpha=0.3)
    scored = [row for row in rows if row.probabilities]
    for name in label_names:
        middle = [(row.start + row.end) / 2 for row in scored]
        top.plot(middle, [row.probabilities[name] for row in scored], color=colours[name],
                 linewidth=1, alpha=0.6, marker="o", markersize=3, label=name)
        top.hlines([row.probabilities[name] for row in scored], [r.start for r in scored],
                   [r.end for r in scored], color=colours[name], linewidth=3)
    top.set(ylim=(0, 1), ylabel="probability", title=title or "Emotion per turn")
    top.legend(loc="upper right", ncol=len(label_names), fontsize=8)
    top.grid(alpha=0.3)
    for lane, speaker in enumerate(speakers):
        mine = [row for row in rows if (row.speaker or "speech") == speaker]
        bottom.broken_barh([(row.start, row.end - row.start) for row in mine], (lane - 0.4, 0.8),
                           facecolors=[colours.get(row.label, "#bbbbbb") for row in mine],
                           edgecolor="white", linewidth=0.5)
    bottom.set(yticks=range(len(speakers)), yticklabels=speakers, xlabel="time (min:s)",
               ylim=(-0.6, len(speakers) - 0.4))
    from matplotlib.ticker import MaxNLocator

    bottom.xaxis.set_major_locator(MaxNLocator(nbins=12, steps=[1, 1.5, 3, 6, 10]))
    bottom.xaxis.set_major_formatter(
        plt.FuncFormatter(lambda x, _: f"{int(x // 60)}:{int(x % 60):02d}"))
    used = [n for n in [*label_names, "uncertain"] if any(r.label == n for r in rows)]
    bottom.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=colours[n]) for n in used],
                  labels=used, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8,
                  title="label", title_fontsize=8)
    figure.tight_layout()
    return figure
