"""Generate tests/broken_specs/<case>/ from tests/specs/door with one deliberate fault each."""

import pathlib
import shutil

base = pathlib.Path("tests/specs/door")
out = pathlib.Path("tests/broken_specs")
sys0 = (
    (base / "system.yaml")
    .read_text()
    .replace("rules: rules.yaml", "rules: ../../specs/door/rules.yaml")
)
door0 = (base / "door.yaml").read_text()
cases = {
    "bad_yaml": ("system", "  close: {}\n", "  close: {\n"),
    "tab_indent": ("door", "  closed: {initial: true}\n", "\tclosed: {initial: true}\n"),
    "unknown_key": ("door", "    from: closed\n    to: open\n", "    fro: closed\n    to: open\n"),
    "unknown_state": (
        "door",
        "  - {id: close, event: close, from: open, to: closed, rules: [R2]}",
        "  - {id: close, event: close, from: open, to: clsoed, rules: [R2]}",
    ),
    "unknown_event": ("door", "  - {id: close, event: close,", "  - {id: close, event: shut,"),
    "unknown_name": ("door", "    when: opened_times < 3\n", "    when: times_opened < 3\n"),
    "type_error": ("door", "    when: opened_times < 3\n", "    when: opened_times < 'three'\n"),
    "enum_typo": (
        "door",
        "    when: opened_times < 3\n",
        "    when: opened_times < 3 and door.state == 'closd'\n",
    ),
    "expr_syntax": ("door", "    when: opened_times < 3\n", "    when: opened_times < \n"),
    "python_eval_attempt": (
        "door",
        "    when: opened_times < 3\n",
        "    when: __import__('os').system('true')\n",
    ),
    "unknown_reason": ("door", "reason: worn_out,", "reason: worn_down,"),
    "duplicate_key": ("door", "  open: {}\n", "  open: {}\n  closed: {}\n"),
    "python_tag": (
        "door",
        "  opened_times: {type: int, min: 0, max: 3, initial: 0}",
        "  opened_times: !!python/object/apply:os.system ['true']",
    ),
    "unknown_citation": (
        "door",
        "  - {id: close, event: close, from: open, to: closed, rules: [R2]}",
        "  - {id: close, event: close, from: open, to: closed, rules: [R2, R99]}",
    ),
    "uncited_rule": (
        "door",
        "  - {id: lock, event: lock, from: closed, to: locked, when: key, rules: [R3]}\n",
        "  - {id: lock, event: lock, from: closed, to: locked, when: key, rules: [R1]}\n",
        "door",
        "reason: locked, rules: [R3]}",
        "reason: locked, rules: [R1]}",
    ),
    "unanswered_question": (
        "system",
        'assumptions:\n  Q1:\n    choice: {en: "Yes: the code is compared exactly, letter case included."}\n    rules: [R1]\n',
        "",
    ),
    "unreachable_state": (
        "door",
        "  locked: {final: true}\n",
        "  locked: {final: true}\n  jammed: {final: true}\n",
    ),
    "dead_end_state": ("door", "  locked: {final: true}\n", "  locked: {}\n"),
    "nondeterminism": (
        "door",
        "  - {id: lock, event: lock,",
        "  - {id: slam, event: close, from: open, to: locked, when: true, rules: [R3]}\n  - {id: lock, event: lock,",
    ),
    "effect_out_of_range": (
        "door",
        "    when: opened_times < 3\n",
        "    when: opened_times <= 3\n",
    ),
    "no_initial_state": ("door", "  closed: {initial: true}\n", "  closed: {}\n"),
    "unbounded_int": ("door", "{type: int, min: 0, max: 3, initial: 0}", "{type: int, initial: 0}"),
    "initial_out_of_range": (
        "door",
        "{type: int, min: 0, max: 3, initial: 0}",
        "{type: int, min: 0, max: 3, initial: 7}",
    ),
    "assign_other_machine": (
        "door",
        "    do: {opened_times: opened_times + 1}\n",
        "    do: {opened_times: opened_times + 1, missing_var: 1}\n",
    ),
    "unknown_policy": (
        "door",
        'when: "code != secret_code"',
        'when: "code != secret_code or not matches(code, door_pin)"',
    ),
    "missing_machine_file": (
        "system",
        "machines: [door.yaml]",
        "machines: [door.yaml, window.yaml]",
    ),
    "invariant_broken_initially": ("door", "expr: opened_times <= 3", "expr: opened_times >= 1"),
}
cases["duplicate_id"] = ("door", "  - {id: close, event: close,", "  - {id: open, event: close,")
cases["shadowed_refusal"] = (
    "door",
    "  - {id: worn_out,",
    "  - {id: twice_wrong, event: open, from: closed, when: \"code != secret_code and opened_times >= 0\", reason: wrong_code, rules: [R1]}\n  - {id: worn_out,",
)
# Hostile inputs that once crashed the loader (issue 9).
cases["control_char"] = ("door", "  open: {}\n", "  open: {\x01}\n")
cases["huge_int"] = ("door", "min: 0, max: 3,", "min: 0, max: " + "9" * 4400 + ",")
cases["deep_yaml"] = ("door", "states:\n", "deep: " + "[" * 60 + "]" * 60 + "\nstates:\n")
cases["tag_on_scalar"] = ("door", "name: door", "name: !!timestamp door")
cases["map_tag_on_scalar"] = ("door", "  open: {}\n", "  open: !!map x\n")
cases["machine_is_folder"] = ("system", "machines: [door.yaml]", "machines: [door.yaml, doors]")
cases["machine_is_device"] = ("system", "machines: [door.yaml]", "machines: [door.yaml, /dev/zero]")
cases["rules_is_folder"] = ("system", "rules: ../../specs/door/rules.yaml", "rules: ../../specs")
cases["long_file_name"] = ("system", "machines: [door.yaml]",
                           "machines: [door.yaml, " + "w" * 300 + ".yaml]")
cases["deep_parentheses"] = ("door", "    when: opened_times < 3\n",
                             "    when: " + "(" * 200 + "opened_times < 3" + ")" * 200 + "\n")
cases["minus_chain"] = ("door", "    when: opened_times < 3\n",
                        "    when: opened_times < " + "-" * 1900 + "3\n")
cases["list_compare"] = ("door", "    when: opened_times < 3\n",
                         "    when: opened_times < 3 and [1, 2] == [1]\n")
cases["modulo_by_zero"] = ("door", "    when: opened_times < 3\n",
                           "    when: 5 % opened_times == 0 and opened_times < 3\n")
cases["duplicate_machine"] = ("system", "machines: [door.yaml]", "machines: [door.yaml, door2.yaml]")
for name, change in cases.items():
    d = out / name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    texts = {"system": sys0, "door": door0}
    for i in range(0, len(change), 3):
        which, old, new = change[i : i + 3]
        assert old in texts[which], (name, old)
        texts[which] = texts[which].replace(old, new, 1)
    (d / "system.yaml").write_text(texts["system"])
    (d / "door.yaml").write_text(texts["door"])
    if name == "duplicate_machine":
        (d / "door2.yaml").write_text(door0)
    if name == "machine_is_folder":
        (d / "doors").mkdir()
        (d / "doors" / "README").write_text("a folder named in machines: (git keeps no empty "
                                            "folder)\n")
alias = out / "alias_bomb"
if alias.exists():
    shutil.rmtree(alias)
alias.mkdir()
(alias / "door.yaml").write_text(door0)
lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"] + [
    f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 12)
]
(alias / "system.yaml").write_text(
    sys0 + "# a billion laughs\nbomb:\n" + "\n".join("  " + line for line in lines) + "\n"
)
