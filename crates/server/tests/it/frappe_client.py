"""Drives the server with an unmodified Frappe REST client from PyPI (frappe-client).

Usage: python3 frappe_client.py URL USER PASSWORD
Prints one JSON object with what the client saw; the Rust test checks it.
"""
import json
import sys

from frappeclient import FrappeClient

url, usr, pwd = sys.argv[1:4]
client = FrappeClient(url)
login = client.login(usr, pwd)
acme = client.get_list(
    "Sales Invoice",
    fields=["name", "customer", "grand_total"],
    filters={"customer": "Acme Corp"},
    order_by="name asc",
)
big = client.get_list(
    "Sales Invoice",
    fields=["name"],
    filters=[["grand_total", ">=", 200]],
    limit_start=0,
    limit_page_length=10,
    order_by="grand_total desc",
)
doc = client.get_doc("Sales Invoice", "SINV-00002")

# Writes: the session a script opens has no CSRF token to send, as in ERPNext.
inserted = client.insert({"doctype": "Sales Invoice", "customer": "Acme Corp", "grand_total": 42, "status": "Draft"})
updated = client.update({"doctype": "Sales Invoice", "name": inserted["name"], "status": "Unpaid"})
# get_api and post_api add a trailing slash to the method's path; post_api sends its
# parameters in the query string.
me = client.get_api("frappe.auth.get_logged_user")
count = client.post_api("frappe.client.get_count", {"doctype": "Sales Invoice", "filters": json.dumps({"customer": "Acme Corp"})})
try:
    client.insert_many([{"doctype": "Sales Invoice", "customer": "Acme Corp"}])
    many = "inserted"
except NameError as e:  # this client version calls frappe.as_json without importing frappe
    many = "client error: " + str(e)


def file_stream(call):
    """get_pdf and get_html write bytes into a StringIO, which Python 3 refuses after the
    server has answered; what the server sent is checked in its log instead."""
    try:
        out = call()
        return {"ok": True, "text": out.getvalue()[:200] if hasattr(out, "getvalue") else str(out)}
    except TypeError as e:
        return {"ok": False, "client_error": str(e)}


# delete and bulk_update post to / with cmd=, which the server sends on to the method.
bulk = client.bulk_update([{"doctype": "Sales Invoice", "name": inserted["name"], "status": "Paid"}])
try:
    client.delete("Sales Invoice", inserted["name"])
    deleted = "deleted"
except Exception as e:  # the client raises on ERPNext's error shape
    deleted = "refused: " + str(e)

pdf = file_stream(lambda: client.get_pdf("Sales Invoice", "SINV-00002"))
html = file_stream(lambda: client.get_html("Sales Invoice", "SINV-00002"))
client.logout()
print(json.dumps({
    "login": login, "acme": acme, "big": big, "doc_customer": doc["customer"], "items": len(doc["items"]),
    "inserted": inserted, "updated": updated, "me": me, "count": count, "many": many, "bulk": bulk, "deleted": deleted, "pdf": pdf, "html": html,
}))
