"""Small HTTPS probes of the sandbox's endpoints, standard library only.

Used by `labkit up` (wait for readiness), `labkit status` and the supervisor,
where importing the full Kubernetes client would cost a second for one GET.
"""

from __future__ import annotations

import http.client
import json
import ssl
from pathlib import Path


def tls_context(ca: Path | None, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    """A client context trusting ``ca`` (or nothing verified when ``ca`` is None)."""
    if ca is None:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx = ssl.create_default_context(cafile=str(ca))
    if cert is not None:
        ctx.load_cert_chain(str(cert), str(key))
    return ctx


def get(port: int, path: str, ctx: ssl.SSLContext, timeout: float = 2.0) -> tuple[int, bytes]:
    """GET https://127.0.0.1:port/path; (0, error text) when nothing answers."""
    return request("GET", port, path, ctx, timeout)


def request(method: str, port: int, path: str, ctx: ssl.SSLContext,
            timeout: float = 2.0) -> tuple[int, bytes]:
    """One HTTPS request to 127.0.0.1:port; (0, error text) when nothing answers."""
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=timeout)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    except (OSError, http.client.HTTPException) as e:
        return 0, str(e).encode()
    finally:
        conn.close()


def get_json(port: int, path: str, ctx: ssl.SSLContext, timeout: float = 2.0) -> dict | None:
    """GET and decode JSON; None unless the answer is 200."""
    status, body = get(port, path, ctx, timeout)
    if status != 200:
        return None
    return json.loads(body)
