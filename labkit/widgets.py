"""``lab.watch("pods")``: the inline ``watch kubectl get pods``.

The table's model (:class:`PodTable`) is fed by the Kubernetes watch API and
keeps each pod's row (kubectl's NAME READY STATUS RESTARTS AGE, computed as
kubectl does) and the history of STATUS transitions. In a live Jupyter kernel
it is shown as an ipywidgets table with a Stop button and refreshed every
second; elsewhere (a terminal, papermill with ``LABKIT_STATIC=1``) it prints a
snapshot, or with ``seconds=`` each change for that long like ``kubectl get -w``.
"""

from __future__ import annotations

import html
import os
import threading
import time

from .kubectl_columns import format_table, pod_columns, pod_status

COLUMNS = ("NAME", "READY", "STATUS", "RESTARTS", "AGE")


class PodTable:
    """Pods by name, plus every STATUS each pod showed, in order."""

    def __init__(self):
        self.pods: dict[str, dict] = {}
        self.history: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def update(self, event_type: str, pod: dict) -> bool:
        """Apply one watch event; return whether a row's STATUS changed (or a row came or went)."""
        name = pod["metadata"]["name"]
        with self._lock:
            before = self.statuses(name)[-1:] or [None]
            if event_type == "DELETED":
                self.pods.pop(name, None)
                self.history.append((name, "<deleted>"))
                return True
            self.pods[name] = pod
            status = pod_status(pod)
            if before[0] != status:
                self.history.append((name, status))
                return True
            return False

    def statuses(self, name: str) -> list[str]:
        """The STATUS values pod ``name`` went through."""
        return [s for n, s in self.history if n == name]

    def rows(self, now: float | None = None) -> list[dict[str, str]]:
        with self._lock:
            pods = list(self.pods.values())
        return [pod_columns(p, now) for p in sorted(pods, key=lambda p: p["metadata"]["name"])]

    def text(self) -> str:
        return format_table(self.rows(), COLUMNS)

    def html(self, note: str = "") -> str:
        rows = self.rows()
        head = "".join(f"<th style='text-align:left;padding:2px 12px 2px 0'>{c}</th>" for c in COLUMNS)
        body = "".join(
            "<tr>" + "".join(f"<td style='padding:2px 12px 2px 0'>{html.escape(r[c])}</td>" for c in COLUMNS)
            + "</tr>" for r in rows)
        empty = "" if rows else f"<tr><td colspan='{len(COLUMNS)}'>No resources found.</td></tr>"
        return (f"<table class='labkit-watch' style='font-family:monospace'><thead><tr>{head}</tr></thead>"
                f"<tbody>{body}{empty}</tbody></table>"
                + (f"<div style='color:#666;font-size:85%'>{html.escape(note)}</div>" if note else ""))


def live_kernel() -> bool:
    """True inside a Jupyter kernel with a front-end; ``LABKIT_STATIC=1`` forces printed output."""
    if os.environ.get("LABKIT_STATIC", "") not in ("", "0"):
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class PodWatch:
    """A running watch of a namespace's pods; ``.model`` is its :class:`PodTable`."""

    def __init__(self, lab, *, seconds: float | None = None, on_change=None):
        self.lab = lab
        self.model = PodTable()
        self.seconds = seconds
        self.on_change = on_change
        self._stop = threading.Event()
        self._watch = None
        self._synced = threading.Event()
        self.error: str | None = None
        self.box = None
        self._thread = threading.Thread(target=self._run, name=f"labkit-watch-{lab.namespace}", daemon=True)

    # -- the watch loop --------------------------------------------------------------------
    def start(self) -> "PodWatch":
        self._thread.start()
        self._synced.wait(10)
        return self

    def _run(self) -> None:
        from kubernetes import watch
        from kubernetes.client.exceptions import ApiException

        core = self.lab.api.core
        deadline = time.monotonic() + self.seconds if self.seconds else None
        while not self._stop.is_set():
            try:
                listing = core.list_namespaced_pod(self.lab.namespace)
                current = {p.metadata.name for p in listing.items}
                for name, pod in list(self.model.pods.items()):
                    if name not in current:  # deleted while the watch was reconnecting
                        self._event("DELETED", pod)
                for pod in listing.items:
                    self._event("ADDED", self.lab.api.to_dict(pod))
                self._synced.set()
                self._watch = watch.Watch()
                left = 30 if deadline is None else max(1, int(deadline - time.monotonic()) + 1)
                for ev in self._watch.stream(core.list_namespaced_pod, self.lab.namespace,
                                             resource_version=listing.metadata.resource_version,
                                             timeout_seconds=min(30, left), _request_timeout=40):
                    self._event(ev["type"], self.lab.api.to_dict(ev["object"]))
                    if self._stop.is_set() or (deadline and time.monotonic() > deadline):
                        break
            except ApiException as e:
                if e.status != 410:  # 410 Gone: the watch expired, list again
                    self.error = f"watch failed: {e.reason}"
                    time.sleep(1)
            except Exception as e:  # connection lost: show it, retry
                if self._stop.is_set():
                    break
                self.error = f"watch interrupted ({type(e).__name__}); retrying"
                time.sleep(1)
            finally:
                self._synced.set()
            if deadline and time.monotonic() > deadline:
                break
        self._stop.set()
        self.render()

    def _event(self, event_type: str, pod: dict) -> None:
        if self.model.update(event_type, pod):
            self.render()
            if self.on_change:
                self.on_change(event_type, pod)

    def stop(self) -> None:
        """Stop watching (the table keeps its last state)."""
        self._stop.set()
        if self._watch is not None:
            self._watch.stop()
        self.render()

    @property
    def running(self) -> bool:
        return not self._stop.is_set()

    # -- display ---------------------------------------------------------------------------
    def widget(self):
        """The ipywidgets view: the table, a Stop button and a status line, refreshed every second."""
        import ipywidgets as w

        if self.box is None:
            table = w.HTML(self.model.html())
            button = w.Button(description="Stop", icon="stop", layout=w.Layout(width="90px"))
            button.on_click(lambda _b: self.stop())
            self.box = w.VBox([table, button])
            threading.Thread(target=self._tick, name="labkit-watch-tick", daemon=True).start()
        return self.box

    def _tick(self) -> None:
        while self.running:
            self.render()
            time.sleep(1)
        self.render()

    def render(self) -> None:
        if self.box is None:
            return
        note = f"watching pods in {self.lab.namespace}" if self.running else "stopped"
        if self.error:
            note += f" — {self.error}"
        self.box.children[0].value = self.model.html(note)
        self.box.children[1].disabled = not self.running

    def _repr_mimebundle_(self, **kwargs):
        if self.box is None:
            return {"text/plain": self.model.text()}
        # A saved notebook (papermill, nbval) keeps no widget state: its text should be the
        # table as it was shown, not the widget's VBox(...) repr.
        bundle = self.box._repr_mimebundle_(**kwargs)
        if bundle is not None:
            bundle["text/plain"] = self.model.text()
        return bundle

    def __repr__(self) -> str:
        return self.model.text()


def watch(lab, kind: str = "pods", *, seconds: float | None = None, live: bool | None = None):
    """Watch the lesson's pods: a live widget in Jupyter, printed tables elsewhere.

    Parameters
    ----------
    lab : Lesson
    kind : str
        Only ``"pods"`` (``"po"``, ``"pod"``) is supported.
    seconds : float, optional
        Stop after this long (default: until Stop is pressed; outside a live
        kernel, print one snapshot).
    live : bool, optional
        Force the widget (True) or the printed form (False); default: detect.

    Examples
    --------
    >>> lab.watch("pods")  # doctest: +SKIP
    """
    if kind.lower() not in ("pods", "pod", "po"):
        from .errors import NotSupported

        raise NotSupported(f"lab.watch shows pods only; for {kind} use lab.kubectl('get {kind}')")
    live = live_kernel() if live is None else live
    if live:
        view = PodWatch(lab, seconds=seconds)
        view.widget()
        return view.start()
    if not seconds:
        model = PodTable()
        for pod in lab.api.core.list_namespaced_pod(lab.namespace).items:
            model.update("ADDED", lab.api.to_dict(pod))
        print(model.text())
        return _Printed(model)
    return _stream(lab, seconds)


def _stream(lab, seconds: float):
    """Print the table, then each changed row, for ``seconds`` (like ``kubectl get pods -w``)."""
    printed = threading.Event()

    def changed(event_type, pod):
        if printed.is_set():
            row = pod_columns(pod)
            print("   ".join(row[c] for c in COLUMNS) + ("   (deleted)" if event_type == "DELETED" else ""))

    view = PodWatch(lab, seconds=seconds, on_change=changed).start()
    print(view.model.text())
    printed.set()
    view._thread.join(seconds + 45)
    view.stop()
    return _Printed(view.model)


class _Printed:
    """The result of a printed watch: its model, with nothing more to show."""

    def __init__(self, model: PodTable):
        self.model = model

    def _ipython_display_(self) -> None:
        pass

    def __repr__(self) -> str:
        return self.model.text()
