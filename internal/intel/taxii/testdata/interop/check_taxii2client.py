"""Drive an xsoc TAXII 2.1 server with the OASIS reference client.

Usage: check_taxii2client.py DISCOVERY_URL USER PASSWORD COLLECTION_ID

Prints one JSON summary line and exits 0 when every step behaved as the
TAXII 2.1 specification says; exits 1 with the reason otherwise.
"""
import json
import sys
import uuid

from taxii2client.v21 import Server, as_pages

MEDIA = "application/taxii+json;version=2.1"


def fail(msg):
    print(json.dumps({"ok": False, "error": msg}))
    sys.exit(1)


def indicator(oid, modified):
    return {
        "type": "indicator", "spec_version": "2.1", "id": oid,
        "created": "2020-01-01T00:00:00.000Z", "modified": modified,
        "name": "interop", "pattern": "[domain-name:value = 'example.org']",
        "pattern_type": "stix", "valid_from": "2020-01-01T00:00:00Z",
    }


def main():
    url, user, password, coll_id = sys.argv[1:5]
    server = Server(url, user=user, password=password)
    if len(server.api_roots) != 1:
        fail("want one API root, got %d" % len(server.api_roots))
    root = server.api_roots[0]
    if MEDIA not in root.versions:
        fail("API root versions %r" % root.versions)
    colls = [c for c in root.collections if c.id == coll_id]
    if not colls or not colls[0].can_write:
        fail("collection %s not listed as writable" % coll_id)
    coll = colls[0]

    ids = ["indicator--%s" % uuid.uuid4() for _ in range(5)]
    envelope = {"objects": [indicator(i, "2020-01-01T00:00:00.000Z") for i in ids]}
    status = coll.add_objects(envelope)
    if status.status != "complete" or status.success_count != 5 or status.failure_count != 0:
        fail("status %s %d/%d" % (status.status, status.success_count, status.failure_count))
    again = root.get_status(status.id)
    if again.id != status.id or again.total_count != 5:
        fail("status endpoint returned %s" % again.id)

    paged, pages = [], 0
    for env in as_pages(coll.get_objects, per_request=2):
        pages += 1
        paged += [o["id"] for o in env.get("objects", [])]
    if paged != ids:
        fail("paged %r, want %r" % (paged, ids))

    manifest = coll.get_manifest()
    records = manifest.get("objects", [])
    if [r["id"] for r in records] != ids:
        fail("manifest ids differ")
    after = coll.get_objects(added_after=records[1]["date_added"])
    if [o["id"] for o in after.get("objects", [])] != ids[2:]:
        fail("added_after returned %r" % after.get("objects"))

    coll.add_objects({"objects": [indicator(ids[0], "2021-01-01T00:00:00.000Z")]})
    versions = coll.object_versions(ids[0]).get("versions", [])
    if versions != ["2020-01-01T00:00:00.000Z", "2021-01-01T00:00:00.000Z"]:
        fail("versions %r" % versions)
    first = coll.get_object(ids[0], version="first").get("objects", [])
    if len(first) != 1 or first[0]["modified"] != "2020-01-01T00:00:00.000Z":
        fail("first version %r" % first)
    coll.delete_object(ids[0], version="2020-01-01T00:00:00.000Z")
    versions = coll.object_versions(ids[0]).get("versions", [])
    if versions != ["2021-01-01T00:00:00.000Z"]:
        fail("versions after delete %r" % versions)

    print(json.dumps({"ok": True, "posted": len(ids), "paged": len(paged), "pages": pages}))


if __name__ == "__main__":
    main()
