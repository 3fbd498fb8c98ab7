"""The ``labkit`` command: kind/minikube-style verbs over the sandbox and the lessons.

Each sub-command is a thin shell over a library call, so everything a terminal
can do a notebook cell can do too.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .errors import LabkitError
from .sandbox.config import DEFAULT_NAME


def _sandbox(args):
    from .sandbox.cluster import Sandbox

    return Sandbox(args.name)


def cmd_build(args) -> int:
    from .sandbox import binaries

    names = args.components or None
    if args.if_missing:
        # Reuse what `find` resolves (LABKIT_K8S_BIN, PATH, cache); build only the rest.
        found = {n: b for n, b in binaries.find_all().items() if not names or n in names}
        for binary in found.values():
            if binary is not None:
                print(f"{binary.name}: {binary.path} ({binary.source})")
        names = [n for n, b in found.items() if b is None]
        if not names:
            print("sandbox binaries ready; nothing to build")
            return 0
    binaries.build(names, only_missing=args.if_missing)
    return 0


def cmd_up(args) -> int:
    sandbox = _sandbox(args)
    cfg = sandbox.up(args.nodes)
    print(
        f"\nThe sandbox is up: {cfg.nodes} node(s), API at {cfg.server}\n"
        f"Use it from a shell:\n"
        f"  export KUBECONFIG={cfg.kubeconfig}\n"
        f"  kubectl get nodes\n"
    )
    if args.merge_kubeconfig:
        from .sandbox.merge import merge_into_default

        target = merge_into_default(cfg)
        print(f"Merged context '{cfg.name}' into {target} and made it the current context")
    return 0


def cmd_down(args) -> int:
    sandbox = _sandbox(args)
    was_running = sandbox.down(purge=args.purge)
    if was_running:
        print(f"cluster '{args.name}' stopped" + (" and its state deleted" if args.purge else ""))
    elif args.purge:
        print(f"cluster '{args.name}' state deleted")
    return 0


def cmd_status(args) -> int:
    if args.kubeconfig:  # for scripts: `export KUBECONFIG=$(labkit status --kubeconfig)`
        sandbox = _sandbox(args)
        if not sandbox.running():
            return 3
        print(sandbox.kubeconfig)
        return 0
    status = _sandbox(args).status()
    if args.json:
        print(json.dumps(status, indent=2))
        return 0 if status["running"] else 3
    if not status.get("components"):
        print(f"cluster '{args.name}' does not exist; create it with: labkit up")
        return 3
    print(f"cluster '{status['name']}': {'running' if status['running'] else 'stopped'}")
    if status["running"]:
        print(f"  server:     {status['server']}\n  kubeconfig: {status['kubeconfig']}")
    print(f"  {'COMPONENT':<25} {'PID':>8}  {'PORT':<12} HEALTH")
    for c in status["components"]:
        port = ",".join(map(str, c["port"])) if isinstance(c["port"], list) else str(c["port"])
        state = "ok" if c["healthy"] else ("down" if not status["running"] else "unhealthy")
        print(f"  {c['name']:<25} {c['pid'] or '-':>8}  {port:<12} {state}")
    return 0 if status["running"] else 3


def cmd_logs(args) -> int:
    sandbox = _sandbox(args)
    log = sandbox.dir / "logs" / f"{args.component}.log"
    if not log.exists():
        known = sorted(p.stem for p in (sandbox.dir / "logs").glob("*.log"))
        print(f"no log for '{args.component}'; known: {', '.join(known) or 'none (never started)'}",
              file=sys.stderr)
        return 2
    lines = log.read_text(errors="replace").splitlines()
    print("\n".join(lines[-args.tail:] if args.tail else lines))
    return 0


def cmd_kill(args) -> int:
    from . import faults

    print(faults.kill(args.pod, namespace=args.namespace, container=args.container,
                      signal_name=args.signal, cluster=args.name))
    return 0


def cmd_node(args) -> int:
    from . import faults

    if args.action == "fail":
        print(faults.fail_node(args.node, cluster=args.name))
    else:
        print(faults.recover_node(args.node, cluster=args.name))
    return 0


def cmd_bench(args) -> int:
    from . import bench

    result = bench.run(args.what, cluster=args.name)
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


def cmd_doctor(args) -> int:
    from . import doctor

    text, problems = doctor.report(doctor.run())
    print(text)
    return 1 if problems else 0


def cmd_check(args) -> int:
    from . import nbcheck

    if args.name:
        os.environ["LABKIT_CLUSTER"] = args.name
    results = nbcheck.run(args.exercise, backend=args.backend, timeout=args.timeout)
    for result in results:
        print(result.line)
    return 0 if results and all(r.passed for r in results) else 1


def cmd_progress(args) -> int:
    from . import progress_file

    if args.json:
        print(json.dumps(progress_file.summary(), indent=2))
    else:
        print(progress_file.table())
    return 0


# -- course: run the notebooks headless, record their outputs (labkit/course.py) ----------------
def cmd_course(args) -> int:
    only = [o for part in (args.only or []) for o in part.split(",")] or None
    if args.action == "record":
        from .course_record import record

        record(only=only, backend=args.backend, name=args.name, cell_timeout=args.cell_timeout or 300)
        return 0
    from . import course

    runs = course.run(only=only, fast=args.fast, starter=args.starter, backend=args.backend,
                      name=args.name, output=args.output,
                      cell_timeout=args.cell_timeout or course.DEFAULT_CELL_TIMEOUT)
    return 0 if all(r.ok for r in runs) else 1


def add_course_parser(sub) -> None:
    p = sub.add_parser("course", help="run the course's notebooks headless (or record their outputs)",
                       description="run: execute notebooks/NN-*.ipynb with the solutions, one line per check "
                       "and 'N passed, M failed'. record: store fresh CI-mode outputs in the notebooks for nbval.")
    p.add_argument("action", choices=["run", "record"])
    p.add_argument("--only", action="append", help="notebook number(s), e.g. --only 02 or --only 01,03")
    p.add_argument("--fast", action="store_true", help="CI parameters (LABKIT_FAST=1 in the kernel)")
    p.add_argument("--starter", action="store_true",
                   help="run without the solutions: exercise checks are expected to fail")
    p.add_argument("--output", type=Path, default=None,
                   help="folder for the executed notebooks (default notebooks/_executed)")
    p.add_argument("--cell-timeout", type=float, default=None,
                   help="seconds a cell may run (default 600; 300 for record)")
    p.add_argument("--backend", default="auto", choices=["auto", "sandbox", "minikube", "kubeconfig"])
    p.add_argument("--name", default=None, help="sandbox cluster name (default: $LABKIT_CLUSTER or labkit)")
    p.set_defaults(func=cmd_course)
# -- end course ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labkit", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def cluster_cmd(name: str, func, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument("--name", default=os.environ.get("LABKIT_CLUSTER", DEFAULT_NAME),
                       help="sandbox cluster name (default: %(default)s)")
        p.set_defaults(func=func)
        return p

    p = sub.add_parser("build", help="build the sandbox binaries into ~/.cache/labkit")
    p.add_argument("components", nargs="*", help="etcd, kube-apiserver, ... (default: all)")
    p.add_argument("--if-missing", action="store_true",
                   help="build only the components that are not found already")
    p.set_defaults(func=cmd_build)

    p = cluster_cmd("up", cmd_up, "start the sandbox cluster (or report the running one)")
    p.add_argument("--nodes", type=int, default=None, help="number of nodes (default 1)")
    p.add_argument("--merge-kubeconfig", action="store_true",
                   help="also add the cluster as a context of ~/.kube/config")

    p = cluster_cmd("down", cmd_down, "stop the sandbox cluster")
    p.add_argument("--purge", action="store_true", help="also delete its state (objects, certs)")

    p = cluster_cmd("status", cmd_status, "show each component's pid, port and health")
    p.add_argument("--json", action="store_true")
    p.add_argument("--kubeconfig", action="store_true",
                   help="print only the running cluster's kubeconfig path (exit 3 if it is stopped)")

    p = cluster_cmd("logs", cmd_logs, "show a component's log")
    p.add_argument("component", help="etcd, kube-apiserver, kube-controller-manager, "
                   "kube-scheduler, node-agent or supervisor")
    p.add_argument("--tail", type=int, default=0, help="only the last N lines")

    p = cluster_cmd("kill", cmd_kill, "kill a pod's container process (the sandbox's `docker kill`)")
    p.add_argument("pod")
    p.add_argument("-n", "--namespace", default=None)
    p.add_argument("-c", "--container", default=None)
    p.add_argument("--signal", default="KILL", help="signal name (default KILL → exit code 137)")

    p = cluster_cmd("node", cmd_node, "simulate a node crash, or recover it")
    p.add_argument("action", choices=["fail", "recover"])
    p.add_argument("node")

    p = cluster_cmd("bench", cmd_bench, "measure start-up or pod latency, JSON out")
    p.add_argument("what", choices=["startup", "pods"])
    p.add_argument("--json", action="store_true", help="one line of JSON")

    p = sub.add_parser("doctor", help="check this machine: packages, kubectl, sandbox binaries, ports")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("check", help="run an exercise's checks from a terminal, e.g. `labkit check 03.2`")
    p.add_argument("exercise", help="exercise id (03.2), or a notebook number (03) for all its checks")
    p.add_argument("--backend", default="auto", choices=["auto", "sandbox", "minikube", "kubeconfig"])
    p.add_argument("--name", default=None, help="sandbox cluster name (default: $LABKIT_CLUSTER or labkit)")
    p.add_argument("--timeout", type=float, default=None,
                   help="wait at most this many seconds per check (default: the notebook's own)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("progress", help="show which exercises passed (the progress file as a table)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_progress)

    add_course_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except LabkitError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
