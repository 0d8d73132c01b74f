"""A trained model at work: its SavedModel export (`export`), the recognizer that serves
it on files and arrays (`recognizer`), whole recordings read in blocks with voice
activity detection (`recording`), their turn files (`turns`) and a row per turn with a
timeline (`timeline`, drawn by `timeline_plot`).

Imports io, config, data, models and evaluation (its plots); never training.
"""
