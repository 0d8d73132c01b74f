"""Several workers on one machine (127.0.0.1), each with its own TF_CONFIG: what
`python -m experiments.local_workers` runs, and what the multi-worker test uses.

On several machines the same TF_CONFIG goes to each (docs/accelerators.md, "Several machines"); here
the ports are chosen free at start, every worker's output goes to its own log, and
every process is ended when one fails, when time runs out, or on any error.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

from mer_tf.commands.experiment import FAILED_EXIT_CODE

FINISHED = (0, FAILED_EXIT_CODE)  # a worker that ends so finished its run (3: a fold failed)

def free_ports(count: int) -> list[int]:
    """Ports free now on 127.0.0.1 (the OS picks them; a small window remains before the
    workers bind them)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def tf_config(ports: list[int], index: int) -> str:
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                       "task": {"type": "worker", "index": index}})


def start(command: list[str], ports: list[int], log_dir: str, env: dict | None = None,
          attempt: int = 0) -> list[subprocess.Popen]:
    """Starts one worker per port, each in its own process group, logging to
    `log_dir/worker{i}.log` (appended: a restart's output follows the first)."""
    os.makedirs(log_dir, exist_ok=True)
    processes = []
    for index in range(len(ports)):
        log = open(os.path.join(log_dir, f"worker{index}.log"), "a")
        log.write(f"--- attempt {attempt}: {' '.join(command)}\n")
        log.flush()
        processes.append(subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, **(env or {}), "TF_CONFIG": tf_config(ports, index)}))
        log.close()
    return processes


def stop(processes) -> None:
    """Ends every worker and its children."""
    for process in processes:
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for process in processes:
        process.wait()


def wait(processes, timeout: float) -> list[int]:
    """Exit codes once every worker ends, or as soon as one fails (the others are then
    ended: they would wait for it); raises TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        codes = [p.poll() for p in processes]
        failed = any(code is not None and code not in FINISHED for code in codes)
        if failed or all(c is not None for c in codes):
            if any(code is None for code in codes):
                time.sleep(1.0)  # let the others notice and leave on their own first
            stop(processes)
            return [p.returncode for p in processes]
        time.sleep(0.2)
    stop(processes)
    raise TimeoutError(f"workers still running after {timeout:.0f} s")


def run(command: list[str], workers: int, log_dir: str, timeout: float = 3600,
        restarts: int = 0, env: dict | None = None) -> int:
    """Runs `command` as `workers` workers; when one fails, ends them all and starts them
    again with the same TF_CONFIG (the run resumes from its backup), up to `restarts`
    times. Returns 0, 3 (finished, a fold learned nothing), or the first failing code."""
    ports = free_ports(workers)
    for attempt in range(restarts + 1):
        processes = start(command, ports, log_dir, env, attempt)
        try:
            codes = wait(processes, timeout)
        finally:
            stop(processes)
        if all(code in FINISHED for code in codes):
            return max(codes)
        print(f"attempt {attempt}: worker exit codes {codes}"
              + ("; starting every worker again" if attempt < restarts else ""),
              file=sys.stderr)
    return next(code for code in codes if code not in FINISHED)
