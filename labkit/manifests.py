"""Manifests: YAML in, objects on the cluster out — with errors that teach.

* :func:`load` reads one or many YAML documents, skips empty ones, flattens
  ``kind: List``, and reports a syntax error with its line, column and the line
  itself; a document without ``kind`` or ``apiVersion`` is named by number and line.
* :func:`apply` creates or updates the objects in dependency order (Namespace
  before ConfigMap before Pod) with server-side apply and strict field
  validation, printing ``job.batch/test-job created`` as kubectl does. A
  manifest of several objects is dry-run first, so a rejected object leaves
  the others unapplied.
* :func:`explain` turns an API rejection (422 Invalid, 400 unknown field) into
  plain words: which field, what is wrong, and how to fix it.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import yaml

from .client import Api, Kind
from .errors import ApiRejected, LabkitError, ManifestError

FIELD_MANAGER = "labkit"

# Creation order, as in lightkube's sort_objects: what others refer to comes first.
_ORDER = ["Namespace", "ResourceQuota", "LimitRange", "PriorityClass", "ServiceAccount", "Secret",
          "ConfigMap", "StorageClass", "PersistentVolume", "PersistentVolumeClaim",
          "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
          "Service"]
_WORKLOADS = ["DaemonSet", "Deployment", "ReplicaSet", "StatefulSet", "Job", "CronJob", "Pod"]


class Document:
    """One YAML document and the line it starts on (for error messages)."""

    def __init__(self, obj: dict, index: int, line: int):
        self.obj, self.index, self.line = obj, index, line


def _read_text(text_or_path) -> tuple[str, str]:
    """(yaml text, where it came from) for a path, a YAML string, or a dict/list."""
    if isinstance(text_or_path, (dict, list)):
        return yaml.safe_dump_all(text_or_path if isinstance(text_or_path, list) else [text_or_path]), "<object>"
    if isinstance(text_or_path, Path) or ("\n" not in str(text_or_path)
                                          and str(text_or_path).endswith((".yml", ".yaml", ".json"))):
        path = Path(text_or_path)
        try:
            return path.read_text(), str(path)
        except OSError as e:
            raise ManifestError(f"cannot read manifest {path}: {e.strerror}") from e
    return str(text_or_path), "<text>"


def _syntax_error(e: yaml.YAMLError, text: str, source: str) -> ManifestError:
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    problem = getattr(e, "problem", None) or str(e)
    if mark is None:
        return ManifestError(f"YAML syntax error in {source}: {problem}")
    lines = text.splitlines()
    line_no, col = mark.line + 1, mark.column + 1
    shown = lines[mark.line] if mark.line < len(lines) else ""
    advice = "check the indentation and the quoting on this line or the one above it"
    if "\t" in shown or "'\\t'" in problem:
        advice = "YAML does not allow tabs for indentation: indent with spaces"
    elif "mapping values are not allowed" in problem:
        advice = ("a value contains ': ' or is indented wrongly: quote the value, "
                  "or align the key with its neighbours")
    return ManifestError(
        f"YAML syntax error in {source} at line {line_no}, column {col}: {problem}\n"
        f"  {line_no:>3} | {shown}\n"
        f"      | {' ' * (col - 1)}^\n"
        f"Fix: {advice}."
    )


def load(text_or_path) -> list[Document]:
    """Parse manifests into documents, raising :class:`ManifestError` on a mistake.

    Examples
    --------
    >>> [d.obj["kind"] for d in load("kind: Pod\\napiVersion: v1\\nmetadata: {name: a}\\n---\\n")]
    ['Pod']
    """
    text, source = _read_text(text_or_path)
    docs: list[Document] = []
    try:
        for node in yaml.compose_all(text, Loader=yaml.SafeLoader):
            if node is None:
                continue
            obj = _construct(node)
            line = node.start_mark.line + 1
            if obj is None:
                continue
            if not isinstance(obj, dict):
                raise ManifestError(f"document {len(docs) + 1} in {source} (line {line}) is a "
                                    f"{type(obj).__name__}, not an object with apiVersion, kind and metadata")
            if obj.get("kind") == "List" or (obj.get("kind", "").endswith("List") and "items" in obj):
                docs += [Document(item, len(docs) + i + 1, line) for i, item in enumerate(obj.get("items") or [])]
            else:
                docs.append(Document(obj, len(docs) + 1, line))
    except yaml.YAMLError as e:
        raise _syntax_error(e, text, source) from e
    for doc in docs:
        _require_fields(doc, source)
    return docs


def _construct(node) -> object:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _require_fields(doc: Document, source: str) -> None:
    where = f"document {doc.index} in {source} (line {doc.line})"
    missing = [f for f in ("apiVersion", "kind") if not doc.obj.get(f)]
    if missing:
        example = "apiVersion: batch/v1 and kind: Job" if "kind" in missing else "apiVersion: v1 for a Pod"
        raise ManifestError(f"{where} has no {' and no '.join(missing)}: every object needs both "
                            f"(e.g. {example})")
    if not (doc.obj.get("metadata") or {}).get("name"):
        raise ManifestError(f"{where} ({doc.obj['kind']}) has no metadata.name: give the object a name")


def order(docs: list[Document]) -> list[Document]:
    """Dependency order for creation (reverse it for deletion)."""
    def rank(d: Document) -> int:
        kind = d.obj.get("kind", "")
        if kind in _ORDER:
            return _ORDER.index(kind)
        if kind in _WORKLOADS:
            return len(_ORDER) + 1 + _WORKLOADS.index(kind)
        return len(_ORDER)
    return sorted(docs, key=rank)


# -- API errors in plain words ------------------------------------------------------

_PLAIN = [
    # (kind or None, field regex, message regex, plain words)
    ("Job", r"spec\.template\.spec\.restartPolicy", r"podFailurePolicy",
     "a Job with a podFailurePolicy must use restartPolicy Never (with OnFailure the kubelet would "
     "restart a failed container in place, and the policy would never see the pod fail)"),
    ("Job", r"spec\.template\.spec\.restartPolicy", r"",   # Always (or missing): the API lists the valid ones
     "a Job's pods must use restartPolicy Never or OnFailure (with Always a finished pod would be "
     "restarted forever and the Job could never complete): set spec.template.spec.restartPolicy"),
    ("CronJob", r"restartPolicy", r"",
     "a CronJob's pods must use restartPolicy Never or OnFailure: set "
     "spec.jobTemplate.spec.template.spec.restartPolicy"),
    (None, r"restartPolicy$", r"Unsupported value",
     "restartPolicy must be exactly Always, OnFailure or Never (the capital letters matter)"),
    (None, r"metadata\.name$", r"",
     "names must be lowercase letters, digits and '-', starting and ending with a letter or digit"),
    (None, r"selector", r"does not match template",
     "spec.selector must match the labels in spec.template.metadata.labels"),
    (None, r"^spec$", r"Forbidden: pod updates may not change fields",
     "a Pod cannot be changed once it exists (only a few fields such as the image can): delete "
     "it with lab.delete('pod', name) and apply again"),
    (None, r"", r"field is immutable",
     "this field cannot be changed on an existing object: delete the object and apply again"),
    (None, r"containers$", r"Required value",
     "a pod template needs at least one container under containers:"),
    (None, r"image$", r"Required value", "every container needs an image"),
]


def _first_part(message: str, limit: int = 160) -> str:
    """The API's message without its examples, regexes and diffs."""
    text = message.split("\n")[0].split(" (e.g. ")[0].strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _causes(body: dict) -> list[dict]:
    causes = (body.get("details") or {}).get("causes") or []
    return causes or [{"field": "", "message": body.get("message", "")}]


def plain_words(kind: str, field: str, message: str) -> str:
    """A learner-friendly sentence for one rejected field (falls back to the API's words)."""
    for want_kind, field_re, msg_re, words in _PLAIN:
        if want_kind and want_kind != kind:
            continue
        if re.search(field_re, field or "") and re.search(msg_re, message or ""):
            return words
    return message


def explain(e, ref: str, kind: str = "") -> ApiRejected:
    """An :class:`ApiRejected` for a rejected write, naming the field path and the reason."""
    try:
        body = json.loads(e.body) if isinstance(getattr(e, "body", None), (str, bytes)) else {}
    except ValueError:
        body = {}
    message = body.get("message") or getattr(e, "reason", "") or str(e)
    status = getattr(e, "status", 0)
    if status == 400 and "strict decoding error" in message:
        unknown = re.findall(r'unknown field "([^"]+)"', message)
        return ApiRejected(f"{ref} was rejected: unknown field(s) {', '.join(unknown) or message}. "
                           "Check the spelling and the indentation (fields are case-sensitive).")
    if status == 422:
        lines = []
        for cause in _causes(body):
            field = cause.get("field", "")
            words = plain_words(kind, field, cause.get("message", ""))
            lines.append(f"  {field or '(object)'}: {words}")
            if words != cause.get("message"):
                lines.append(f"      (the API said: {_first_part(cause.get('message', ''))})")
        return ApiRejected(f"{ref} was rejected by the API server:\n" + "\n".join(lines))
    if "field not declared in schema" in message:
        # Server-side apply reports an unknown field as a 500 with the field's path.
        paths = re.findall(r"(\.[^\s:]+): field not declared in schema", message)
        where = ", ".join(p.lstrip(".") for p in paths) or message
        return ApiRejected(f"{ref} was rejected: unknown field {where}. Check the spelling and the "
                           "indentation (field names are case-sensitive).")
    if status == 409:
        return ApiRejected(f"{ref}: {message}. Another tool manages these fields; delete the object and "
                           "apply again.")
    if status == 403:
        return ApiRejected(f"{ref}: not allowed ({message}). Your kubeconfig user lacks this permission.")
    if status == 404 and "namespaces" in message:
        return ApiRejected(f"{ref}: {message}. Create the namespace first (lab = labkit.lesson(...)).")
    return ApiRejected(f"{ref}: the API server answered {status}: {message}")


# -- apply ----------------------------------------------------------------------------

def _resource(api: Api, obj: dict):
    from kubernetes.dynamic.exceptions import ResourceNotFoundError

    try:
        res = api.dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        if res.group_version != obj["apiVersion"]:
            raise ManifestError(f"{obj['kind']}/{obj['metadata'].get('name')}: kind {res.kind} is in "
                                f"apiVersion {res.group_version}, not {obj['apiVersion']}: write "
                                f"apiVersion: {res.group_version}")
        return res
    except ResourceNotFoundError as e:
        from .client import resolve_kind

        try:
            known = resolve_kind(obj["kind"], api.dynamic)
            hint = f"write apiVersion: {known.api_version} for kind {known.kind}"
        except LabkitError:
            import difflib

            from .client import _KNOWN

            close = difflib.get_close_matches(obj["kind"], list(_KNOWN), n=1, cutoff=0.5)
            hint = f"did you mean kind: {close[0]}?" if close else "check the kind's spelling (e.g. Pod, Job)"
        raise ManifestError(f"{obj['kind']}/{obj['metadata'].get('name')}: the cluster has no kind "
                            f"'{obj['kind']}' in apiVersion {obj['apiVersion']}: {hint}") from e


def _holds(want, have) -> bool:
    """Every field written in ``want`` has that value in ``have`` (server defaults aside)."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(_holds(v, have.get(k)) for k, v in want.items())
    if isinstance(want, list):
        return (isinstance(have, list) and len(want) == len(have)
                and all(_holds(w, h) for w, h in zip(want, have)))
    return want == have


def _owned(obj: dict):
    """The fields labkit's applies own (server-side apply's managedFields entry)."""
    return next((m.get("fieldsV1") for m in obj["metadata"].get("managedFields") or []
                 if m.get("manager") == FIELD_MANAGER and m.get("operation") == "Apply"), None)


def apply_one(api: Api, obj: dict, namespace: str, *, dry_run: bool = False) -> tuple[dict, str]:
    """Server-side apply one object; returns (object, "created" | "configured" | "unchanged").

    With ``dry_run`` the API server validates and admits the object without storing it.
    """
    from kubernetes.dynamic.exceptions import ApiException, NotFoundError

    res = _resource(api, obj)
    name = obj["metadata"]["name"]
    ns = (obj["metadata"].get("namespace") or namespace) if res.namespaced else None
    kind = Kind(res.group_version, res.kind, res.name)
    ref = kind.ref(name)
    try:
        before = res.get(name=name, namespace=ns).to_dict()
    except NotFoundError:
        before = None
    except ApiException as e:
        raise explain(e, ref, kind.kind) from e
    body = dict(obj)
    if ns:
        body["metadata"] = dict(obj["metadata"], namespace=ns)
    try:
        after = res.server_side_apply(body=body, name=name, namespace=ns, field_manager=FIELD_MANAGER,
                                      force_conflicts=True, dry_run="All" if dry_run else None,
                                      query_params=[("fieldValidation", "Strict")]).to_dict()
    except ApiException as e:
        raise explain(e, ref, kind.kind) from e
    if before is None:
        verb = "created"
    elif (before["metadata"].get("resourceVersion") == after["metadata"].get("resourceVersion")
          or (_owned(before) == _owned(after) and _holds(body, before))):
        # Like kubectl: "unchanged" when what the manifest says was already so, even if the
        # object moved meanwhile for other reasons (a scheduler binding, a status update).
        verb = "unchanged"
    else:
        verb = "configured"
    return after, f"{ref} {verb}"


def validate_as_new(api: Api, text_or_path, namespace: str) -> None:
    """Let the API server check every object as if it were created anew, storing nothing.

    Used before replacing an object (an exercise's earlier attempt): a rejected
    manifest must not cost the learner the object that is already there. Each
    object is dry-run under a scratch name, so an existing one does not turn the
    check into an update of immutable fields.
    """
    for doc in order(load(text_or_path)):
        obj = copy.deepcopy(doc.obj)
        if obj["kind"] == "Namespace":
            continue
        obj["metadata"]["name"] = obj["metadata"]["name"][:48] + "-labkit-dry-run"
        try:
            apply_one(api, obj, namespace, dry_run=True)
        except ApiRejected as e:
            raise ApiRejected(str(e).replace(obj["metadata"]["name"], doc.obj["metadata"]["name"])) from None


def apply(api: Api, text_or_path, namespace: str, *, quiet: bool = False) -> list[dict]:
    """Apply every object of a manifest in dependency order; print kubectl's lines unless quiet.

    Examples
    --------
    >>> apply(api, "apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: c}\\n", "lab-01")  # doctest: +SKIP
    configmap/c created
    """
    docs = order(load(text_or_path))
    if len(docs) > 1:
        # Let the API server validate every object first (a dry run), so a mistake in the
        # last document does not leave the first ones applied. Objects in a namespace the
        # manifest itself creates cannot be dry-run before it exists; they are checked when applied.
        new_namespaces = {d.obj["metadata"]["name"] for d in docs if d.obj["kind"] == "Namespace"}
        for doc in docs:
            if doc.obj["kind"] == "Namespace" or (doc.obj["metadata"].get("namespace")
                                                  or namespace) not in new_namespaces:
                apply_one(api, doc.obj, namespace, dry_run=True)
    out = []
    for doc in docs:
        obj, line = apply_one(api, doc.obj, namespace)
        if not quiet:
            print(line)
        out.append(obj)
    return out
