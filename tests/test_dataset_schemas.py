"""The published JSON Schemas (docs/dataset-manifest.schema.json, docs/dataset-record.schema.json) and the server agree:
every manifest and shard line a real server writes, from each import path, validates against them; the shared cases of
tests/data/schema_cases.json are judged by the schemas as they say, and the server refuses exactly the invalid records
(the Swift test SchemaAgreementTests judges the same cases with the server's own code)."""

import copy
import hashlib
import io
import json
import zipfile
from pathlib import Path

import jsonschema
import pytest

from test_datasets import png

ROOT = Path(__file__).resolve().parent.parent
RECORD_SCHEMA = json.loads((ROOT / "docs" / "dataset-record.schema.json").read_text())
MANIFEST_SCHEMA = json.loads((ROOT / "docs" / "dataset-manifest.schema.json").read_text())
CASES = json.loads((ROOT / "tests" / "data" / "schema_cases.json").read_text())


def is_valid(value, schema):
    return jsonschema.Draft202012Validator(schema).is_valid(value)


def upload(api, namespace, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    answer = api.put(f"/namespaces/{namespace}/blobs/{digest}", data=data)
    assert answer.status_code == 201, answer.text
    return digest


def check_version(api, namespace, base, number):
    """The version's manifest and every line of its shards follow the schemas and the rules across fields."""
    manifest = api.get(f"{base}/versions/{number}").json()["manifest"]
    jsonschema.validate(manifest, MANIFEST_SCHEMA)
    # The rules JSON Schema cannot state (docs/dataset-format.md).
    assert sum(shard["records"] for shard in manifest["shards"]) == manifest["record_count"] == manifest["statistics"]["records"]
    declared = [field["name"] for field in manifest["schema"]["fields"]]
    assert len(declared) == len(set(declared))
    labels = set(manifest["statistics"]["class_counts"]) | set(manifest["statistics"]["box_counts"])
    assert labels <= set(manifest["schema"]["classes"])
    assert sum(manifest["statistics"]["class_counts"].values()) + manifest["statistics"]["unlabeled"] == manifest["record_count"]
    lines = 0
    for shard in manifest["shards"]:
        blob = api.get(f"/namespaces/{namespace}/blobs/{shard['sha256']}")
        assert blob.status_code == 200
        assert hashlib.sha256(blob.content).hexdigest() == shard["sha256"] and len(blob.content) == shard["bytes"]
        for line in blob.content.decode().splitlines():
            record = json.loads(line)
            jsonschema.validate(record, RECORD_SCHEMA)
            assert set(record["fields"]) <= set(declared)
            lines += 1
    assert lines == manifest["record_count"]
    return manifest


def test_every_manifest_and_shard_the_server_writes_matches_the_published_schemas(server, api):
    assert api.post("/namespaces", json={"name": "shapes"}).status_code == 201
    assert api.post("/namespaces/shapes/projects", json={"name": "all"}).status_code == 201
    project = "/namespaces/shapes/projects/all/datasets"

    # CSV: inferred types, a label column, missing values.
    assert api.post(project, json={"name": "table", "task_type": "tabular_classification"}).status_code == 201
    csv = "id,length,colour,ok,species\n" + "".join(
        f"r{i},{4 + i / 10},{'red' if i % 3 else ''},{'true' if i % 2 else 'false'},{['setosa', 'virginica'][i % 2]}\n" for i in range(40))
    digest = upload(api, "shapes", csv.encode())
    created = api.post(project + "/table/versions",
                       json={"source": {"format": "csv", "blob": digest, "label_column": "species", "id_column": "id"}})
    assert created.status_code == 201, created.text
    check_version(api, "shapes", project + "/table", 1)

    # JSON Lines records with files, boxes, model and human annotations.
    assert api.post(project, json={"name": "boxes", "task_type": "object_detection"}).status_code == 201
    images = [png(8 + i, 6, seed=i) for i in range(3)]
    lines = []
    for index, image in enumerate(images):
        image_digest = upload(api, "shapes", image)
        lines.append(json.dumps({
            "id": f"img-{index}", "file": {"sha256": image_digest, "size": len(image), "media_type": "image/png", "path": f"img-{index}.png"},
            "fields": {"width": 8 + index, "height": 6},
            "annotations": [{"kind": "box", "label": "cat" if index else "dog", "box": {"x": 1, "y": 1, "width": 3, "height": 2},
                             "source": {"kind": "model", "model_version": "det/2", "score": 0.5}},
                            {"kind": "text", "text": "caption", "source": {"kind": "human", "user": "admin"}}]}))
    digest = upload(api, "shapes", ("\n".join(lines) + "\n").encode())
    assert api.post(project + "/boxes/versions", json={"source": {"format": "jsonl", "blob": digest}}).status_code == 201
    check_version(api, "shapes", project + "/boxes", 1)

    # An image folder zip, unpacked on the server.
    assert api.post(project, json={"name": "pets", "task_type": "image_classification"}).status_code == 201
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        for index in range(4):
            zipped.writestr(f"{['cats', 'dogs'][index % 2]}/{index}.png", png(5, 4, seed=10 + index))
    digest = upload(api, "shapes", archive.getvalue())
    assert api.post(project + "/pets/versions", json={"source": {"format": "image_folder_zip", "blob": digest}}).status_code == 201
    manifest = check_version(api, "shapes", project + "/pets", 1)
    assert manifest["schema"]["classes"] == ["cats", "dogs"]

    # A draft committed with a label changed to a class the version did not have.
    assert api.post(project + "/table/draft", json={}).status_code == 201
    relabel = {"annotations": [{"kind": "class", "label": "versicolor", "source": {"kind": "human"}}]}
    assert api.put(project + "/table/draft/records/r1/annotations", json=relabel).status_code == 200
    committed = api.post(project + "/table/draft/commit", json={"message": "relabel"})
    assert committed.status_code == 201, committed.text
    manifest = check_version(api, "shapes", project + "/table", 2)
    assert "versicolor" in manifest["schema"]["classes"]


@pytest.mark.parametrize("case", CASES["manifests"], ids=[case["name"] for case in CASES["manifests"]])
def test_manifest_cases_are_judged_by_the_schema_as_they_say(case):
    manifest = copy.deepcopy(CASES["manifest_base"])

    def walk(path):
        target = manifest
        for key in path[:-1]:
            target = target[key]
        return target, path[-1]

    for path, value in case.get("set", []):
        target, key = walk(path)
        target[key] = value
    for path in case.get("delete", []):
        target, key = walk(path)
        del target[key]
    assert is_valid(manifest, MANIFEST_SCHEMA) == case["schema_valid"]
    # Where the schema and the server differ, it is a rule the documentation lists as beyond the schema.
    if case["schema_valid"] != case["valid"]:
        assert case["schema_valid"] and not case["valid"]


def test_the_server_refuses_exactly_the_records_the_schema_refuses(server, api):
    assert api.post("/namespaces", json={"name": "rules"}).status_code == 201
    assert api.post("/namespaces/rules/projects", json={"name": "p"}).status_code == 201
    base = "/namespaces/rules/projects/p/datasets/cases"
    assert api.post("/namespaces/rules/projects/p/datasets", json={"name": "cases", "task_type": "object_detection"}).status_code == 201
    image = png(4, 3, seed=99)
    image_digest = upload(api, "rules", image)
    assert len(CASES["records"]) >= 20
    for case in CASES["records"]:
        text = json.dumps(case["record"]).replace('"$IMAGE_SIZE"', str(len(image))).replace("$IMAGE", image_digest)
        record = json.loads(text)
        assert is_valid(record, RECORD_SCHEMA) == case["valid"], f"the schema misjudges: {case['name']}"
        digest = upload(api, "rules", (text + "\n").encode())
        answer = api.post(base + "/versions", json={"source": {"format": "jsonl", "blob": digest}})
        if case["valid"]:
            assert answer.status_code == 201, f"{case['name']}: {answer.text}"
        else:
            assert answer.status_code == 400, f"the server took {case['name']}"
            assert answer.json()["error"]["code"] == "invalid_data", f"{case['name']}: {answer.text}"
