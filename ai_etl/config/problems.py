"""Config problems, collected and reported at once, each with the command that fixes it.

A fix is what the user pastes: every word is quoted for the shell (commands.py), a misplaced value
moves to the key meant with the value the user gave, and a secret never appears, in the problem or
in the fix (it moves through the CLI's prompt instead). A fix never guesses across meaning: a value
moves only to a key that means the same (a misspelling of it, not a neighbour such as
`db-password` for `db-admin-password`), never over a key already set, and one key gets one fix.
What a problem shows of a value, masking.py says: never a secret key's value, nor a credential
inside a URL or an image reference.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, TypeGuard, cast, get_args

import pulumi
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from ai_etl import masking
from ai_etl.config.commands import Commands, Path, joined, leaves, shown, word
from ai_etl.config.fields import Repair
from ai_etl.masking import Secret, carries_credentials, credentials, without_credentials


class ConfigError(pulumi.RunError):
    """The stack's config is invalid; the message lists every problem and its fix."""


SHOWN = 20
"""Problems a message lists: past these it says how many more, so a stack file of thousands of
bad keys prints a screenful, not megabytes (the fixes shown, pasted, let the next run list the rest)."""
SHOWN_CHARS = 20_000
"""Characters a message's problems may take before the rest are only counted (long key names)."""
FILLER_WORDS = frozenset(("in", "of", "key"))
"""Words a key's name may gain or lose and still mean the same (`recoveryWindowDays`,
`jwt-secret` for `jwt-secret-key`)."""
WORD_ALIKE = 0.75
"""How alike (difflib's ratio) two words must be to be one word misspelt: `lenght` 0.83, `ky` 0.8,
`reader` 0.92; `admin`, `redis` or `jwt` are alike to no word of another key."""


def words(name: str) -> list[str]:
    """The words of a key's name, lower case: split at camelCase and at anything not a letter or digit."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [w for w in re.split(r"[\W_]+", spaced.lower()) if w]


def same_meaning(typed: str, known: str) -> bool:
    """Whether the name `typed` is `known` misspelt, not another setting: each word of one is a word
    of the other, the same or misspelt, bar filler words. `db-admin-password` is not `db-password`
    (`admin` is no word of it), nor `secret-key` `jwt-secret-key`."""
    left, right = words(typed), words(known)
    for alike in (
        lambda a, b: a == b,
        lambda a, b: difflib.SequenceMatcher(None, a, b).ratio() >= WORD_ALIKE,
    ):
        for word_ in list(left):
            match = next((r for r in right if alike(word_, r)), None)
            if match is not None:
                left.remove(word_)
                right.remove(match)
    return all(w in FILLER_WORDS for w in (*left, *right))


@dataclass(frozen=True)
class Target:
    """A key a misplaced value may move to: which values it takes as they are (none: nothing is
    kept), whether it holds a secret (the value then moves through the prompt), whether it may
    (masking.Secret), and the value to set when nothing of the user's can be kept and the key is
    required."""

    accepts: Callable[[Any], bool] = lambda value: False
    secret: bool = False
    required: Any = None
    may_be_secret: bool = False


def target_of(info: FieldInfo, stack: str) -> Target:
    """The Target of a model's field, its values checked by the field's own rules."""
    required = _example(info, stack) if info.is_required() else None
    if _model(info.annotation):
        return Target(_fits(info.annotation), required=required)
    kind: Any = Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
    return Target(lambda value: _valid(_adapter(kind), value), required=required, may_be_secret=_secret(info))


def model_target(model: type[BaseModel]) -> Target:
    """The Target of a key holding an object of `model`'s settings (a workload's)."""
    return Target(_fits(model))


def value_target(annotation: Any) -> Target:
    """The Target of an entry of a mapping or a list typed `annotation` (`rotation.<key>`, `[i]`)."""
    return Target(lambda value: _valid(_adapter(get_args(annotation)[-1]), value))


class Problems:
    """Every problem with its fix, so the user fixes them all in one round."""

    def __init__(self, stack: str, secret: frozenset[str] = frozenset()) -> None:
        self.stack = stack
        self.cli = Commands(stack)
        self.secret = secret
        """Top-level keys set with --secret: their values are never shown, and move by prompt."""
        self.lines: list[str] = []
        self.reported: set[Path] = set()
        """The keys a problem was added for: a value refused once is not refused again inside."""
        self.named: set[str] = set()
        """The keys a problem names, and those a fix moves a value to: `has`."""

    def add(self, key: str | Path, problem: str, fix: str | None) -> None:
        """A problem of `key` (a path, or a name such as `stack name`) and the command that fixes it;
        None where no `pulumi config` command can name the key."""
        name = key if isinstance(key, str) else shown(key)
        self.reported.add((key,) if isinstance(key, str) else key)
        self.named.add(name)
        if fix is None:
            fix = f"remove {name} from {word(f'Pulumi.{self.stack}.yaml')} by hand (no command can name it)"
        self.lines.append(f"  - {name}: {problem}\n      fix: {fix}")

    def has(self, key: str) -> bool:
        """Whether `key` already has a problem, or a fix moves a value to it: a check of the same key
        then adds nothing, so no two fixes set one key (the value moved is checked on the next run)."""
        return key in self.named

    def set_cmd(self, path: Path, value: Any, text_only: bool = False) -> str | None:
        """`pulumi config set` of `value` at `path` (with --path inside an object; `text_only`: with
        `--type string`, for a key that holds text whatever the user types)."""
        return self.cli.set(path, value, text_only=text_only)

    def set_secret_cmd(self, path: Path) -> str | None:
        """`pulumi config set --secret` with no value: the CLI prompts for it without echo (or reads
        a pipe), so the value stays out of shell history (pulumi/pulumi
        `pkg/cmd/pulumi/config/config.go`, newConfigSetCmd)."""
        return self.cli.set_secret(path)

    def rm_cmd(self, path: Path) -> str | None:
        return self.cli.rm(path)

    def shown(self, path: Path, value: Any) -> str:
        """What a problem may say of the value at `path`: nothing of a secret key's, and no
        credential inside it (masking.shown)."""
        return masking.shown(value, self.is_secret(path))

    def keep_cmd(self, path: Path, value: Any) -> str | None:
        """Set `value` at `path` in plain text; by prompt where the key is secret, so that its value
        is never printed (it must be stored in plain text: `value` is derived from it)."""
        return self.cli.set_prompted(path) if self.is_secret(path) else self.cli.set(path, value)

    def moved(self, source: Path, value: Any, dest: Path, target: Target, secret: bool = False) -> str | None:
        """The commands that remove `source` and set what it held at `dest`: the user's value where
        `dest` takes it (each scalar again with --path, its type kept); by prompt where either end is
        secret (`secret`: the source's value is), or carries credentials, encrypted where `dest`
        may be secret; else only what `dest` requires."""
        self.named.add(shown(dest))
        commands = [self.cli.rm(source)]
        hidden = secret or self.is_secret(source)
        paths = [p for p, _ in leaves(dest, value)] or [dest]
        if target.secret or ((hidden or carries_credentials(value)) and target.may_be_secret):
            commands += [self.cli.set_secret(p) for p in paths]
        elif hidden:  # a key the program writes in plain text: stored so, the value never printed
            commands += [self.cli.set_prompted(p) for p in paths]
        elif target.accepts(value) and not carries_credentials(value):
            commands += [self.cli.set(p, item) for p, item in leaves(dest, value)]
        elif target.required is not None:
            commands.append(self.cli.set(dest, target.required, target.accepts))
        return joined(*commands)

    def unknown(
        self, path: Path, known: Mapping[str, Target], value: Any = None, present: Collection[str] = ()
    ) -> None:
        """`path` is not a setting; move its value to the known one it misspells, if any, unless that
        one is `present` (set already: the program reads it, and it stays)."""
        name = str(path[-1])
        close = meant(name, known)
        if close is None:
            self.add(path, "is not a setting of this program" + unmeant(name, known), self.cli.rm(path))
        elif close in present:
            problem = f"is not a setting of this program; did you mean {close}? {already(close)}"
            self.add(path, problem, self.cli.rm(path))
        else:
            fix = self.moved(path, value, (*path[:-1], close), known[close])
            self.add(path, f"is not a setting of this program; did you mean {close}?", fix)

    def validate(
        self,
        model: type[BaseModel],
        data: Any,
        prefix: Path = (),
        extra: Mapping[str, Target] | None = None,
        present: Collection[str] | None = None,
    ) -> Any:
        """`model` from `data`, or None with each problem added (keys located under `prefix`;
        `extra`: the other top-level keys, which are read apart; `present`: the top-level keys the
        stack sets, if not those of `data`)."""
        try:
            valid = model.model_validate({} if data is None else data)
        except ValidationError as error:
            for e in error.errors():
                loc = tuple(e["loc"])
                beside = _at(data, loc[:-1]) if present is None or len(loc) > 1 else present
                self._report(model, (*prefix, *loc), loc, e, extra or {}, beside, _object_at(data, loc[:-1]))
            valid = None
        self._plain_credentials(model, data, prefix)
        return valid

    def stored_secret(self, model: type[BaseModel], data: Any, prefix: Path = ()) -> None:
        """Keys of `model` (in `data`, as the stack holds them, under `prefix`) stored with --secret
        that the program writes in plain text (a name, a tag, an object's field): the value would
        show in the plan and the cluster, so each is refused unless the setting is handed on only
        as a secret (masking.Secret). The fix prompts for every value inside, none printed."""
        if not isinstance(data, dict):
            return
        plain = {
            (*prefix, name): data[name]
            for name, f in ((str(f.alias), f) for f in model.model_fields.values())
            if name in data and not _secret(f)
        }
        if prefix:  # an object of settings read apart (a workload's): one key
            plain = {prefix: {path[-1]: value for path, value in plain.items()}} if plain else {}
        for path, value in plain.items():
            if self.is_secret(path):
                paths = [p for p, _ in leaves(path, value)] or [path]
                self.add(
                    path,
                    "is stored encrypted (--secret), but the program writes its value in plain text "
                    "(names, tags, Kubernetes objects): store it in plain text (the fix prompts for it)",
                    joined(*(self.cli.set_prompted(p) for p in paths)),
                )

    def _plain_credentials(self, model: type[BaseModel], data: Any, prefix: Path) -> None:
        """A URL (or an image reference) carrying credentials, in a key stored in plain text: a
        setting that may be secret (masking.Secret) keeps it by prompt with --secret; any other
        gets it without them. The refusal names where they sit, never what they are."""
        for path, value in leaves(prefix, data):
            seen = any(path[:i] in self.reported for i in range(1, len(path) + 1))
            if seen or self.is_secret(path) or not carries_credentials(value):
                continue
            where = ", ".join(credentials(value))
            if _secret(_field_at(model, path[len(prefix) :])):
                problem = "store it with --secret (the fix prompts for it), or drop them"
                fix = self.cli.set_secret(path)
            else:
                problem = "drop them: the program writes this value as it is"
                clean = without_credentials(value)
                fix = self.cli.rm(path) if carries_credentials(clean) else self.cli.set(path, clean)
            self.add(
                path,
                f"holds credentials in plain text ({where}): {problem}; and rotate them, the stack "
                "file has exposed them",
                fix,
            )

    def _report(
        self,
        model: type[BaseModel],
        path: Path,
        loc: Path,
        e: Any,
        extra: Mapping[str, Target],
        present: Collection[str] = (),
        siblings: Mapping[str, Any] | None = None,
    ) -> None:
        """One validation error of `model` at `loc` (`path` in the stack config; `present`: the keys
        set beside it; `siblings`: the object holding it, as given)."""
        siblings = siblings or {}
        info = _field_at(model, loc)
        secret = self.is_secret(path)
        if e["type"] == "extra_forbidden":
            known = dict(extra) if len(loc) == 1 else {}
            for f in _model_at(model, loc[:-1]).model_fields.values():
                known[str(f.alias)] = target_of(f, self.stack)
            self.unknown(path, known, e["input"], present)
        elif e["type"] in ("model_type", "dict_type"):
            self._not_an_object(model, path, loc, e["input"], secret)
        elif e["type"] == "list_type" and info is not None:
            # A list given as one item: the item goes to [0] if it is one.
            item = value_target(info.annotation)
            fix = joined(self.cli.rm(path), self.cli.set((*path, 0), e["input"]))
            if secret or not item.accepts(e["input"]) or carries_credentials(e["input"]):
                fix = self.cli.rm(path)
            self.add(path, "must be a list, one item per index (`--path 'key[0]'`)", fix)
        else:
            what = (e.get("ctx") or {}).get("what")
            problem = f"must be {what}" if secret and what else e["msg"]
            if e["type"] == "missing" and info:
                problem = f"is required: {info.description}"
            if info is not None and info.default is None and not info.examples:
                # Optional, with nothing to suggest: leaving it out is the fix.
                problem += f" ({info.description})" if info.description else ""
                self.add(path, problem, self.cli.rm(path))
                return
            repair = next((m for m in info.metadata if isinstance(m, Repair)), None) if info else None
            mended = repair.mend(e["input"]) if repair and not secret else None
            if (
                repair and mended is None and not secret
            ):  # the object's other settings may decide it (an endpoint)
                mended = repair.decided(siblings)
            value = _example(info, self.stack) if mended is None else mended
            accepts = target_of(info, self.stack).accepts if info and len(loc) == 1 else None
            commands = [self.cli.set(path, value, accepts)]
            for name, also in (
                repair.beside(mended, siblings) if repair and mended is not None else {}
            ).items():
                self.named.add(shown((*path[:-1], name)))
                commands.append(self.cli.set((*path[:-1], name), also))
            self.add(path, problem, joined(*commands))

    def _not_an_object(self, model: type[BaseModel], path: Path, loc: Path, value: Any, secret: bool) -> None:
        """An object of settings (or a mapping) given as something else: remove it, then set what it
        requires; a scalar that fits its one required setting (an image for `backend`) stays."""
        target = _model_at(model, loc) if loc else model
        commands = [self.cli.rm(path)]
        if target is not model or not loc:
            required = {str(f.alias): f for f in target.model_fields.values() if f.is_required()}
            for name, f in required.items():
                keep = len(required) == 1 and not secret and target_of(f, self.stack).accepts(value)
                commands.append(self.cli.set((*path, name), value if keep else _example(f, self.stack)))
            what = "an object of settings"
        else:
            what = "an object: each key with its value (`--path 'key.<name>'`)"
        got = "" if secret else f", got {masking.masked(value)}"
        self.add(path, f"must be {what}{got}", joined(*commands))

    def is_secret(self, path: Path) -> bool:
        """Whether the key at `path` is stored with --secret (its value is never shown)."""
        return str(path[0]) in self.secret

    def raise_if_any(self, header: str = "") -> None:
        """Raise the problems, the first SHOWN of them (within SHOWN_CHARS), then how many more."""
        if not self.lines:
            return
        header = header or f"invalid configuration for stack '{self.stack}' (nothing was declared):"
        shown_: list[str] = []
        size = 0
        for line in self.lines[:SHOWN]:
            size += len(line)
            if shown_ and size > SHOWN_CHARS:
                break
            shown_.append(line)
        rest = len(self.lines) - len(shown_)
        if rest:
            shown_.append(f"  ... and {rest} more: paste the fixes above, then run again for the rest")
        raise ConfigError(header + "\n" + "\n".join(shown_))


def meant(name: str, known: Mapping[str, Target] | Collection[str]) -> str | None:
    """The known key `name` misspells (same_meaning), the closest first; None if none."""
    return next((c for c in difflib.get_close_matches(name, list(known), n=3) if same_meaning(name, c)), None)


def unmeant(name: str, known: Collection[str]) -> str:
    """What a problem says of a key that misspells none: the closest other setting, if any, which
    keeps its own meaning (nothing moves there), else the known keys."""
    close = difflib.get_close_matches(name, list(known), n=1)
    if close:
        return f"; {close[0]} is another setting: nothing is moved there"
    return f"; known: {', '.join(sorted(known))}"


def already(key: str) -> str:
    """What a problem says of a misplaced key whose meant key is set too."""
    return f"{key} is set too, and is the one the program reads: it stays as it is, and this one goes"


def _object_at(data: Any, loc: Path) -> Mapping[str, Any]:
    """The object at `loc` in `data` (empty if it is not one)."""
    for part in loc:
        data = data.get(part) if isinstance(data, dict) else None
    return data if isinstance(data, dict) else {}


def _at(data: Any, loc: Path) -> Collection[str]:
    """The keys of the object at `loc` in `data` (none if it is not one)."""
    return [str(k) for k in _object_at(data, loc)]


def _secret(info: FieldInfo | None) -> bool:
    """Whether a setting may be stored with --secret (masking.Secret)."""
    return info is not None and any(isinstance(m, Secret) for m in info.metadata)


@cache
def _adapter(kind: Any) -> TypeAdapter[Any]:
    """A validator of `kind`, made when first needed (only a fix asks whether a value fits)."""
    return TypeAdapter(cast(Any, kind))


def _valid(adapter: TypeAdapter[Any], value: Any) -> bool:
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False
    return True


def _model(annotation: Any) -> TypeGuard[type[BaseModel]]:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _fits(model: type[BaseModel]) -> Callable[[Any], bool]:
    """Whether an object's every key is a setting of `model` that takes its value."""
    fields = {str(f.alias): f for f in model.model_fields.values()}

    def fits(value: Any) -> bool:
        return isinstance(value, dict) and all(
            k in fields and target_of(fields[k], "").accepts(v) for k, v in value.items()
        )

    return fits


def _model_at(model: type[BaseModel], loc: Path) -> type[BaseModel]:
    """The nested model at `loc` (the deepest one on the way)."""
    for part in loc:
        info = next((f for f in model.model_fields.values() if f.alias == part), None)
        if info is None or not _model(info.annotation):
            break
        model = info.annotation
    return model


def _field_at(model: type[BaseModel], loc: Path) -> FieldInfo | None:
    """The field at `loc`; for an entry of a mapping (`rotation.<key>`), the mapping's field."""
    info = None
    for part in loc:
        found = next((f for f in model.model_fields.values() if f.alias == part), None)
        if found is None:
            break
        info = found
        if _model(found.annotation):
            model = found.annotation
    return info


def _example(info: FieldInfo | None, stack: str) -> Any:
    """A value that fixes the field: its first example, else its default (`<value>` if neither)."""
    value = (info.examples[0] if info.examples else info.default) if info else None
    if value is None or value is PydanticUndefined:
        return "<value>"
    return value.format(stack=stack) if isinstance(value, str) else value
