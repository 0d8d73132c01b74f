"""Figures and what makes them trustworthy: metrics, bootstrap intervals and paired tests
(`metrics`, `stats`), a fold scored and its artefacts written (`evaluate`), calibration,
the leakage audit, run summaries, comparisons of two runs, plots, and the
motion-capture reference (`mocap_reference`).

Imports io, config, data and models; never training or serving.
"""
