"""Parses Prometheus text from stdin with prometheus_client's own parser (the reference
implementation's Python port) and prints each sample as JSON: name, labels, value. Fails
on anything the parser refuses."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

families = []
for family in text_string_to_metric_families(sys.stdin.read()):
    families.append({
        "name": family.name,
        "type": family.type,
        "samples": [
            {"name": s.name, "labels": s.labels, "value": s.value} for s in family.samples
        ],
    })
json.dump(families, sys.stdout)
