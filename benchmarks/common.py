"""What every benchmark reports beside its figures: machine, versions, command."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time


def machine() -> dict:
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "gpu": _gpu_names(),
    }
    try:
        import psutil

        info["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    return info


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _gpu_names() -> list[str]:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10)
        return [line.strip() for line in out.stdout.splitlines() if line.strip()]
    except (OSError, subprocess.SubprocessError):
        return []


def versions() -> dict:
    out = {}
    for name in ("tensorflow", "keras", "keras_hub", "numpy"):
        try:
            module = __import__(name)
            out[name] = getattr(module, "__version__", "?")
        except ImportError:
            out[name] = None
    return out


def report(name: str, figures: dict, **extra) -> dict:
    """Prints and returns the benchmark's JSON object."""
    result = {
        "benchmark": name,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": " ".join([os.path.basename(sys.executable), "-m", f"benchmarks.{name}",
                             *sys.argv[1:]]),
        "machine": machine(),
        "versions": versions(),
        **extra,
        "figures": figures,
    }
    print(json.dumps(result, indent=2, sort_keys=False))
    return result


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM).

    Not `ru_maxrss`: Linux carries it across fork and exec, so a child would
    report its parent's peak.
    """
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median(values):
    return statistics.median(values)
