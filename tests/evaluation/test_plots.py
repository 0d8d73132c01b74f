"""Plots: titles stay inside the figure."""

import numpy as np


def test_a_long_confusion_matrix_title_stays_inside_the_figure():
    """The run's title (experiment, folder, fold, UA, best epoch) is wider than the figure;
    it was cut off on the left."""
    from mer_tf.evaluation.plots import confusion_figure

    title = "concat/20261207-120000/session5 (speech+text+mocap): test UA 0.847, best epoch 14"
    figure = confusion_figure(np.eye(4, dtype=int) * 5, ["ang", "exc", "neu", "sad"], title)
    figure.canvas.draw()
    box = figure.axes[0].title.get_window_extent(figure.canvas.get_renderer())
    assert 0 <= box.x0 and box.x1 <= figure.bbox.width
    assert figure.axes[0].get_title().replace("\n", " ") == title
