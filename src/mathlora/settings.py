"""The one boundary between the configuration and the library.

:func:`load_config` reads config files the way the Snakefile does (later files overlay earlier
ones), validates them against ``config.schema.json`` and fills its defaults, so every entry point
sees the same validated mapping and each default is written once, in the schema.

A stage reads its settings as one frozen dataclass (:class:`PredictSettings`, ...), built from its
config section (``from_section``), from the one JSON argument a rule passes (``from_json``), or from
command-line flags that ``mathlora.cli.arguments`` derives from the dataclass and the schema.
The rule narrows the section to the dataclass's fields (:meth:`StageSettings.narrow`), so changing
an unrelated key reruns nothing. Errors name the config field, whoever gave the value.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import jsonschema

from mathlora.errors import ConfigError, InputError

CONFIG_SCHEMA = "config.schema.json"


# --- the whole config -------------------------------------------------------------------------

@functools.cache
def config_schema() -> dict[str, Any]:
    from mathlora.artifacts import schema_dir

    return json.loads((schema_dir() / CONFIG_SCHEMA).read_text(encoding="utf-8"))


def _filling_validator():
    """Draft 2020-12, setting each absent property that has a ``default`` before checking it."""
    base = jsonschema.Draft202012Validator

    def properties(validator, props, instance, schema):
        if validator.is_type(instance, "object"):
            for name, sub in props.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from base.VALIDATORS["properties"](validator, props, instance, schema)

    return jsonschema.validators.extend(base, {"properties": properties})


def field_name(path: Iterable[Any]) -> str:
    return ".".join(str(part) for part in path) or "(top level)"


def validated(config: Mapping[str, Any], *, source: str = "config") -> dict[str, Any]:
    """A copy of ``config`` with the schema's defaults filled in; the first error names its field."""
    filled = copy.deepcopy(dict(config))
    errors = sorted(_filling_validator()(config_schema()).iter_errors(filled),
                    key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        error = errors[0]
        raise ConfigError(f"{source}: {field_name(error.absolute_path)}: {error.message}")
    return filled


def _overlay(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """Snakemake's merge of config files: mappings merge key by key, anything else is replaced."""
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _overlay(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, "config file not found") from None
    except yaml.YAMLError as exc:
        raise InputError(path, f"not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise InputError(path, f"expected a mapping of config sections, got {type(data).__name__}")
    return data


def load_config(*paths: str | Path, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The validated config of one or more files (each overlaying the one before), defaults filled."""
    if not paths:
        raise ConfigError("no config file given")
    merged: dict[str, Any] = {}
    for path in paths:
        _overlay(merged, read_yaml_mapping(path))
    _overlay(merged, overrides or {})
    return validated(merged, source=" + ".join(map(str, paths)))


# --- one stage's settings ---------------------------------------------------------------------

def section_property(section: str | None, name: str) -> dict[str, Any]:
    """The schema of ``section.name`` (``section`` dotted, e.g. ``base.corpus``; None: a top-level
    key), its ``$ref`` resolved (one level, as the schema uses it)."""
    schema = config_schema()
    node = schema
    for part in (section.split(".") if section else []):
        node = node["properties"][part]
    prop = dict(node["properties"][name])
    ref = prop.pop("$ref", None)
    if ref:
        prop = {**schema["$defs"][ref.rsplit("/", 1)[1]], **prop}
    return prop


@dataclasses.dataclass(frozen=True)
class StageSettings:
    """Settings of one stage: fields named as the keys of one config section (``SECTION``, dotted
    for a nested one), and of the top level for the fields in ``ROOT`` (the run's seed)."""

    SECTION: ClassVar[str]
    ROOT: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def key_name(cls, key: str) -> str:
        """The field's name in the config, as errors and help give it (``data.dev_size``, ``seed``)."""
        return key if key in cls.ROOT else f"{cls.SECTION}.{key}"

    @classmethod
    def property_of(cls, key: str) -> dict[str, Any]:
        return section_property(None if key in cls.ROOT else cls.SECTION, key)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, source: str = "config", **fixed: Any):
        """The stage's settings from a whole (validated) config; ``fixed`` overrides fields."""
        section: Any = config
        for part in cls.SECTION.split("."):
            section = section.get(part, {}) if isinstance(section, Mapping) else {}
        values = {**{key: config[key] for key in cls.ROOT if key in config}, **section, **fixed}
        return cls.from_section(values, source=source)

    @classmethod
    def narrow(cls, section: Mapping[str, Any]) -> dict[str, Any]:
        """The section's keys this stage reads (a rule's rerun trigger: no other key)."""
        return {key: section[key] for key in cls.keys() if key in section}

    @classmethod
    def from_section(cls, section: Mapping[str, Any], *, source: str = "config"):
        """The stage's settings from (part of) its config section, checked and completed by the schema."""
        values = cls.narrow(section)
        validator = _filling_validator()
        for key in cls.keys():
            prop = cls.property_of(key)
            if values.get(key) is None and key in cls.optional():
                values[key] = None  # left to the stage (e.g. SQuAD's length: max_length)
                continue
            if key not in values and "default" in prop:
                values[key] = copy.deepcopy(prop["default"])
            if key not in values:
                raise ConfigError(f"{source}: {cls.key_name(key)}: required, not given")
            error = jsonschema.exceptions.best_match(validator(prop).iter_errors(values[key]))
            if error is not None:
                raise ConfigError(f"{source}: {cls.key_name(key)}: {error.message}")
        settings = cls(**values)
        settings.check(source)
        return settings

    @classmethod
    def optional(cls) -> frozenset[str]:
        """Fields the config may leave out without a default (``None``: the stage derives them)."""
        return frozenset()

    @classmethod
    def parse_json(cls, text: str, *, source: str = "--settings") -> dict[str, Any]:
        """The section keys of one JSON argument (only keys this stage reads)."""
        try:
            section = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{source}: not a JSON object ({exc})") from None
        if not isinstance(section, dict):
            raise ConfigError(f"{source}: expected a JSON object of {cls.SECTION} keys")
        unknown = sorted(set(section) - set(cls.keys()))
        if unknown:
            raise ConfigError(f"{source}: {cls.SECTION} keys {unknown} are not read by this stage; "
                              f"expected some of {list(cls.keys())}")
        return section

    @classmethod
    def from_json(cls, text: str, *, source: str = "--settings"):
        return cls.from_section(cls.parse_json(text, source=source), source=source)

    def to_json(self) -> str:
        """The settings as one JSON argument (a field left to the stage, ``None``, is left out)."""
        values = {key: value for key, value in dataclasses.asdict(self).items() if value is not None}
        return json.dumps(values, sort_keys=True)

    def check(self, source: str) -> None:
        """Rules across fields (the schema checks each field alone)."""

    def at_most(self, source: str, low: str, high: str) -> None:
        """Field ``low`` must not exceed field ``high`` (the error names both config keys)."""
        if getattr(self, low) > getattr(self, high):
            raise ConfigError(f"{source}: {self.key_name(low)}: {getattr(self, low)} exceeds "
                              f"{self.key_name(high)} {getattr(self, high)}")


# --- the evaluate stages ----------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class GenerationSettings(StageSettings):
    SECTION: ClassVar[str] = "evaluate"

    batch_size: int
    max_length: int


@dataclasses.dataclass(frozen=True)
class PredictSettings(GenerationSettings):
    """Greedy math predictions with one prompt variant."""

    max_new_tokens: int
    min_new_tokens: int
    prompt: str

    def check(self, source: str) -> None:
        self.at_most(source, "min_new_tokens", "max_new_tokens")


@dataclasses.dataclass(frozen=True)
class SquadSettings(GenerationSettings):
    """SQuAD decoding: its own lengths (passages are longer than math prompts)."""

    squad_max_length: int | None
    squad_max_new_tokens: int
    squad_min_new_tokens: int

    @classmethod
    def optional(cls) -> frozenset[str]:
        return frozenset({"squad_max_length"})

    @property
    def length(self) -> int:
        """Prompt + generation positions: ``squad_max_length``, else ``max_length``."""
        return self.squad_max_length or self.max_length

    def check(self, source: str) -> None:
        self.at_most(source, "squad_min_new_tokens", "squad_max_new_tokens")


@dataclasses.dataclass(frozen=True)
class EvaluationSettings(GenerationSettings):
    """Every evaluation of one model in one process: math on each set (its prompt given with the
    set) and SQuAD; each run reads the settings its own stage would."""

    max_new_tokens: int
    min_new_tokens: int
    squad_max_length: int | None
    squad_max_new_tokens: int
    squad_min_new_tokens: int

    @classmethod
    def optional(cls) -> frozenset[str]:
        return SquadSettings.optional()

    def math(self, prompt: str) -> PredictSettings:
        return PredictSettings.from_section({**dataclasses.asdict(self), "prompt": prompt},
                                            source="--math")

    def squad(self) -> SquadSettings:
        return SquadSettings.from_section(dataclasses.asdict(self), source="--squad")

    def check(self, source: str) -> None:
        self.at_most(source, "min_new_tokens", "max_new_tokens")
        self.at_most(source, "squad_min_new_tokens", "squad_max_new_tokens")


@dataclasses.dataclass(frozen=True)
class RuleSettings(StageSettings):
    """How a prediction is compared with its reference (the shipped script's rescoring reads only this)."""

    SECTION: ClassVar[str] = "evaluate"

    rel_tol: float
    round_to_reference: bool


@dataclasses.dataclass(frozen=True)
class MathSettings(RuleSettings):
    """Scoring a model's texts: the rule, and the prompt they were asked with."""

    prompt: str
    max_prompt_not_found: int


@dataclasses.dataclass(frozen=True)
class ThresholdSettings(StageSettings):
    """The SQuAD rule a checkpoint must pass to be chosen (the organisers': 90 % of the base)."""

    SECTION: ClassVar[str] = "squad"

    thresholds: str
    relative: float
    fixed: dict


@dataclasses.dataclass(frozen=True)
class SeededSettings(StageSettings):
    """A stage whose random choices take the run's top-level ``seed``."""

    ROOT: ClassVar[frozenset[str]] = frozenset({"seed"})

    seed: int


@dataclasses.dataclass(frozen=True)
class SquadSynthSettings(SeededSettings):
    """The generated SQuAD-format dev set (``squad.source: synth``)."""

    SECTION: ClassVar[str] = "squad.synth_paragraphs"

    dev: int


# --- the data stages --------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class SynthSettings(SeededSettings):
    """The generated train.json in the organisers' format (``data.source: synth``)."""

    SECTION: ClassVar[str] = "data"

    chinese_lines: int
    english_lines: int
    template_rate: float
    small_operands: int | None

    @classmethod
    def optional(cls) -> frozenset[str]:
        return frozenset({"small_operands"})


@dataclasses.dataclass(frozen=True)
class InputSettings(SeededSettings):
    """How the raw train.json is read: where its English lines start, what a bad line does."""

    SECTION: ClassVar[str] = "data"

    chinese_lines: int
    on_error: str


@dataclasses.dataclass(frozen=True)
class PrepareSettings(InputSettings):
    """The training sample: how many Chinese and English lines."""

    sample: dict


@dataclasses.dataclass(frozen=True)
class SplitSettings(InputSettings):
    """The two held-out sets."""

    dev_size: int
    test_size: int
    test_pool: str


@dataclasses.dataclass(frozen=True)
class ConversationSettings(StageSettings):
    """Which of the sample's categories the LoRA trains on."""

    SECTION: ClassVar[str] = "data"

    finetune_categories: str | list


@dataclasses.dataclass(frozen=True)
class TokenizerSettings(StageSettings):
    """The small BPE trained for the embedded default (``tokenizer.source: train``)."""

    SECTION: ClassVar[str] = "tokenizer"

    ranks: int
    single_digits: bool


@dataclasses.dataclass(frozen=True)
class MindrecordSettings(StageSettings):
    """The tokenized training rows."""

    SECTION: ClassVar[str] = "mindrecord"

    seq_length: int
    mask: str


@dataclasses.dataclass(frozen=True)
class WorldSettings(SeededSettings):
    """The tiny base's pretraining corpus."""

    SECTION: ClassVar[str] = "base.corpus"

    arithmetic: int
    paragraphs: int
    largest: int


@dataclasses.dataclass(frozen=True)
class BaseSettings(SeededSettings):
    """Pretraining the tiny base on that corpus (``base.source: pretrain``)."""

    SECTION: ClassVar[str] = "base"

    steps: int
    batch_size: int
    learning_rate: float
    training_seed: int | None

    @classmethod
    def optional(cls) -> frozenset[str]:
        return frozenset({"training_seed"})

    @property
    def init_seed(self) -> int:
        """The initialisation's and packing order's seed: ``training_seed``, else the run's."""
        return self.seed if self.training_seed is None else self.training_seed


STAGE_SETTINGS: tuple[type[StageSettings], ...] = (
    PredictSettings, SquadSettings, EvaluationSettings, RuleSettings, MathSettings, ThresholdSettings,
    SquadSynthSettings, SynthSettings, PrepareSettings, SplitSettings, ConversationSettings, TokenizerSettings,
    MindrecordSettings, WorldSettings, BaseSettings)
