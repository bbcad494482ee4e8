"""Checks deploy/k8s/*.yaml: every resource against the Kubernetes schemas (kubernetes-validate,
strict: unknown fields refused), then the deployment policy strikevote relies on. Prints every
problem and exits 1 if there is one.

    python3 tests/deploy/check_k8s.py deploy/k8s/strikevote.yaml [--kubernetes-version 1.30]
"""

import argparse
import sys

import kubernetes_validate
import yaml


def problems_of(docs, version):
    problems = []
    by_kind = {}
    for doc in docs:
        kind = doc.get("kind", "?")
        name = doc.get("metadata", {}).get("name", "?")
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            problems.append(f"{kind}/{name}: {e.message} (at {'.'.join(map(str, e.path))})")
        except kubernetes_validate.InvalidSchemaError as e:
            problems.append(f"{kind}/{name}: no schema: {e}")
        by_kind.setdefault(kind, []).append(doc)

    def need(condition, message):
        if not condition:
            problems.append(message)

    for kind in ["Deployment", "Service", "Ingress", "PodDisruptionBudget", "NetworkPolicy"]:
        need(kind in by_kind, f"no {kind}")
    need("Secret" not in by_kind, "a Secret is in the repository: keys and passwords are created with kubectl, never committed")
    for dep in by_kind.get("Deployment", []):
        spec = dep["spec"]
        pod = spec["template"]["spec"]
        need(spec.get("replicas", 1) >= 2, "the Deployment runs fewer than 2 replicas")
        need(pod.get("securityContext", {}).get("runAsNonRoot") is True, "pods may run as root")
        key_volumes = [v for v in pod.get("volumes", []) if "secret" in v]
        need(key_volumes, "the signing key is not mounted from a Secret")
        for v in key_volumes:
            need(v["secret"].get("defaultMode") == 0o400, f"Secret volume {v['name']} is not mode 0400 (the server refuses a key others can read)")
        for c in pod["containers"]:
            sc = c.get("securityContext", {})
            need(sc.get("readOnlyRootFilesystem") is True, f"container {c['name']}: root filesystem is writable")
            need(sc.get("allowPrivilegeEscalation") is False, f"container {c['name']}: privilege escalation allowed")
            need("ALL" in sc.get("capabilities", {}).get("drop", []), f"container {c['name']}: capabilities not dropped")
            need("readinessProbe" in c and "livenessProbe" in c, f"container {c['name']}: readiness and liveness probes are required")
            mounts = {m["name"]: m for m in c.get("volumeMounts", [])}
            for v in key_volumes:
                need(mounts.get(v["name"], {}).get("readOnly") is True, f"container {c['name']}: the key volume is not read-only")
    for pol in by_kind.get("NetworkPolicy", []):
        need(set(pol["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}, "the NetworkPolicy must restrict both ingress and egress")
    return problems


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="+")
    parser.add_argument("--kubernetes-version", default="1.30")
    args = parser.parse_args()
    docs = []
    for path in args.files:
        with open(path) as f:
            docs.extend(d for d in yaml.safe_load_all(f) if d)
    problems = problems_of(docs, args.kubernetes_version)
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"{len(docs)} resources valid against Kubernetes {args.kubernetes_version} and the deployment policy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
