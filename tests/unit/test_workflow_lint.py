"""The workflow itself: config validation and Snakemake's linter."""

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{SNAKEMAKE.parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run([str(SNAKEMAKE), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


def test_lint_is_clean():
    done = run("--lint")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "good condition" in done.stdout + done.stderr


def test_bad_config_value_is_refused_before_any_job(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("finetune:\n  checkpoints: 0\n")
    done = run("-n", "--configfile", "config/config.yaml", str(bad))  # an overlay of the default
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "checkpoints" in output and "minimum of 1" in output


# A path built in a rule file: an f-string with a folder separator, or a literal under one of the
# project's folders. logged()/timed() names and report captions are names, not paths.
BUILT_PATH = re.compile(r'(?<!logged\()(?<!timed\()\bf"[^"]*/'
                        r'|(?<!logged\()(?<!timed\()(?<!\w)"(results|logs|benchmarks|resources|submission|config)/')


def built_paths(text: str, name: str) -> list[str]:
    return [f"{name}:{number}: {line.strip()}" for number, line in enumerate(text.splitlines(), 1)
            if BUILT_PATH.search(line.split("#", 1)[0])]


def test_every_path_of_the_rules_is_a_constant_of_common_smk():
    found = []
    for path in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        if path.name != "common.smk":
            found += built_paths(path.read_text(encoding="utf-8"), path.name)
    assert not found, "paths built in rule files (define them in common.smk):\n" + "\n".join(found)


def test_the_path_lint_sees_a_built_path():
    assert built_paths('        png=f"{DEV_EVAL}/math.png",', "x.smk")
    assert built_paths('        script="submission/run_llama3_test.py",', "x.smk")
    assert built_paths('        expand("results/{model}.json", model=MODELS),', "x.smk")
    assert not built_paths('        logged("predict/{model}"),', "x.smk")
    assert not built_paths('        logged(f"missing_inputs/{number}"),', "x.smk")
    assert not built_paths('        json=DEV_MATH_JSON,  # see "results/" in common.smk', "x.smk")
