"""A newcomer's first hour: one-line errors for a wrong folder, quiet commands, help that
says the default that applies, and what a finished run tells next."""

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import run_args, train


def _one_line_exit(main, argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.mark.slow
def test_a_wrong_data_dir_is_one_line_that_says_what_it_is(release, prepared, tmp_path, capsys):
    import shutil

    from experiments import concat

    root = release[0]
    parent = os.path.dirname(root)
    (tmp_path / "photos").mkdir()
    (tmp_path / "started" / ".state").mkdir(parents=True)
    # A finished preparation whose manifest was deleted by hand, and one that was changing
    # a shard when it stopped (it removes the manifest and the index first).
    for name in ("deleted", "rebuilding"):
        shutil.copytree(prepared[0], tmp_path / name)
        os.remove(tmp_path / name / "manifest.json")
    os.remove(tmp_path / "rebuilding" / "utterances.json")
    cases = {str(tmp_path / "nowhere"): "does not exist",
             root: "this is an IEMOCAP release, not prepared data: prepare it first with "
                   f"python -m experiments.prepare --iemocap {root} --out DATA_DIR",
             parent: f"holds an IEMOCAP release, not prepared data: prepare it first with "
                     f"python -m experiments.prepare --iemocap {root}",
             str(tmp_path / "photos"): "not a prepared corpus: it has no manifest.json",
             str(tmp_path / "started"): "a preparation began here but did not finish",
             str(tmp_path / "rebuilding"): "a preparation began here but did not finish",
             str(tmp_path / "deleted"): "a preparation finished here but its manifest.json "
                                        "is gone (deleted or moved by hand?)"}
    for data_dir, message in cases.items():
        line = _one_line_exit(concat.main, ["--data-dir", data_dir, "--quiet"], capsys)
        assert line.startswith(f"error: {data_dir}: {message}"), line


@pytest.mark.slow
def test_prepare_names_the_release_inside_a_parent_folder(release, tmp_path, capsys):
    from experiments import prepare

    parent = os.path.dirname(release[0])
    out = tmp_path / "out"
    assert prepare.main(["--iemocap", parent, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"IEMOCAP_full_release is inside: pass that, --iemocap {release[0]}" in err
    assert "--on-error" not in err and not out.exists()  # no advice in a circle, nothing left


@pytest.mark.slow
def test_commands_print_no_tensorflow_chatter(prepared):
    result = subprocess.run([sys.executable, "-m", "experiments.audit", "--data-dir",
                             prepared[0]], capture_output=True, text=True, timeout=120,
                            env={k: v for k, v in os.environ.items()
                                 if k not in ("TF_CPP_MIN_LOG_LEVEL", "MER_TF_VERBOSE")})
    assert result.returncode == 0, result.stderr
    for noise in ("I0000", "E0000", "W0000", "cuInit", "absl::InitializeLog", "oneDNN"):
        assert noise not in result.stderr, result.stderr
    assert "fold1" in result.stdout


def test_every_flag_has_help_and_the_default_that_applies():
    from mer_tf.commands.flags import build_parser

    parser = build_parser("python -m experiments.concat", "")
    for action in parser._actions:
        if action.option_strings and action.dest != "help":
            assert action.help, action.option_strings
    text = parser.format_help()
    for expected in ("paper: 256; demo: 96", "paper: 1e-05; demo: 0.003", "(default: 10)",
                     "paper: 5; demo: 16", "the demo's 3 s"):
        assert expected in " ".join(text.split()), expected
    from experiments import local_workers

    result = subprocess.run([sys.executable, "-m", "experiments.local_workers", "--help"],
                            capture_output=True, text=True)
    assert "usage: python -m experiments.local_workers" in result.stdout
    assert "-- COMMAND" in result.stdout and "--workers 2 -- \\\n" in result.stdout
    assert local_workers.__doc__


@pytest.mark.slow
def test_a_loso_run_says_what_next_and_predicts_with_its_fold_models(prepared, assets, release,
                                                                      tmp_path, capsys):
    from experiments import mocap, predict

    run_dir = tmp_path / "run"
    argv = run_args(prepared, assets, run_dir, "--protocol", "loso", "--folds", "4,5")
    argv[argv.index("--epochs") + 1] = "1"
    argv.remove("--quiet")
    train(mocap.main, argv)
    err = capsys.readouterr().err
    # the commands name this interpreter (.venv/bin/python here): a bare `tensorboard` or
    # `python` outside the environment fails with ModuleNotFoundError
    python = os.path.relpath(sys.executable)
    assert "next:" in err and f"{python} -m experiments.tensorboard {run_dir}" in err
    assert f"{python} -m experiments.predict --run {run_dir}" in err and "--fold fold4" in err
    assert "\n  tensorboard " not in err and "\n  python -m" not in err
    truth = next(u for u in release[1] if u.session == 5 and u.emotion == "ang")
    session = os.path.join(release[0], "Session5", "dialog")
    name = "Ses05M_script01_1" if truth.dialog == "Ses05M_script01_1b" else truth.dialog
    files = [f"--mocap-{s}={os.path.join(session, f'MOCAP_{s}', name + '.txt')}"
             for s in ("head", "hand", "rotated")]
    window = ["--start", str(truth.start), "--end", str(truth.end)]
    assert predict.main(["--run", str(run_dir), *files, *window]) == 0
    assert "averaged over the 2 fold models of this LOSO run (fold4, fold5)" in (
        capsys.readouterr().err)
    assert predict.main(["--run", str(run_dir), "--fold", "fold4", *files, *window]) == 0
    assert "averaged" not in capsys.readouterr().err
    summary = json.load(open(run_dir / "summary.json"))
    assert set(summary["pooled"]["ci95"]) == {"wa", "ua", "macro_f1"}
    assert summary["pooled"]["utterances"] == sum(f["test"]["utterances"]
                                                  for f in summary["folds"])


@pytest.mark.parametrize("preset", ["paper", "demo"])
def test_every_help_default_is_what_a_run_without_the_flag_records(preset):
    """The default --help shows for each setting is the value config.json gets when the
    flag is not given (the settings are declared once, on the dataclass fields)."""
    from mer_tf.commands.flags import _default_text, _dest, _shown, build_parser, setting_fields
    from mer_tf.config import presets

    recorded = presets.run_config("concat", data_dir="data", preset_name=preset).to_dict()
    help_text = " ".join(build_parser("x", "").format_help().split())
    for section, path, field in setting_fields():
        value = recorded[section]
        for key in path.split("."):
            value = value[key]
        mapping = field.metadata.get("to_field")
        if isinstance(mapping, dict):
            value = {v: k for k, v in mapping.items()}.get(value, value)
        shown = _default_text(section, path, field)
        if not shown:  # --no-export: a switch, no default to show
            continue
        assert f"{preset}: {_shown(value)}" in shown or shown == f" (default: {_shown(value)})", \
            (field.metadata["flag"], shown, value)
        assert " ".join(shown.split()) in help_text, _dest(field)


def _quiet_env():
    return {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL",
                                                              "MER_TF_VERBOSE")}


@pytest.mark.slow
def test_tensorboard_starts_without_tensorflow_chatter(tmp_path):
    """`experiments.tensorboard` (what a finished run's next steps name) serves the folder
    and says where, with no start-up line of TensorFlow's; a wrong folder is one line."""
    import socket
    import time

    from mer_tf.io.quiet import _NOISE

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "experiments.tensorboard", str(tmp_path),
                                "--port", str(port)], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=_quiet_env())
    lines, deadline = [], time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if f"localhost:{port}" in line or not line:
                break
    finally:
        process.kill()
        process.wait()
    assert any(f"http://localhost:{port}/" in line for line in lines), lines
    noise = [line for line in lines if _NOISE.match(line) or "oneDNN" in line]
    assert not noise, lines
    missing = subprocess.run([sys.executable, "-m", "experiments.tensorboard",
                              str(tmp_path / "nowhere")], capture_output=True, text=True,
                             timeout=60)
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"error: {tmp_path / 'nowhere'}: no such folder"
