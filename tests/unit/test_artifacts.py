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
        "required": ["schema_version", "count", "provenance"],
        "properties": {
            "schema_version": {"const": "2.1"},
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
    assert loaded["schema_version"] == "2.1"
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
