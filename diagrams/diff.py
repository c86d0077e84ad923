"""A semantic diff of two specs: what a review meeting needs to know changed, and which rules.

Elements are matched by their ids (transition and rejection ids, ``machine.state``,
``machine.variable``, event names, ``event.param``, reason codes, policy and enum names,
question IDs of assumptions, rule IDs of the catalogue) and compared field by field on their
readable form (guards and effects as ``unparse`` prints them, so reformatting a guard is no
change). Secret values are masked in the diff too.

``OLD``/``NEW`` may be spec folders (or system files) or ``git:REV`` (``specs/`` at that
revision of the current repository, extracted with ``git archive``), or ``git:REV:PATH``.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from authspec.model import load
from authspec.model.errors import AuthspecError
from authspec.model.expr import Call, PolicyRef, VarRef, walk
from authspec.model.ir import Expr, Machine, Rejection, System, Transition
from authspec.model.secrets import DRAWN

from .common import effect_text, expr_text, sort_rule_ids
from .dot import ADDED, CHANGED, REMOVED, Options, machine_graph

CATEGORIES = ("system", "machine", "state", "variable", "transition", "rejection", "invariant",
              "event", "param", "reason", "policy", "enum", "assumption", "rule", "question")
SIGN = {ADDED: "+", REMOVED: "-", CHANGED: "~"}


@dataclass(frozen=True)
class Change:
    kind: str  # added | removed | changed
    category: str  # one of CATEGORIES
    key: str
    fields: tuple[tuple[str, str, str], ...] = ()  # (field, old, new) of a change
    summary: str = ""  # one line describing an added or removed element
    rules: tuple[str, ...] = ()  # rule and question IDs affected
    machine: str | None = None

    def describe(self) -> str:
        head = f"{SIGN[self.kind]} {self.category} {self.key}"
        if self.kind == CHANGED:
            parts = [f"{name}: {old or '∅'!s} → {new or '∅'!s}" for name, old, new in self.fields]
            head += ": " + "; ".join(parts)
        elif self.summary:
            head += f" ({self.summary})"
        return head + (f"  [{', '.join(self.rules)}]" if self.rules else "")


@dataclass
class SpecDiff:
    old_name: str
    new_name: str
    changes: list[Change] = field(default_factory=list)
    old: System | None = None
    new: System | None = None

    def __bool__(self) -> bool:
        return bool(self.changes)

    @property
    def affected_rules(self) -> dict[str, list[Change]]:
        """Rule or question ID -> the changes that touch it, rule IDs first."""
        table: dict[str, list[Change]] = {}
        for change in self.changes:
            for rule in change.rules:
                table.setdefault(rule, []).append(change)
        return {rule: table[rule] for rule in sort_rule_ids(table)}

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for change in self.changes:
            out.setdefault(change.category, {ADDED: 0, REMOVED: 0, CHANGED: 0})[change.kind] += 1
        return {c: out[c] for c in CATEGORIES if c in out}

    def machines_changed(self) -> list[str]:
        seen: list[str] = []
        for change in self.changes:
            if change.machine and change.machine not in seen:
                seen.append(change.machine)
        return seen

    def text(self) -> str:
        lines = [f"spec diff: {self.old_name} → {self.new_name}"]
        if not self.changes:
            lines.append("no semantic differences")
            return "\n".join(lines) + "\n"
        for category, counts in self.counts().items():
            shown = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n)
            lines.append(f"  {category}: {shown}")
        lines.append("")
        lines.extend(change.describe() for change in self.changes)
        lines.append("")
        affected = self.affected_rules
        rules = [r for r in affected if r.startswith("R")]
        questions = [q for q in affected if not q.startswith("R")]
        lines.append("rules affected: " + (", ".join(
            f"{r} ({len(affected[r])})" for r in rules) or "none"))
        if questions:
            lines.append("questions affected: " + ", ".join(
                f"{q} ({len(affected[q])})" for q in questions))
        return "\n".join(lines) + "\n"

    def as_json(self) -> dict[str, Any]:
        return {
            "old": self.old_name, "new": self.new_name,
            "changes": [{"kind": c.kind, "category": c.category, "key": c.key,
                         "machine": c.machine, "summary": c.summary, "rules": list(c.rules),
                         "fields": [{"field": f, "old": o, "new": n} for f, o, n in c.fields]}
                        for c in self.changes],
            "affected_rules": {r: len(cs) for r, cs in self.affected_rules.items()},
        }


# -- element views -------------------------------------------------------------------------------



class RevisionError(AuthspecError, ValueError):
    """A ``git:REV`` argument of ``authspec diff`` that names no usable revision (a usage
    error: exit 2, with a hint)."""

def _label(text: Any) -> dict[str, str]:
    return {"label.en": text.en, "label.zh": text.zh}


Element = tuple[dict[str, str], tuple[str, ...], str | None]  # (fields, cited rules, machine)
Elements = dict[str, dict[str, Element]]  # category -> key -> element


def _elements(system: System) -> Elements:
    """Category -> key -> (fields, cited rules, machine)."""
    out: Elements = {c: {} for c in CATEGORIES}
    out["system"]["system"] = ({
        "name": system.name, **_label(system.label), "otherwise": system.otherwise,
        "machines": ", ".join(m.name for m in system.machines)}, (), None)
    for m in system.machines:
        _machine_elements(out, system, m)
    _shared_elements(out, system)
    return out


def _machine_elements(out: Elements, system: System, m: Machine) -> None:
    """A machine, its states, variables, transitions and refusals."""
    out["machine"][m.name] = (_label(m.label), (), m.name)
    for s in m.states:
        out["state"][f"{m.name}.{s.name}"] = (
            {**_label(s.label), "initial": str(s.initial).lower(),
             "final": str(s.final).lower()}, (), m.name)
    for v in m.variables:
        initial = DRAWN if v.secret and v.initial not in (None, "") else repr(v.initial)
        out["variable"][v.qualified] = (
            {"type": v.type.describe(), "initial": initial, "secret": str(v.secret).lower(),
             "unit": v.unit, **_label(v.label)}, (), m.name)
    for t in m.transitions:
        out["transition"][t.id] = ({
            "event": t.event, "from": ", ".join(t.sources),
            "to": t.target if t.target is not None else "(stays)",
            "guard": expr_text(t.guard, system, m.name),
            "effects": ", ".join(effect_text(e, system, m.name) for e in t.effects),
            "rules": ", ".join(t.rules), **_label(t.label)}, t.rules, m.name)
    for r in m.rejections:
        # What a refusal changes is a field only when it changes something, so the fields
        # of refusals that change nothing read as before counted refusals (a field present
        # on one side only is a change: "" against the effects).
        changes = {"effects": ", ".join(effect_text(e, system, m.name) for e in r.effects),
                   "to": r.target if r.target is not None else "(stays)"
                   } if r.changes_state else {}
        out["rejection"][r.id] = ({
            "event": r.event, "from": ", ".join(r.sources) or "(any state)",
            "guard": expr_text(r.guard, system, m.name), "reason": r.reason, **changes,
            "rules": ", ".join(r.rules), **_label(r.label)}, r.rules, m.name)


def _shared_elements(out: Elements, system: System) -> None:
    """What the machines share: invariants, events and their parameters, reasons, policies,
    enums, assumptions, and the catalogue's rules and questions."""
    for i in system.all_invariants:
        out["invariant"][i.id] = ({"expr": expr_text(i.expr, system, i.machine),
                                   "rules": ", ".join(i.rules), **_label(i.label)},
                                  i.rules, i.machine)
    for e in system.events:
        out["event"][e.name] = ({"params": ", ".join(p.name for p in e.params),
                                 "extension": e.extension, **_label(e.label)}, (), None)
        for p in e.params:
            out["param"][f"{e.name}.{p.name}"] = ({
                "type": p.type.describe(), "secret": str(p.secret).lower(),
                "policies": ", ".join(p.policies), "unit": p.unit, **_label(p.label)}, (), None)
    for reason in system.reasons:
        out["reason"][reason.code] = (_label(reason.label), (), None)
    for policy in system.policies:
        out["policy"][policy.name] = ({
            "length": f"{policy.min_length}-{policy.max_length}",
            "alphabet": ", ".join(policy.alphabet), "require": ", ".join(policy.require),
            "case_sensitive": str(policy.case_sensitive).lower(),
            "rules": ", ".join(policy.rules), **_label(policy.label)}, policy.rules, None)
    for enum in system.enums:
        out["enum"][enum.name] = ({"values": ", ".join(enum.values)}, (), None)
    for a in system.assumptions:
        out["assumption"][a.question] = ({"choice.en": a.choice.en, "choice.zh": a.choice.zh,
                                          "rules": ", ".join(a.rules)},
                                         (a.question, *a.rules), None)
    for rule in system.catalogue.rules:
        out["rule"][rule.id] = ({"section": rule.section, "clause": rule.clause,
                                 "reading": rule.reading}, (rule.id,), None)
    for q in system.catalogue.questions:
        out["question"][q.id] = ({"text": q.text}, (q.id,), None)


Dependants = dict[str, set[str]]


def _dependants(system: System) -> Dependants:
    """A dependency (``state:m.s``, ``var:m.v``, ``event:e``, ``reason:r``, ``policy:p``,
    ``machine:m``) -> rule IDs of the elements that depend on it."""
    deps: Dependants = {}
    for m in system.machines:
        for t in m.transitions:
            _transition_dependencies(deps, m.name, t)
        for r in m.rejections:
            _rejection_dependencies(deps, m.name, r)
        for i in m.invariants:
            _depend(deps, f"machine:{m.name}", i.rules)
    for i in system.all_invariants:
        _expression_dependencies(deps, i.expr, i.rules)
    for event in system.events:
        for param in event.params:
            for policy in param.policies:
                _depend(deps, f"policy:{policy}", deps.get(f"event:{event.name}", ()))
    return deps


def _depend(deps: Dependants, key: str, rules: Iterable[str]) -> None:
    deps.setdefault(key, set()).update(rules)


def _transition_dependencies(deps: Dependants, machine: str, t: Transition) -> None:
    for s in (*t.sources, t.target):
        if s:
            _depend(deps, f"state:{machine}.{s}", t.rules)
    _depend(deps, f"event:{t.event}", t.rules)
    _depend(deps, f"machine:{machine}", t.rules)
    _expression_dependencies(deps, t.guard, t.rules)
    for effect in t.effects:
        _depend(deps, f"var:{machine}.{effect.variable}", t.rules)
        _expression_dependencies(deps, effect.value, t.rules)


def _rejection_dependencies(deps: Dependants, machine: str, r: Rejection) -> None:
    for s in r.sources:
        _depend(deps, f"state:{machine}.{s}", r.rules)
    _depend(deps, f"event:{r.event}", r.rules)
    _depend(deps, f"reason:{r.reason}", r.rules)
    _depend(deps, f"machine:{machine}", r.rules)
    _expression_dependencies(deps, r.guard, r.rules)
    if r.target:
        _depend(deps, f"state:{machine}.{r.target}", r.rules)
    for effect in r.effects:
        _depend(deps, f"var:{machine}.{effect.variable}", r.rules)
        _expression_dependencies(deps, effect.value, r.rules)


def _expression_dependencies(deps: Dependants, expr: Expr | None, rules: tuple[str, ...]) -> None:
    """The variables and policies an expression reads."""
    if expr is None:
        return
    for node in walk(expr.tree):
        if isinstance(node, VarRef):
            _depend(deps, f"var:{node.qualified}", rules)
        elif isinstance(node, PolicyRef):
            _depend(deps, f"policy:{node.name}", rules)
        elif isinstance(node, Call):
            for arg in node.args:
                if isinstance(arg, PolicyRef):
                    _depend(deps, f"policy:{arg.name}", rules)


_DEP_PREFIX = {"state": "state", "variable": "var", "event": "event", "reason": "reason",
               "policy": "policy", "machine": "machine"}


def compare(old: System, new: System, old_name: str = "old", new_name: str = "new") -> SpecDiff:
    """The semantic differences between two loaded systems."""
    before, after = _elements(old), _elements(new)
    deps_old, deps_new = _dependants(old), _dependants(new)
    diff = SpecDiff(old_name, new_name, old=old, new=new)
    for category in CATEGORIES:
        a, b = before[category], after[category]
        keys = list(b) + [k for k in a if k not in b]
        for key in keys:
            if key in a and key in b:
                (fa, ra, _), (fb, rb, mb) = a[key], b[key]
                changed = tuple((f, fa.get(f, ""), fb.get(f, "")) for f in dict.fromkeys(
                    [*fa, *fb]) if fa.get(f, "") != fb.get(f, ""))
                if not changed:
                    continue
                kind, machine, cited = CHANGED, mb, (*ra, *rb)
            elif key in b:
                fb, cited, machine = b[key]
                kind, changed = ADDED, ()
            else:
                fa, cited, machine = a[key]
                kind, changed = REMOVED, ()
            fields = (fb if kind == ADDED else fa) if kind != CHANGED else {}
            rules = set(cited)
            prefix = _DEP_PREFIX.get(category)
            if prefix:
                dep = f"{prefix}:{key}"
                rules |= deps_old.get(dep, set()) | deps_new.get(dep, set())
            if category == "param":
                event = key.split(".", 1)[0]
                rules |= deps_old.get(f"event:{event}", set()) | deps_new.get(f"event:{event}",
                                                                                set())
            diff.changes.append(Change(kind, category, key, changed, _summary(category, fields),
                                       tuple(sort_rule_ids(rules)), machine))
    return diff


def _summary(category: str, fields: dict[str, str]) -> str:
    if not fields:
        return ""
    if category == "transition":
        guard = f" [{fields['guard']}]" if fields.get("guard") else ""
        return f"{fields['event']}: {fields['from']} → {fields['to']}{guard}"
    if category == "rejection":
        guard = f" [{fields['guard']}]" if fields.get("guard") else ""
        then = (f" / {fields['effects']}" if fields.get("effects") else "") + (
            f" → {fields['to']}" if fields.get("to", "(stays)") != "(stays)" else "")
        return f"{fields['event']} in {fields['from']}{guard} → {fields['reason']}{then}"
    if category == "variable":
        return f"{fields['type']}, initially {fields['initial']}"
    if category == "param":
        return fields["type"] + (", secret" if fields.get("secret") == "true" else "")
    if category in ("assumption",):
        return fields.get("choice.en", "")[:80]
    if category == "rule":
        return fields.get("reading", "")[:80]
    return fields.get("label.en", "") or ""


# -- sources: folders and git revisions ----------------------------------------------------------


REV_HINT = "give a branch, a tag or a commit, e.g. git:HEAD~1 or git:main:specs"


@contextmanager
def spec_source(spec: str, repo: Path | None = None) -> Iterator[Path]:
    """A folder holding the specs named by ``spec``: itself, or ``git:REV[:PATH]`` extracted.

    ``REV`` is resolved to a commit first (``git rev-parse --verify --end-of-options``), and
    only that commit's hash reaches ``git archive``: a revision such as ``--output=FILE`` is
    refused, never passed to git as an option. Raise ``ValueError`` (a usage error) with a hint
    for a revision or path that does not name specs."""
    if not spec.startswith("git:"):
        yield Path(spec)
        return
    rev, _, path = spec[4:].partition(":")
    path = path or "specs"
    if not rev or rev.startswith("-"):
        raise RevisionError(f"{spec}: {'a revision cannot start with -' if rev else 'no revision'}"
                         f"; {REV_HINT}")
    cwd = repo or Path.cwd()
    root = _git_root(spec, cwd)
    commit = _commit(spec, rev, root)
    rel = _inside(spec, cwd, path, root)
    done = subprocess.run(["git", "archive", "--format=tar", commit, "--", rel.as_posix()],
                          cwd=root, capture_output=True)
    if done.returncode != 0:
        raise RevisionError(f"{spec}: git archive failed: "
                         f"{done.stderr.decode(errors='replace').strip()}; is {path} in {rev}?")
    with tempfile.TemporaryDirectory(prefix="authspec-diff-") as tmp:
        try:
            with tarfile.open(fileobj=io.BytesIO(done.stdout)) as tar:
                tar.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError) as error:
            raise RevisionError(f"{spec}: cannot extract {path} at {rev}: {error}") from None
        yield Path(tmp) / rel


def _git_root(spec: str, cwd: Path) -> Path:
    top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=cwd, capture_output=True,
                         text=True)
    if top.returncode != 0:
        raise RevisionError(f"{spec}: not inside a git repository ({top.stderr.strip()})")
    return Path(top.stdout.strip())


def _commit(spec: str, rev: str, root: Path) -> str:
    """The commit hash ``rev`` names; ``ValueError`` with a hint when it names none."""
    found = subprocess.run(["git", "rev-parse", "--verify", "--quiet", "--end-of-options",
                            f"{rev}^{{commit}}"], cwd=root, capture_output=True, text=True)
    commit = found.stdout.strip()
    if found.returncode != 0 or not commit or commit.startswith("-"):
        raise RevisionError(f"{spec}: {rev!r} is not a revision of this repository; {REV_HINT}")
    return commit


def _inside(spec: str, cwd: Path, path: str, root: Path) -> Path:
    """``path`` relative to the repository root; ``ValueError`` when it is outside."""
    target = Path(path) if Path(path).is_absolute() else cwd / path
    try:
        return target.resolve().relative_to(root.resolve())
    except ValueError:
        raise RevisionError(f"{spec}: {path} is outside the repository {root}") from None


def diff_specs(old: str, new: str, repo: Path | None = None) -> SpecDiff:
    """Load both specs (folders or ``git:REV``) and compare them."""
    with spec_source(old, repo) as old_path, spec_source(new, repo) as new_path:
        return compare(load(old_path), load(new_path), old, new)


# -- drawing -------------------------------------------------------------------------------------


def merged_machine(diff: SpecDiff, name: str) -> tuple[System, Machine, dict[str, str]]:
    """The machine ``name`` as in NEW plus what OLD had and NEW lost, and the diff marks."""
    assert diff.old is not None and diff.new is not None
    old = next((m for m in diff.old.machines if m.name == name), None)
    new = next((m for m in diff.new.machines if m.name == name), None)
    base, system = (new, diff.new) if new is not None else (old, diff.old)
    assert base is not None
    marks: dict[str, str] = {}
    for change in diff.changes:
        if change.category in ("state", "transition", "rejection") and change.machine == name:
            marks[f"{change.category}:{change.key}"] = change.kind
    if new is None or old is None:
        kind = REMOVED if new is None else ADDED
        marks.update({f"state:{name}.{s.name}": kind for s in base.states})
        marks.update({f"transition:{t.id}": kind for t in base.transitions})
        marks.update({f"rejection:{r.id}": kind for r in base.rejections})
        return system, base, marks
    have_states = {s.name for s in new.states}
    have_t = {t.id for t in new.transitions}
    have_r = {r.id for r in new.rejections}
    states = new.states + tuple(replace(s, initial=False) for s in old.states
                                if s.name not in have_states)
    transitions = new.transitions + tuple(t for t in old.transitions if t.id not in have_t)
    rejections = new.rejections + tuple(r for r in old.rejections if r.id not in have_r)
    return system, replace(new, states=states, transitions=transitions,
                           rejections=rejections), marks


def diff_dots(diff: SpecDiff, lang: str = "en", rejections: bool = True) -> dict[str, str]:
    """Machine name -> DOT of the machine with the diff marks, for every machine that changed."""
    out: dict[str, str] = {}
    for name in diff.machines_changed():
        system, machine, marks = merged_machine(diff, name)
        notes = {f"{c.category}:{c.key}": [f"was {f}: {o or '∅'}" for f, o, _ in c.fields]
                 for c in diff.changes if c.kind == CHANGED and c.machine == name}
        options = Options(lang=lang, rejections=rejections, marks=marks, notes=notes,
                          title=f"{name}: {diff.old_name} → {diff.new_name}")
        out[name] = machine_graph(system, machine, options).source
    return out
