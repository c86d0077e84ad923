"""A project of one's own (model/project.py): the configuration file, where the specs come
from, backends imported beside their file, replay files with relative paths, the schema
command, and the hint for an expression a YAML flow mapping cut in two."""

from __future__ import annotations

import dataclasses
import json
import sys
import typing
from pathlib import Path

import pytest
from spec_variants import door_copy
from typer.testing import CliRunner

from authspec.cli import app
from authspec.harness.backends import load_object
from authspec.harness.commands import check_options, shipped_backend
from authspec.harness.options import CheckOptions
from authspec.harness.replay_file import ReplayPathError, located, relative
from authspec.model.errors import SpecErrors
from authspec.model.loader import load, schema
from authspec.model.project import (
    KEYS,
    Project,
    ProjectError,
    choose_specs,
    find_file,
    find_project,
    read_project,
)

ROOT = Path(__file__).parent.parent
LOCKOUT = ROOT / "examples" / "lockout"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- finding the file -------------------------------------------------------------------------


def test_the_file_is_found_from_the_current_folder_upwards(tmp_path: Path) -> None:
    own = write(tmp_path / "authspec.toml", 'specs = "s"\n')
    write(tmp_path / "pyproject.toml", '[tool.authspec]\nspecs = "p"\n')
    below = tmp_path / "a" / "b"
    below.mkdir(parents=True)
    assert find_file(below) == (own, None)  # authspec.toml beats the pyproject beside it
    inner = write(tmp_path / "a" / "pyproject.toml", '[tool.authspec]\nspecs = "inner"\n')
    assert find_file(below) == (inner, "tool.authspec")  # the first folder that has one wins
    assert find_project(below).settings["specs"] == str(tmp_path / "a" / "inner")


def test_a_pyproject_without_the_table_is_passed_over(tmp_path: Path) -> None:
    own = write(tmp_path / "authspec.toml", 'seed = 3\n')
    write(tmp_path / "a" / "pyproject.toml", '[project]\nname = "shop"\n[tool.ruff]\n')
    assert find_file(tmp_path / "a") == (own, None)
    assert find_project(tmp_path / "a").settings == {"seed": 3}


def test_paths_are_relative_to_the_file_and_zero_means_no_limit(tmp_path: Path) -> None:
    path = write(tmp_path / "authspec.toml", "\n".join([
        'specs = "policy"', 'backend = "tests/adapter.py:make"', 'out = "build/authspec"',
        'database = "cache/db"', 'codes = "codes.yaml"', "max_seconds = 0", "timeout = 2",
        "examples = 40", "observe = false", ""]))
    settings = read_project(path).settings
    assert settings["specs"] == str(tmp_path / "policy")
    assert settings["backend"] == f"{tmp_path / 'tests' / 'adapter.py'}:make"
    assert settings["out"] == str(tmp_path / "build" / "authspec")
    assert settings["database"] == str(tmp_path / "cache" / "db")
    assert settings["codes"] == str(tmp_path / "codes.yaml")
    assert settings["max_seconds"] is None and settings["timeout"] == 2.0
    assert settings["examples"] == 40 and settings["observe"] is False
    for backend in ("shop.testing:make_adapter", "bank", "mutant:x"):
        write(path, f'backend = "{backend}"\ndatabase = "none"\n')
        assert read_project(path).settings == {"backend": backend, "database": "none"}


# -- what is wrong with it, where -------------------------------------------------------------


def test_unknown_keys_and_wrong_types_are_located_with_what_to_write(tmp_path: Path) -> None:
    path = write(tmp_path / "authspec.toml",
                 '# a comment\nspecs = "specs"\nexampels = 3\n\nseed = "one"\nsteps = true\n')
    with pytest.raises(ProjectError) as raised:
        read_project(path)
    lines = [(str(e.span), e.message, e.hint) for e in raised.value.errors]
    assert [where.split(":", 1)[1] for where, _, _ in lines] == ["3:1", "5:1", "6:1"]
    assert "unknown key 'exampels'" in lines[0][1] and "did you mean 'examples'" in lines[0][2]
    assert "seed takes a whole number, not a string" in lines[1][1].replace(
        " (seed: a deterministic run)", "")
    assert lines[1][2] == "write e.g. seed = 10"
    assert "not a boolean" in lines[2][1]
    assert "3 errors in the configuration" in str(raised.value)


def test_errors_in_a_pyproject_table_name_its_lines(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[project]\nname = "shop"\nseed = 1\n\n'
                 '[tool.authspec]\nseed = 1.5\nmax_second = 3\n')
    with pytest.raises(ProjectError) as raised:
        find_project(tmp_path)
    where = [(e.span.line, e.message) for e in raised.value.errors]
    assert where[0][0] == 6 and "seed = 1.5" in where[0][1]
    assert where[1][0] == 7 and "unknown key 'max_second' in [tool.authspec]" in where[1][1]
    assert "did you mean 'max_seconds'" in raised.value.errors[1].hint


def test_a_file_that_is_not_toml_says_where(tmp_path: Path) -> None:
    path = write(tmp_path / "authspec.toml", 'seed = 1\nspecs = "a\n')
    with pytest.raises(ProjectError) as raised:
        read_project(path)
    (error,) = raised.value.errors
    assert error.span.line == 2 and "not valid TOML" in error.message


def test_the_keys_are_the_check_options_fields() -> None:
    """One source of truth: every field of CheckOptions but show_secrets and backend_options
    (both left to the command line) and goals (the pytest plugin's split) is a key of the
    file, with the type the field takes; the file adds nothing else."""
    hints = typing.get_type_hints(CheckOptions)
    fields = {f.name for f in dataclasses.fields(CheckOptions)} - {
        "show_secrets", "backend_options", "goals"}
    assert set(KEYS) == fields
    for name, (kind, _) in KEYS.items():
        assert kind in typing.get_args(hints[name]) or hints[name] is kind, name


# -- which specs ------------------------------------------------------------------------------


def test_which_specs_a_command_uses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    none, configured = Project(), Project(tmp_path / "authspec.toml", {"specs": "/p/specs"})
    assert choose_specs("given", configured, "check", "refuse") == ("given", None)
    assert choose_specs(None, configured, "check", "shipped") == (None, None)
    assert choose_specs(None, configured, "check", "refuse") == ("/p/specs", None)
    chosen, note = choose_specs(None, none, "validate")
    assert chosen is None and note is not None and note.startswith("note: validate: ")
    assert "using the example specs shipped with authspec" in note and "\n" not in note
    with pytest.raises(ProjectError, match=r"pass --specs DIR, or write authspec\.toml"):
        choose_specs(None, none, "init-adapter", "refuse")
    (tmp_path / "specs").mkdir()
    assert choose_specs(None, none, "check", "refuse") == ("specs", None)


def test_the_backends_shipped_with_authspec_belong_to_the_shipped_specs() -> None:
    assert shipped_backend("bank") and shipped_backend("mutant:quota_limit_30001")
    for other in ("model", "http", "adapter.py:make", "shop.testing:make", "nothing"):
        assert not shipped_backend(other), other


def test_an_option_given_wins_over_the_file(tmp_path: Path) -> None:
    project = Project(tmp_path / "authspec.toml", {
        "backend": "b.py:f", "examples": 7, "steps": 9, "max_seconds": None, "seed": 4,
        "out": "/o", "sweep": False})
    options = check_options(project, {"backend": "b.py:f", "examples": 3, "steps": None,
                                      "max_seconds": None, "seed": None, "timeout": 0.0},
                            Path("s"))
    assert (options.examples, options.steps, options.seed, options.out) == (3, 9, 4, "/o")
    assert options.max_seconds is None and options.timeout is None and not options.sweep
    assert options.specs == "s"
    plain = check_options(Project(), {"backend": "model", "max_seconds": 5.0}, None)
    assert plain == CheckOptions(backend="model", max_seconds=5.0)


# -- through the command line, with no configuration ------------------------------------------


def invoke(*args: str) -> typing.Any:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_without_specs_or_configuration_commands_say_so_or_refuse(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    validate = invoke("validate")
    assert validate.exit_code == 0, validate.stdout + validate.stderr
    assert validate.stderr.count("\n") == 1 and "using the example specs shipped" in (
        validate.stderr)
    for args in (("check", "--backend", "model"), ("init-adapter", "shop")):
        refused = invoke(*args)
        assert refused.exit_code == 2, refused.stdout
        assert f"error: {args[0]}: which specs?" in refused.stderr
        assert "pass --specs DIR, or write authspec.toml" in refused.stderr
    assert not list(tmp_path.iterdir())  # no banking adapter written
    bank = invoke("check", "--backend", "bank", "--examples", "1", "--steps", "2",
                  "--max-seconds", "1", "--database", "none", "--out", str(tmp_path / "o"),
                  "--no-supervise", "--no-coverage-table")
    assert bank.exit_code == 0 and "PASS" in bank.stdout, bank.stdout + bank.stderr
    assert bank.stderr == ""  # the bank's own specs, without a note


COMMANDS = [("validate",), ("simulate", "trace.yaml"), ("trace",), ("check",), ("mutants",),
            ("init-adapter", "shop"), ("diagram",), ("report",), ("diff", "specs")]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: a[0])
def test_every_command_reads_the_file_and_refuses_a_wrong_one(
        args: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "authspec.toml", 'specs = "specs"\nmax_secondz = 3\n')
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    result = invoke(*args)
    assert result.exit_code == 2, result.stdout
    assert "authspec.toml:2:1: error: unknown key 'max_secondz'" in result.stderr
    assert "did you mean 'max_seconds'" in result.stderr


# -- backends imported beside their file, and the replay file's paths -------------------------


def test_a_backend_file_imports_the_module_beside_it(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "shop" / "shop_service_beside.py", "NAME = 'the service'\n")
    adapter = write(tmp_path / "shop" / "shop_adapter_beside.py",
                    "from shop_service_beside import NAME\n\ndef make():\n    return NAME\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert load_object(f"{adapter}:make")() == "the service"
    write(tmp_path / "shop_module_here.py", "def make():\n    return 'here'\n")
    assert load_object("shop_module_here:make")() == "here"  # a module in the current folder


def test_a_replay_file_names_its_paths_relative_to_itself(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "project" / "out"
    specs, adapter = tmp_path / "project" / "specs", tmp_path / "project" / "adapter.py"
    specs.mkdir(parents=True)
    write(adapter, "")
    out.mkdir()
    backend, written = relative(f"{adapter}:make", str(specs), out)
    assert (backend, written) == ("../adapter.py:make", "../specs")
    assert relative("bank", None, out) == ("bank", None)
    moved = tmp_path / "moved"
    (tmp_path / "project").rename(moved)
    monkeypatch.chdir(tmp_path)
    here = str(moved / "out" / "replay_x.py")
    assert located(backend, written, here) == (f"{moved / 'out' / '../adapter.py'}:make",
                                               str(moved / "out" / "../specs"))
    (moved / "specs").rmdir()
    with pytest.raises(ReplayPathError) as raised:
        located(backend, written, here)
    assert "the specs ../specs" in str(raised.value)
    assert "set AUTHSPEC_REPLAY_SPECS=DIR" in str(raised.value)


# -- the schema, and the loader's hints -------------------------------------------------------


def undescribed(node: typing.Any, where: str = "#") -> list[str]:
    """Every property of every object of the schema that has no description."""
    missing = []
    if isinstance(node, dict):
        for key, value in (node.get("properties") or {}).items():
            if not (isinstance(value, dict) and value.get("description")):
                missing.append(f"{where}/properties/{key}")
        for key, value in node.items():
            missing += undescribed(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            missing += undescribed(value, f"{where}/{index}")
    return missing


def test_every_key_of_the_schema_has_a_description() -> None:
    assert undescribed(schema()) == []
    assert undescribed({"properties": {"a": {"type": "string"}}}) == ["#/properties/a"]


def test_the_schema_command_prints_or_writes_it(tmp_path: Path) -> None:
    printed = invoke("schema")
    assert printed.exit_code == 0 and json.loads(printed.stdout) == schema()
    written = invoke("schema", "-o", str(tmp_path / "editor" / "authspec.schema.json"))
    assert written.exit_code == 0, written.stderr
    text = (tmp_path / "editor" / "authspec.schema.json").read_text(encoding="utf-8")
    assert json.loads(text) == schema()


def test_an_expression_cut_by_a_flow_mapping_gets_the_hint_to_quote_it(tmp_path: Path) -> None:
    spec = door_copy(tmp_path, ('when: "code != secret_code"', "when: not matches(code, "
                                                               "door_code)"))
    with pytest.raises(SpecErrors) as raised:
        load(spec)
    (error,) = raised.value.errors
    assert "unknown key 'door_code)'" in error.message
    assert "looks like the end of an expression" in error.hint and "quote" in error.hint
    typo = door_copy(tmp_path / "typo", ("when: key, rules", "whne: key, rules"))
    with pytest.raises(SpecErrors) as raised:
        load(typo)
    assert "did you mean 'when'?" in raised.value.errors[0].hint  # a plain typo: as before


def test_the_loader_points_at_the_schema_command_not_at_a_path_of_the_source(
        tmp_path: Path) -> None:
    spec = door_copy(tmp_path, ("opened_times: {type: int", "opened_times: {type: [int]"))
    with pytest.raises(SpecErrors) as raised:
        load(spec)
    hints = " ".join(e.hint for e in raised.value.errors)
    assert "model/schema" not in hints
