#!/usr/bin/env python3
"""Extract standalone Kubernetes JSON schemas (draft 2020-12) for jardin.

Source: the PyPI package ``kubernetes-validate`` (Apache-2.0), which ships the
Kubernetes OpenAPI definitions converted to JSON Schema draft 2020-12 under
``kubernetes_validate/kubernetes-json-schema/v<X.Y>.0-local[-strict]/``:
one ``<kind>-<group>-<version>.json`` file per type whose ``$ref``s point into
a shared ``_definitions.json``.

Requirements: Python 3.9+ (stdlib only) and pip.  The package is NOT installed
or imported: its wheel is fetched with ``python3 -m pip download --no-deps``
into a temporary directory (or taken from ``--wheel``), checked against a
pinned sha256 when the version is the pinned one, and read as a zip file.

For each kind in ``KINDS`` the script:
  1. takes ``<kind>-<group>-<version>.json`` from the plain ``-local`` variant,
  2. bundles every definition it reaches from ``_definitions.json`` into its
     own ``$defs`` and rewrites the ``$ref``s to ``#/$defs/...`` (standalone),
  3. drops every ``description`` annotation (size; no effect on validation),
  4. with ``--strict`` (the default) adds ``"additionalProperties": false`` to
     every object schema that has ``properties`` and no
     ``additionalProperties`` (upstream does not forbid unknown fields),
  5. writes ``<out>/k8s/<kind-lowercase>.json`` in a canonical form (see
     ``dump``: sorted keys, 2-space indentation, short values kept on one
     line), so output is byte-for-byte stable.
Then it rewrites ``<out>/index.json`` ("apiVersion/Kind" -> relative path)
from every schema under ``<out>/k8s`` and ``<out>/crd``.

Usage (from the repository root):
    python3 scripts/extract-schemas.py                         # k8s 1.33
    python3 scripts/extract-schemas.py --kubernetes-version 1.34
    python3 scripts/extract-schemas.py --check                 # no writes; exit 1 on drift
    python3 scripts/extract-schemas.py --index-only            # only rebuild index.json
"""

import argparse
import copy
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "kubernetes-validate"
DEFAULT_PACKAGE_VERSION = "1.37.0"
DEFAULT_KUBERNETES_VERSION = "1.33"
# sha256 of the wheels we have checked; other versions are accepted with a
# warning that prints their hash so it can be pinned here.
PINNED_WHEEL_SHA256 = {
    "1.37.0": "85136d018a27b50ec7fc049d902bfa5193f5976807e6c0f408e3ab6fe078cad9",
}

# (apiVersion, Kind) of every built-in kind jardin emits.
KINDS = [
    ("v1", "Namespace"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("v1", "Service"),
    ("networking.k8s.io/v1", "Ingress"),
    ("policy/v1", "PodDisruptionBudget"),
    ("batch/v1", "CronJob"),
    ("batch/v1", "Job"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("v1", "Secret"),
    ("v1", "ConfigMap"),
    ("v1", "ServiceAccount"),
    ("v1", "PersistentVolumeClaim"),
]

SCHEMA_ROOT = "kubernetes_validate/kubernetes-json-schema/"
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"

# JSON Schema keywords whose values are subschemas (everything else -- enum,
# const, required, x-kubernetes-* ... -- is data and is never walked into).
_SCHEMA_MAP_KEYWORDS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_KEYWORDS = ("items", "additionalProperties", "additionalItems", "not", "if", "then", "else",
                    "contains", "propertyNames", "unevaluatedProperties", "unevaluatedItems")
_SCHEMA_LIST_KEYWORDS = ("allOf", "anyOf", "oneOf", "prefixItems")


def subschemas(schema):
    """Yield the direct subschemas of a schema object."""
    if not isinstance(schema, dict):
        return
    for key in _SCHEMA_MAP_KEYWORDS:
        value = schema.get(key)
        if isinstance(value, dict):
            yield from value.values()
    for key in _SCHEMA_KEYWORDS:
        value = schema.get(key)
        if isinstance(value, dict):
            yield value
        elif isinstance(value, list):  # pre-2020 tuple form of "items"
            yield from value
    for key in _SCHEMA_LIST_KEYWORDS:
        value = schema.get(key)
        if isinstance(value, list):
            yield from value


def walk(schema, skip=()):
    """Yield a schema and all schemas nested in it (depth first), not entering keywords in ``skip``."""
    stack = [schema]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            yield current
            stack.extend(subschemas({k: v for k, v in current.items() if k not in skip}))


# Subschemas that are tests rather than shapes: making them strict would change their meaning.
PREDICATE_KEYWORDS = ("if", "not")


def loose_object_schemas(schema):
    """Object schemas that list properties but do not say what to do with other properties."""
    return [node for node in walk(schema, skip=PREDICATE_KEYWORDS)
            if "properties" in node and "additionalProperties" not in node]


def die(message):
    print(f"extract-schemas: error: {message}", file=sys.stderr)
    sys.exit(2)


def major_minor(version):
    match = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?", version.strip())
    if not match:
        die(f"bad --kubernetes-version {version!r}: expected e.g. 1.33")
    return f"{int(match.group(1))}.{int(match.group(2))}"


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def obtain_wheel(args, tmpdir):
    if args.wheel:
        wheel = Path(args.wheel)
        if not wheel.is_file():
            die(f"--wheel {wheel} does not exist")
    else:
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               "--dest", str(tmpdir), f"{PACKAGE}=={args.package_version}"]
        print("+ " + " ".join(cmd), file=sys.stderr)
        try:
            subprocess.run(cmd, check=True)
        except (OSError, subprocess.CalledProcessError) as error:
            die(f"pip download failed: {error}")
        wheels = sorted(Path(tmpdir).glob("kubernetes_validate-*.whl"))
        if len(wheels) != 1:
            die(f"expected one wheel in {tmpdir}, found {wheels}")
        wheel = wheels[0]
    match = re.match(r"kubernetes_validate-([^-]+)-", wheel.name)
    version = match.group(1) if match else "unknown"
    digest = sha256_of(wheel)
    pinned = PINNED_WHEEL_SHA256.get(version)
    if pinned is not None and pinned != digest:
        die(f"{wheel.name}: sha256 {digest} does not match pinned {pinned}")
    if pinned is None:
        print(f"extract-schemas: warning: {wheel.name} is not pinned; sha256 {digest}", file=sys.stderr)
    return wheel, version


def schema_dir(names, k8s_version):
    """The package directory holding the plain (non-strict) schemas of k8s_version."""
    available = {}
    for name in names:
        match = re.match(re.escape(SCHEMA_ROOT) + r"(v(\d+\.\d+)\.\d+-local)/", name)
        if match:
            available[match.group(2)] = match.group(1)
    if k8s_version not in available:
        versions = ", ".join(sorted(available, key=lambda v: tuple(map(int, v.split(".")))))
        die(f"Kubernetes {k8s_version} is not in this package (it has {versions}); "
            f"try a newer --package-version")
    return SCHEMA_ROOT + available[k8s_version] + "/"


def type_file_name(api_version, kind):
    """kubernetes-validate's naming: rbac.authorization.k8s.io/v1 Role -> role-rbac-v1.json."""
    if "/" in api_version:
        group, version = api_version.split("/")
        return f"{kind.lower()}-{group.split('.')[0]}-{version}.json"
    return f"{kind.lower()}-{api_version}.json"


def def_name_of_ref(ref, where):
    document, _, fragment = ref.partition("#")
    if document and not document.endswith("/_definitions.json"):
        die(f"{where}: $ref to an unexpected document: {ref}")
    if not fragment.startswith("/$defs/") or fragment.count("/") != 2:
        die(f"{where}: unsupported $ref: {ref}")
    return fragment[len("/$defs/"):].replace("~1", "/").replace("~0", "~")


def bundle(top, definitions, where):
    """Copy ``top`` with every reachable definition inlined under ``$defs``."""
    result = copy.deepcopy(top)
    bundled = {}
    pending = [result]
    while pending:
        root = pending.pop()
        for schema in walk(root):
            ref = schema.get("$ref")
            if not isinstance(ref, str):
                continue
            name = def_name_of_ref(ref, where)
            schema["$ref"] = "#/$defs/" + name.replace("~", "~0").replace("/", "~1")
            if name not in bundled:
                if name not in definitions:
                    die(f"{where}: $ref to missing definition {name}")
                bundled[name] = copy.deepcopy(definitions[name])
                pending.append(bundled[name])
    if "$defs" in result:
        die(f"{where}: top-level schema already has $defs")
    if bundled:
        result["$defs"] = bundled
    return result


def strip_descriptions(schema):
    for node in walk(schema):
        node.pop("description", None)


def make_strict(schema):
    """Forbid unknown fields wherever upstream lists properties; return the count changed."""
    loose = loose_object_schemas(schema)
    for node in loose:
        node["additionalProperties"] = False
    return len(loose)


WIDTH = 100


def _compact(obj):
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


def _format(obj, level, lead):
    """Text of obj at indentation level, `lead` columns already used on its first line."""
    pad = "  " * level
    text = _compact(obj)
    if lead + len(text) < WIDTH or not isinstance(obj, (dict, list)) or not obj:
        return text
    inner = "  " * (level + 1)
    if isinstance(obj, dict):
        items = []
        for key, value in sorted(obj.items()):
            head = f"{inner}{json.dumps(key, ensure_ascii=False)}: "
            items.append(head + _format(value, level + 1, len(head)))
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    items = [inner + _format(value, level + 1, len(inner)) for value in obj]
    return "[\n" + ",\n".join(items) + "\n" + pad + "]"


def dump(obj):
    """Canonical text of a schema file: sorted keys, 2-space indentation, any value whose
    one-line form fits in WIDTH columns kept on one line, trailing newline."""
    return _format(obj, 0, 0) + "\n"


def build_k8s(args):
    """Return {relative path: file text} for the k8s/ directory."""
    k8s_version = major_minor(args.kubernetes_version)
    with tempfile.TemporaryDirectory(prefix="extract-schemas-") as tmpdir:
        wheel, package_version = obtain_wheel(args, tmpdir)
        with zipfile.ZipFile(wheel) as archive:
            names = set(archive.namelist())
            base = schema_dir(names, k8s_version)
            definitions = json.loads(archive.read(base + "_definitions.json"))["$defs"]
            strict_base = base.rstrip("/") + "-strict/"
            strict_definitions = None
            if args.strict and strict_base + "_definitions.json" in names:
                strict_definitions = json.loads(archive.read(strict_base + "_definitions.json"))["$defs"]
            outputs = {}
            for api_version, kind in KINDS:
                file_name = type_file_name(api_version, kind)
                try:
                    top = json.loads(archive.read(base + file_name))
                except KeyError:
                    die(f"{base}{file_name} not found for {api_version} {kind}")
                group, _, version = api_version.rpartition("/")
                gvks = top.get("x-kubernetes-group-version-kind", [])
                if {"group": group, "version": version, "kind": kind} not in gvks:
                    die(f"{file_name}: x-kubernetes-group-version-kind {gvks} is not {api_version} {kind}")
                if top.get("$schema") != DRAFT_2020_12:
                    die(f"{file_name}: $schema is {top.get('$schema')!r}, expected {DRAFT_2020_12}")
                schema = bundle(top, definitions, file_name)
                strip_descriptions(schema)
                strict_note = "unknown fields allowed as upstream (--no-strict)"
                if args.strict:
                    changed = make_strict(schema)
                    strict_note = (f"strict: additionalProperties false added to {changed} object schemas "
                                   f"that list properties")
                if strict_definitions is not None:
                    # Cross-check against the package's own "-local-strict" variant.
                    theirs = bundle(json.loads(archive.read(strict_base + file_name)), strict_definitions,
                                    strict_base + file_name)
                    strip_descriptions(theirs)
                    if theirs != schema:
                        print(f"extract-schemas: warning: {kind.lower()}.json differs from the package's "
                              f"{strict_base.rstrip('/').split('/')[-1]} variant", file=sys.stderr)
                schema["$comment"] = (
                    f"Generated by scripts/extract-schemas.py from {base.rstrip('/').split('/')[-1]} in PyPI "
                    f"{PACKAGE} {package_version} (Kubernetes {k8s_version} OpenAPI, Apache-2.0). "
                    f"Descriptions stripped; {strict_note}. Do not edit by hand.")
                outputs[f"k8s/{kind.lower()}.json"] = dump(schema)
    return outputs, k8s_version, package_version


def api_key(schema, where):
    """'apiVersion/Kind' from a schema's properties.apiVersion and properties.kind."""
    def single(name):
        prop = schema.get("properties", {}).get(name, {})
        values = [prop["const"]] if "const" in prop else prop.get("enum", [])
        if len(values) != 1 or not isinstance(values[0], str):
            die(f"{where}: properties.{name} must have a single const/enum string value")
        return values[0]
    return f"{single('apiVersion')}/{single('kind')}"


def build_index(out_dir, k8s_outputs):
    """index.json text for every schema under k8s/ and crd/ (k8s_outputs, if given, replaces k8s/ on disk)."""
    files = dict(k8s_outputs)
    for sub in ("crd",) if k8s_outputs else ("k8s", "crd"):
        for path in sorted((out_dir / sub).glob("*.json")):
            files[f"{sub}/{path.name}"] = path.read_text(encoding="utf-8")
    index = {}
    for rel, text in sorted(files.items()):
        key = api_key(json.loads(text), rel)
        if key in index:
            die(f"{key} is described by both {index[key]} and {rel}")
        index[key] = rel
    return dump(index)


def main():
    repo_root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubernetes-version", default=DEFAULT_KUBERNETES_VERSION,
                        help=f"Kubernetes minor version to extract (default {DEFAULT_KUBERNETES_VERSION})")
    parser.add_argument("--package-version", default=DEFAULT_PACKAGE_VERSION,
                        help=f"{PACKAGE} version to download (default {DEFAULT_PACKAGE_VERSION})")
    parser.add_argument("--wheel", help=f"use this already-downloaded {PACKAGE} wheel instead of pip download")
    parser.add_argument("--strict", action=argparse.BooleanOptionalAction, default=True,
                        help="add additionalProperties: false to every object schema that lists properties "
                             "and has no additionalProperties (default: on)")
    parser.add_argument("--out-dir", default=str(repo_root / "crates" / "compiler" / "schemas"),
                        help="schema directory (default: crates/compiler/schemas of this repository)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if the files on disk differ from what would be written")
    parser.add_argument("--index-only", action="store_true",
                        help="only rebuild index.json from the schema files on disk (no download)")
    args = parser.parse_args()
    out_dir = Path(args.out_dir)

    outputs = {}
    if not args.index_only:
        outputs, k8s_version, package_version = build_k8s(args)
    outputs["index.json"] = build_index(out_dir, dict(outputs))

    stale = []
    if not args.index_only:
        stale = sorted(f"k8s/{p.name}" for p in (out_dir / "k8s").glob("*.json") if f"k8s/{p.name}" not in outputs)

    if args.check:
        drift = [rel for rel, text in sorted(outputs.items())
                 if not (out_dir / rel).is_file() or (out_dir / rel).read_text(encoding="utf-8") != text]
        drift += stale
        for rel in drift:
            print(f"differs: {rel}", file=sys.stderr)
        print("up to date" if not drift else f"{len(drift)} file(s) differ", file=sys.stderr)
        return 1 if drift else 0

    for rel, text in sorted(outputs.items()):
        target = out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target}", file=sys.stderr)
    for rel in stale:
        (out_dir / rel).unlink()
        print(f"removed stale {out_dir / rel}", file=sys.stderr)
    total = sum(len(text.encode("utf-8")) for rel, text in outputs.items() if rel.startswith("k8s/"))
    if not args.index_only:
        print(f"Kubernetes {k8s_version} from {PACKAGE} {package_version}: {len(KINDS)} schemas, "
              f"{total} bytes in k8s/", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
