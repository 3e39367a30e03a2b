import json

import pytest

from mathlora import artifacts
from mathlora.errors import ArtifactError, InputError


@pytest.fixture()
def schemas(tmp_path, monkeypatch):
    """A private schema folder with the real provenance schema and one test kind."""
    folder = tmp_path / "schemas"
    folder.mkdir()
    real = artifacts.schema_dir() / "provenance.schema.json"
    (folder / "provenance.schema.json").write_text(real.read_text())
    (folder / "demo.schema.json").write_text(json.dumps({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://mathlora.invalid/schemas/demo.schema.json",
        "type": "object", "additionalProperties": False,
        "required": ["schema_version", "kind", "count", "provenance"],
        "properties": {
            "schema_version": {"const": "2.1"},
            "kind": {"const": "demo"},
            "count": {"type": "integer", "minimum": 0},
            "provenance": {"$ref": "provenance.schema.json"},
        },
    }))
    monkeypatch.setenv("MATHLORA_SCHEMAS", str(folder))
    artifacts._registry.cache_clear()
    artifacts.validator.cache_clear()
    yield folder
    artifacts._registry.cache_clear()
    artifacts.validator.cache_clear()


def test_write_artifact_stamps_version_and_provenance(schemas, tmp_path, monkeypatch):
    monkeypatch.setenv(artifacts.CONFIG_SHA256_ENV, artifacts.config_sha256({"a": 1}))
    out = tmp_path / "out" / "demo.json"
    written = artifacts.write_artifact(out, "demo", {"count": 3})
    loaded = artifacts.read_artifact(out, "demo")
    assert loaded == written
    assert loaded["schema_version"] == "2.1" and loaded["kind"] == "demo"
    assert loaded.count == 3 and loaded.provenance["packages"]
    with pytest.raises(AttributeError, match="a demo report has no field 'cuont'"):
        loaded.cuont  # noqa: B018 - a misspelt field fails loudly
    assert loaded["provenance"]["config_sha256"] == artifacts.config_sha256({"a": 1})
    assert loaded["provenance"]["packages"]["python"].startswith("3.")
    assert list(out.parent.iterdir()) == [out]  # no temp files left behind


def test_invalid_payload_is_refused_and_nothing_written(schemas, tmp_path):
    out = tmp_path / "demo.json"
    with pytest.raises(ArtifactError, match="field count"):
        artifacts.write_artifact(out, "demo", {"count": -1})
    with pytest.raises(ArtifactError, match="Additional properties"):
        artifacts.write_artifact(out, "demo", {"count": 1, "extra": True})
    assert not out.exists() and list(tmp_path.iterdir()) == [schemas]


def test_read_artifact_reports_file(schemas, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="bad.json"):
        artifacts.read_artifact(bad, "demo")
    with pytest.raises(InputError, match="not found"):
        artifacts.read_artifact(tmp_path / "missing.json", "demo")


def test_unknown_kind(schemas):
    with pytest.raises(ArtifactError, match="no schema"):
        artifacts.validator("nope")


def test_config_hash_ignores_key_order():
    assert artifacts.config_sha256({"a": 1, "b": [1, 2]}) == artifacts.config_sha256({"b": [1, 2], "a": 1})
    assert artifacts.config_sha256({"a": 1}) != artifacts.config_sha256({"a": 2})


def test_atomic_output_cleans_up_on_failure(tmp_path):
    target = tmp_path / "file.bin"
    with pytest.raises(RuntimeError):
        with artifacts.atomic_output(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("writer crashed")
    assert list(tmp_path.iterdir()) == []
    with artifacts.atomic_output(target) as tmp:
        tmp.mkdir()
        (tmp / "inside").write_text("x")
    assert (target / "inside").read_text() == "x"


def test_every_repository_schema_is_valid_draft_2020_12():
    import jsonschema

    for path in sorted(artifacts.schema_dir().glob("*.schema.json")):
        schema = json.loads(path.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$id"].endswith("/" + path.name), path.name


def test_every_artifact_kind_pins_its_own_name():
    kinds = artifacts.artifact_kinds()
    assert {"math", "squad", "summary", "train", "merge", "params", "verify", "world"} <= set(kinds)
    for kind in kinds:
        assert artifacts.validator(kind).schema["properties"]["kind"] == {
            "const": kind, "description": "what this report is"}
        assert "kind" in artifacts.validator(kind).schema["required"]


def test_a_report_of_another_kind_is_refused(tmp_path):
    from mathlora.artifacts import read_artifact, write_artifact

    path = tmp_path / "world.json"
    write_artifact(path, "world", {"seed": 1, "largest": 9, "documents": {"arithmetic": 1, "reading": 0},
                                   "excluded_pairs": 0, "exclude": [], "output": "w.jsonl",
                                   "sha256": "0" * 64})
    with pytest.raises(ArtifactError, match="kind"):
        read_artifact(path, "base")


def test_a_built_wheel_carries_every_schema(tmp_path):
    """A plain (non-editable) install finds its schemas: they are package data."""
    import shutil
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    source = tmp_path / "source"  # a copy: a build leaves build/ and egg-info behind
    for name in ("pyproject.toml", "README.md"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(root / name, source / name)
    shutil.copytree(root / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "--quiet", "--wheel-dir", str(tmp_path), str(source)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    wheel = next(tmp_path.glob("mathlora-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for schema in sorted((root / "src" / "mathlora" / "schemas").glob("*.schema.json")):
        assert f"mathlora/schemas/{schema.name}" in names, schema.name
    assert "mathlora/model/mindformers.yaml.in" in names
