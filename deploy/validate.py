#!/usr/bin/env python3
"""Validates every manifest under a folder (default: this one's), offline.

Kubernetes' own kinds go through kubernetes-validate (its bundled schemas, --strict:
unknown fields are errors); KServe's through the openAPIV3Schema of the CRDs in
kserve/crds/ (KServe's own, vendored); a kustomization must name files that exist.
prometheus-operator's (ServiceMonitor) through the validators kubernetes-models generates
from its CRDs, run by node from the npm prefix $NPM_VALIDATORS (validate_models.mjs).
Anything else is an error: a manifest nobody checks is not allowed in. With $KUSTOMIZE
naming a kustomize binary, each kustomization is also built and what it renders is
checked the same way (the objects an operator would apply, patches and labels included).

    python deploy/validate.py [DIR]      exit 0: all valid; 1: each problem printed
"""
import json
import os
import pathlib
import subprocess
import sys

import jsonschema
import kubernetes_validate
import yaml

K8S_VERSION = "1.33.0"
HERE = pathlib.Path(__file__).resolve().parent


def crd_schemas():
    schemas = {}
    for crd in (HERE / "kserve" / "crds").glob("*.yaml"):
        doc = yaml.safe_load(crd.read_text())
        group, kind = doc["spec"]["group"], doc["spec"]["names"]["kind"]
        for version in doc["spec"]["versions"]:
            schemas[(f"{group}/{version['name']}", kind)] = version["schema"]["openAPIV3Schema"]
    return schemas


def problems_of(path, doc, schemas):
    if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
        return [f"{path}: not a Kubernetes object (apiVersion and kind are required)"]
    api, kind = doc["apiVersion"], doc["kind"]
    if kind == "Kustomization":
        return [
            f"{path}: kustomization names {r}, which does not exist"
            for r in doc.get("resources", [])
            if not (path.parent / r).exists()
        ]
    if (api, kind) in schemas:
        validator = jsonschema.Draft7Validator(schemas[(api, kind)])
        return [
            f"{path}: {kind} {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
            for e in validator.iter_errors(doc)
        ]
    if api.startswith("serving.kserve.io/"):
        return [f"{path}: {api} {kind} has no vendored CRD schema"]
    if api.startswith("monitoring.coreos.com/"):
        return models_problems(path, doc)
    try:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        where = "/".join(map(str, e.path)) or "(top)"
        return [f"{path}: {kind} {where}: {e.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{path}: {api} {kind} is not a Kubernetes {K8S_VERSION} kind"]
    return []


def models_problems(path, doc):
    prefix = os.environ.get("NPM_VALIDATORS")
    if not prefix:
        return [f"{path}: {doc['kind']} needs NPM_VALIDATORS (scripts/npm-validators.sh prints it)"]
    run = subprocess.run(
        ["node", str(HERE / "validate_models.mjs"), prefix, json.dumps(doc)],
        capture_output=True, text=True,
    )
    if run.returncode == 0:
        return []
    lines = run.stdout.strip().splitlines() or [run.stderr.strip()]
    return [f"{path}: {doc['kind']} {line}" for line in lines]


def main(root):
    schemas = crd_schemas()
    problems, checked = [], 0
    for path in sorted(root.rglob("*.yaml")):
        if "crds" in path.parts:
            continue
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        except yaml.YAMLError as e:
            problems.append(f"{path}: not YAML: {e}")
            continue
        for doc in docs:
            checked += 1
            problems.extend(problems_of(path, doc, schemas))
    kustomize = os.environ.get("KUSTOMIZE")
    for kustomization in sorted(root.rglob("kustomization.yaml")) if kustomize else []:
        where = kustomization.parent
        built = subprocess.run([kustomize, "build", str(where)], capture_output=True, text=True)
        if built.returncode != 0:
            problems.append(f"{where}: kustomize build failed: {built.stderr.strip()}")
            continue
        docs = [d for d in yaml.safe_load_all(built.stdout) if d is not None]
        for doc in docs:
            checked += 1
            problems.extend(problems_of(pathlib.Path(f"{where} (built)"), doc, schemas))
        print(f"kustomize build {where}: {len(docs)} objects")
    for p in problems:
        print(p)
    print(f"{checked} manifests checked, {len(problems)} problems")
    return 1 if problems or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else HERE))
