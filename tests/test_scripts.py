"""Every user-facing script answers --help from the repository root and from its own folder, without torch."""

import pytest
from conftest import REPO, run_script

FOLDERS = ("generation", "summarization", "translation", "multitask", "non_functional_analysis",
           "statistical_tests", "dataset")
SCRIPTS = sorted(str(p.relative_to(REPO)) for folder in FOLDERS for p in (REPO / folder).rglob("*.py")
                 if "samples" not in p.parts) + ["run_experiment.py"]


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_help_from_the_root_and_from_the_scripts_folder(script):
    for cwd in (REPO, (REPO / script).parent):
        done = run_script(script, "--help", cwd=cwd, timeout=60)
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.startswith("usage:")


def test_there_are_scripts_for_every_task_and_method():
    for scope in ("generation", "summarization", "translation", "multitask"):
        for method in ("fft", "qlora"):
            assert f"{scope}/{method}_train.py" in SCRIPTS
    assert len(SCRIPTS) > 35
