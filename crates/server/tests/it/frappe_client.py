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
client.logout()
print(json.dumps({"login": login, "acme": acme, "big": big, "doc_customer": doc["customer"], "items": len(doc["items"])}))
