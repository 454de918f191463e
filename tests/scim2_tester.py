#!/usr/bin/env python3
"""Run the scim2-tester conformance checks against a running SCIM server.

Run with the venv that has scim2-tester installed (see scim2_tester_notes.md):

    /work/main/.venv/bin/python tests/scim2_tester.py --url http://127.0.0.1:8080/scim/v2 \
        --token TOKEN [--allow CHECK=REASON ...] [--json results.json] [--trace]

Every check result gets an id "title[/ResourceType[/attribute-path]]", e.g.
"object_creation/User" or "check_add_attribute/User/x509Certificates".
--allow KEY=REASON tolerates a failing result whose id equals KEY or starts with
"KEY/" (so "check_add_attribute" allows all of them, "check_add_attribute/User/photos"
only one). Exit: 0 = no unallowed failure, 1 = unallowed failure(s), 2 = usage error.
"""

import argparse
import json
import os
import sys

# This file is named like the scim2_tester package: drop its own directory from the import
# path, or "import scim2_tester" would import this script instead of the library.
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]

from httpx2 import Client  # scim2-client >= 0.13 uses httpx2, not httpx
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

# Statuses that count as a pass. scim2-tester 0.5.2 only ever emits SUCCESS, ERROR and
# SKIPPED, but the enum also defines COMPLIANT/ACCEPTABLE (pass) and DEVIATION/CRITICAL.
PASS = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}


def result_id(r) -> str:
    """Stable identifier of one result: checker name, resource type, patched path."""
    parts = [r.title or "?"]
    if r.resource_type:
        parts.append(r.resource_type)
    if isinstance(r.data, dict) and r.data.get("urn"):  # PATCH checks: one result per path
        parts.append(str(r.data["urn"]))
    return "/".join(parts)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True, help="SCIM base URL, e.g. http://127.0.0.1:8080/scim/v2")
    p.add_argument("--token", help="bearer token sent as 'Authorization: Bearer TOKEN'")
    p.add_argument("--allow", action="append", default=[], metavar="CHECK=REASON")
    p.add_argument("--include-tag", action="append", help="e.g. discovery, crud, crud:read, patch, misc")
    p.add_argument("--exclude-tag", action="append", help="e.g. patch:remove")
    p.add_argument("--resource-type", action="append", help="only test these resource types (by name)")
    p.add_argument("--json", metavar="FILE", help="also write all results as JSON to FILE")
    p.add_argument("--trace", action="store_true", help="log every HTTP request/response to stderr")
    p.add_argument("-v", "--verbose", action="store_true", help="print the debug data of failures")
    a = p.parse_args()

    allow = {}
    for item in a.allow:
        key, sep, reason = item.partition("=")
        if not sep or not key or not reason:
            p.error(f"--allow needs CHECK=REASON, got {item!r}")
        allow[key] = reason

    hooks = {}
    if a.trace:
        def on_req(req):
            body = req.content.decode(errors="replace") if req.content else ""
            extra = {k: v for k, v in req.headers.items() if k in ("content-type", "accept", "if-match", "if-none-match")}
            print(f"> {req.method} {req.url} {extra} {body}", file=sys.stderr)

        def on_resp(resp):
            resp.read()
            print(f"< {resp.status_code} {resp.headers.get('content-type')} {resp.text[:500]}", file=sys.stderr)

        hooks = {"request": [on_req], "response": [on_resp]}

    headers = {"Authorization": f"Bearer {a.token}"} if a.token else {}
    # No discover() needed: check_server() queries /ServiceProviderConfig, /ResourceTypes and
    # /Schemas itself and builds the resource models from what the server publishes.
    client = SyncSCIMClient(Client(base_url=a.url, headers=headers, timeout=30, event_hooks=hooks))

    results = check_server(
        client,
        include_tags=set(a.include_tag) if a.include_tag else None,
        exclude_tags=set(a.exclude_tag) if a.exclude_tag else None,
        resource_types=a.resource_type,
    )

    passed = failed = skipped = allowed = 0
    used_allows = set()
    for r in results:
        rid = result_id(r)
        reason = (r.reason or "").replace("\n", " | ")
        if r.status in PASS:
            passed += 1
            label = "PASS"
        elif r.status == Status.SKIPPED:
            skipped += 1
            label = "SKIP"
        else:
            key = next((k for k in allow if rid == k or rid.startswith(k + "/")), None)
            if key is not None:
                allowed += 1
                used_allows.add(key)
                label = "ALLOWED"
                reason = f"{reason} [allowed: {allow[key]}]"
            else:
                failed += 1
                label = "FAIL"
        print(f"{label:7} {r.status.name:8} {rid}: {reason}")
        if a.verbose and label in ("FAIL", "ALLOWED") and r.data is not None:
            print(f"        data: {r.data!r}"[:2000])

    for key in sorted(set(allow) - used_allows):
        print(f"note: --allow {key} matched no failing result (stale?)", file=sys.stderr)

    if not a.include_tag and not a.resource_type and not any(r.title == "object_creation" for r in results):
        # Discovery failed so no resource checks ran: never report that as a success.
        print("error: no CRUD check ran (discovery failed?)", file=sys.stderr)
        failed += 1

    if a.json:
        with open(a.json, "w") as f:
            json.dump([{"id": result_id(r), "title": r.title, "status": r.status.name,
                        "resource_type": r.resource_type, "reason": r.reason,
                        "tags": sorted(r.tags)} for r in results], f, indent=1)

    print(f"passed={passed} failed={failed} skipped={skipped} allowed={allowed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
