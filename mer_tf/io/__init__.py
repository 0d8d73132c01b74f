"""Files and processes, the ground floor: `storage` (files on any filesystem TensorFlow
knows, written atomically), `locking` (one writer per folder), `faults` (named points
where tests kill a job) and `quiet` (TensorFlow's start-up chatter off the console).

Imports nothing of mer_tf outside this package.
"""
