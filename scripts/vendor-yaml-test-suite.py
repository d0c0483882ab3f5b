#!/usr/bin/env python3
"""Writes tests/data/yaml-test-suite/cases.jsonl from the yaml-test-suite's `data` branch.

Usage: scripts/vendor-yaml-test-suite.py DATA.tar.gz COMMIT

One line per case (a case with several parts, such as `SM9W/01`, gives one line per part):
`id`, `name` (the case's `===`), `error` (whether the YAML is invalid), `json` (the documents
of `in.json` as a list, or null when the suite gives none: invalid YAML, or YAML whose value
JSON cannot hold, such as a mapping used as a key) and `yaml` (`in.yaml`, byte for byte).
The cases are sorted by id, so a new upstream commit shows as a readable diff.
"""

import json
import sys
import tarfile

src, commit = sys.argv[1], sys.argv[2]
files = {}
with tarfile.open(src) as tar:
    for m in tar.getmembers():
        if not m.isfile():
            continue
        parts = m.name.split("/")
        # …/<id>/<file>, or …/<id>/<part>/<file> for a case in several parts (`00`, `01`…)
        if len(parts) < 2:
            continue
        n = 2 if parts[-2].isdigit() and len(parts) >= 3 else 1
        case, name = "/".join(parts[-1 - n : -1]), parts[-1]
        files.setdefault(case, {})[name] = tar.extractfile(m).read()

out = []
for case in sorted(files):
    f = files[case]
    if "in.yaml" not in f:
        continue
    docs = None
    if "in.json" in f:
        text, docs, dec = f["in.json"].decode("utf-8"), [], json.JSONDecoder()
        pos = 0
        while True:
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos == len(text):
                break
            doc, pos = dec.raw_decode(text, pos)
            docs.append(doc)
    line = {
        "id": case,
        "name": f["==="].decode("utf-8").strip(),
        "error": "error" in f,
        "json": docs,
        "yaml": f["in.yaml"].decode("utf-8"),
    }
    out.append(json.dumps(line, ensure_ascii=False))

dest = "tests/data/yaml-test-suite/cases.jsonl"
with open(dest, "w", encoding="utf-8", newline="\n") as w:
    w.write("\n".join(out) + "\n")
print(f"{len(out)} cases from commit {commit} written to {dest}")
