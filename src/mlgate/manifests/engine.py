"""Plan every edit, verify it, then write all files or none.

Nothing is written until every file has been read, every edit computed and every rewritten
file re-parsed and compared with the original; then each file is replaced by a temp-and-rename
that keeps its mode, so a crash leaves old or new files, never a half-written one.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable

from yaml.nodes import MappingNode, Node, ScalarNode

from mlgate.errors import BadInput, GateFailed
from mlgate.manifests.config import ImageTarget, RewriteConfig
from mlgate.manifests.files import Candidate, collect, resolve_inside, resolve_root
from mlgate.manifests.kinds.base import Found
from mlgate.manifests.kinds.flux_markers import MARKER, find_markers
from mlgate.manifests.kinds.set_path import find_set
from mlgate.manifests.result import Change, RewriteResult, Skipped
from mlgate.manifests.verify import Expected, expected_for, verify_nodes
from mlgate.manifests.walker import walk
from mlgate.manifests.writer import write_all
from mlgate.manifests.yamldoc import (
    BOM,
    STR_TAG,
    Edit,
    Templated,
    YamlFile,
    apply_edits,
    can_be_plain,
    load_relevant,
    plain_tag,
    render_scalar,
    scalar_span,
)


# sees each file once it is planned: (the file, its text after the rewrite, that text's
# documents' nodes); text and nodes are None for a file the rewrite did not parse
Observer = Callable[[Candidate, "str | None", "list[Node] | None"], None]


def rewrite(config: RewriteConfig, *, observe: Observer | None = None,
            diff: bool = True) -> RewriteResult:
    """The promotion's edits planned, verified and (unless a dry run) written. `observe` lets a
    reader of the new texts (the compliance gate) work file by file during the rewrite instead
    of after it, without parsing again what the rewrite has parsed; `diff=False` skips the
    unified diff a reader that shows none would pay for (a tenth of a large rewrite)."""
    root = resolve_root(config.root)
    candidates, skipped = collect(root, config.paths)
    set_files = {}
    for target in config.sets:
        real = resolve_inside(root, target.file, "--set file")
        if not os.path.isfile(real):
            raise BadInput(f"--set file {target.file!r}: not a file")
        set_files.setdefault(real, []).append(target)
    known = {c.path for c in candidates}
    for real in set_files:
        if real not in known:
            candidates.append(Candidate(real, os.path.relpath(real, root), explicit=True))

    images = {t.ref.repository: t.ref for t in config.images}
    needles = tuple({t.ref.short_name for t in config.images}) + (
        (MARKER,) if config.flux_policies else ()
    )
    parsed = 0
    hit: set[str] = set()
    changes: list[Change] = []
    unchanged: list[Change] = []
    outputs: list[tuple[str, str, bool, str]] = []  # (path, rel, bom, new text)
    diff_parts: list[str] = []
    # One file at a time, its node tree dropped before the next: memory stays at one file's
    # tree plus the new texts, however many files change. Nothing is written until the end.
    for cand in candidates:
        sets = set_files.get(cand.path, [])
        try:
            doc = load_relevant(cand.path, cand.rel, () if sets else needles, cand.explicit)
        except Templated:
            skipped.append(Skipped(cand.rel, "templated, not plain YAML"))
            doc = None
        text, nodes = None, None
        if doc is not None:
            parsed += 1
            text, nodes = doc.text, doc.documents
            found = _find(doc, images, config, sets)
            if found:
                _check_expected(doc, config.images, found)
                hit.update(f.target for f in found)
                new_text, file_changes, file_unchanged, new_docs = _plan_file(doc, found)
                changes += file_changes
                unchanged += file_unchanged
                if new_text is not None:
                    outputs.append((doc.path, doc.rel, doc.bom, new_text))
                    if diff or config.diff_path:
                        diff_parts.append(_diff(doc.rel, doc.text, new_text))
                    text, nodes = new_text, new_docs
        if observe is not None:
            observe(cand, text, nodes)

    missing = _missing(config, hit)
    if missing and not config.allow_missing:
        raise GateFailed("no reference to " + ", ".join(missing) + " found under "
                         + ", ".join(config.paths))

    unified = "".join(diff_parts)
    if config.diff_path:
        _write_diff(config.diff_path, unified)
    written = False
    if outputs and not config.dry_run:
        write_all([(path, (BOM if bom else "") + t) for path, _, bom, t in outputs])
        written = True
    return RewriteResult(
        root=root,
        changes=tuple(changes),
        unchanged=tuple(unchanged),
        files=tuple(rel for _, rel, _, _ in outputs),
        skipped=tuple(skipped),
        missing=tuple(missing),
        scanned=len(candidates),
        parsed=parsed,
        dry_run=config.dry_run,
        written=written,
        diff=unified if diff else "",
        texts={rel: t for _, rel, _, t in outputs},
    )


def _find(doc: YamlFile, images, config: RewriteConfig, sets) -> list[Found]:
    want_lines = bool(config.flux_policies) and MARKER in doc.text
    found, lines = walk(doc, images, want_lines)
    if want_lines:
        found.extend(find_markers(doc.text, doc.rel, lines, config.flux_policies))
    for target in sets:
        found.extend(find_set(doc, target))
    return _dedupe(found, doc.rel)


def _plan_file(doc: YamlFile, found: list[Found]):
    """This file's new text (None when nothing changes), verified, its change records, and the
    new text's documents' nodes (from the verification's parse)."""
    edits: list[Edit] = []
    changes: list[Change] = []
    unchanged: list[Change] = []
    for f in found:
        line = doc.line_of(f.node.start_mark.index if f.node else f.insert_into.end_mark.index)
        change = Change(doc.rel, line, f.display, f.kind, f.old, f.new)
        if f.node is not None and f.old == f.new:
            unchanged.append(change)
            continue
        edits.append(_edit(doc, f))
        changes.append(change)
    if not edits:
        return None, changes, unchanged, None
    new_text = apply_edits(doc.text, edits)
    replaced, appended = {}, {}
    for f, edit in zip([f for f in found if not (f.node is not None and f.old == f.new)], edits,
                       strict=True):
        # what was meant: a string equal to the new value, or with --set a number kept a number
        want = expected_for(edit.scalar, f.new) if f.keep_type else Expected(STR_TAG, f.new)
        if f.node is not None:
            replaced[id(f.node)] = want
        else:
            appended.setdefault(id(f.insert_into), []).append((f.insert_key, want))
    new_docs = verify_nodes(doc.documents, new_text, doc.rel, replaced, appended)
    return new_text, changes, unchanged, new_docs


def _dedupe(found: list[Found], rel: str) -> list[Found]:
    """One edit per value: two kinds may see the same field (a Helm map inside a HelmRelease)."""
    by_key: dict[tuple, Found] = {}
    for f in found:
        key = ("node", id(f.node)) if f.node is not None else ("ins", id(f.insert_into), f.insert_key)
        prior = by_key.get(key)
        if prior is None:
            by_key[key] = f
        elif prior.new != f.new:
            raise BadInput(
                f"{rel}: {f.display} would be set to both {prior.new!r} and {f.new!r}; refusing"
            )
    return list(by_key.values())


def _check_expected(doc: YamlFile, images: tuple[ImageTarget, ...], found: list[Found]) -> None:
    """Refuse (exit 1) when a value is neither the expected current one nor already the new one,
    naming the file and line it was read from so the stale copy can be found."""
    for target in images:
        expect = target.expect
        if expect is None:
            continue
        new = target.ref
        for f in found:
            cur = f.current
            if cur is None or f.target != new.repository:
                continue
            if (cur.tag, cur.digest) == (new.tag, new.digest):
                continue  # already promoted: an idempotent re-run, not a stale one
            tag_ok = expect.tag is None or cur.tag == expect.tag
            digest_ok = expect.digest is None or cur.digest == expect.digest
            if not (tag_ok and digest_ok):
                raise GateFailed(
                    f"{_where(doc, f)}: {f.display}: current value is {cur.name}{cur.version}, "
                    f"expected {expect}; refusing to overwrite (--expect-current)"
                )


def _where(doc: YamlFile, f: Found) -> str:
    """file:line of a found value (of the mapping it would be added to, when it is missing)."""
    node = f.node if f.node is not None else f.insert_into
    return f"{doc.rel}:{doc.line_of(node.start_mark.index)}" if node is not None else doc.rel


def _missing(config: RewriteConfig, hit: set[str]) -> list[str]:
    names = [t.ref.repository for t in config.images if t.ref.repository not in hit]
    names += [f"flux policy {p.policy}" for p in config.flux_policies if p.policy not in hit]
    return names


def _edit(doc: YamlFile, f: Found) -> Edit:
    where = _where(doc, f)
    try:
        if f.node is not None:
            text = render_scalar(f.new, f.node, flow=True, keep_type=f.keep_type)
            start, end = scalar_span(doc.text, f.node)
            return Edit(start, end, text, text)
        assert f.insert_into is not None and f.insert_key is not None
        return _insert(doc, f.insert_into, f.insert_key, f.new, typed=f.keep_type)
    except BadInput as exc:
        raise BadInput(f"{where}: {exc}") from None


def _insert(doc: YamlFile, mapping: MappingNode, key: str, value: str, *,
            typed: bool = False) -> Edit:
    """Add `key: value` as the mapping's last entry, in its own style and indentation."""
    text = doc.text
    tag = plain_tag(value)
    rendered = (value if typed and tag != STR_TAG and can_be_plain(value, True, tag)
                else render_scalar(value, None, flow=True))
    if mapping.flow_style:
        pos = mapping.end_mark.index - 1
        if text[pos] != "}":
            raise BadInput("cannot find the end of a flow mapping to add a key")
        sep = ", " if mapping.value else ""
        return Edit(pos, pos, f"{sep}{key}: {rendered}", rendered)
    if not mapping.value:
        raise BadInput(f"cannot add {key!r} to an empty mapping")
    first_key = mapping.value[0][0]
    last_value = mapping.value[-1][1]
    indent = " " * first_key.start_mark.column
    if not isinstance(last_value, ScalarNode) or (
        last_value.start_mark.line != last_value.end_mark.line
    ):
        # a mapping that ends in a nested block (KServe's predictor ends in `model:`): the new
        # key goes first instead, where the first key's own column is known
        return _insert_first(text, first_key, key, rendered, indent)
    eol = text.find("\n", last_value.end_mark.index)
    if eol == -1:
        newline = "\r\n" if "\r\n" in text else "\n"
        return Edit(len(text), len(text), f"{newline}{indent}{key}: {rendered}", rendered)
    newline = "\r\n" if eol > 0 and text[eol - 1] == "\r" else "\n"
    return Edit(eol + 1, eol + 1, f"{indent}{key}: {rendered}{newline}", rendered)


def _insert_first(text: str, first_key: Node, key: str, rendered: str, indent: str) -> Edit:
    """`key: value` before the mapping's first key, which then starts the next line at its
    own column (also under a sequence's `- `)."""
    pos = first_key.start_mark.index
    if first_key.start_mark.line != first_key.end_mark.line or text[pos] in "?&!":
        raise BadInput(f"cannot add {key!r}: the mapping's first key is not a plain one-line key")
    newline = "\r\n" if "\r\n" in text else "\n"
    return Edit(pos, pos, f"{key}: {rendered}{newline}{indent}", rendered)


def _diff(rel: str, old: str, new: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"a/{rel}",
        tofile=f"b/{rel}",
    )
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _write_diff(path: str, diff: str) -> None:
    try:
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(diff)
    except OSError as exc:
        raise BadInput(f"--diff {path!r}: cannot write: {exc.strerror}") from None
