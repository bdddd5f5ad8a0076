"""Datasets end to end: the CLI pushes files to a real server, versions are browsed and exported, and
exported records conform to the documented JSON Schema."""

import csv
import hashlib
import json
import random
from pathlib import Path

import jsonschema
import requests

from test_cli import run

ROOT = Path(__file__).resolve().parent.parent
RECORD_SCHEMA = json.loads((ROOT / "docs" / "dataset-record.schema.json").read_text())


def blob_files(server):
    folder = server.data_dir / "blobs" / "sha256"
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def write_table(path: Path, rows: int):
    rng = random.Random(7)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sample", "length", "width", "count", "species"])
        for index in range(rows):
            writer.writerow([f"s{index}", round(rng.uniform(4, 8), 2), round(rng.uniform(2, 4.5), 2), rng.randint(0, 9),
                             rng.choice(["setosa", "versicolor", "virginica"])])


def test_cli_pushes_a_csv_and_a_repush_uploads_and_writes_nothing(server, slipway_bin, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    assert run(slipway_bin, home, "login", "--url", server.url, "--username", "admin", "--password-stdin",
               stdin=server.admin_password + "\n").returncode == 0
    assert run(slipway_bin, home, "namespace", "create", "team").returncode == 0
    assert run(slipway_bin, home, "project", "create", "team/flowers").returncode == 0
    created = run(slipway_bin, home, "dataset", "create", "team/flowers/iris", "--task", "tabular_classification")
    assert created.returncode == 0, created.stderr

    table = tmp_path / "iris.csv"
    write_table(table, 3000)
    first = run(slipway_bin, home, "dataset", "push", "team/flowers/iris", str(table), "--label-column", "species",
                "--id-column", "sample", "-m", "first", "--output", "json")
    assert first.returncode == 0, first.stderr
    detail = json.loads(first.stdout)
    assert detail["version"]["number"] == 1
    assert detail["manifest"]["record_count"] == 3000
    types = {field["name"]: field["type"] for field in detail["manifest"]["schema"]["fields"]}
    assert types == {"length": "number", "width": "number", "count": "integer"}
    assert sum(detail["manifest"]["statistics"]["class_counts"].values()) == 3000

    before = blob_files(server)
    again = run(slipway_bin, home, "dataset", "push", "team/flowers/iris", str(table), "--label-column", "species",
                "--id-column", "sample", "-m", "unchanged")
    assert again.returncode == 0, again.stderr
    assert "nothing to upload" in again.stderr
    assert blob_files(server) == before, "re-pushing unchanged data writes no blob"

    versions = run(slipway_bin, home, "dataset", "versions", "team/flowers/iris", "--output", "json")
    assert [v["number"] for v in json.loads(versions.stdout)] == [2, 1]

    exported = tmp_path / "export.csv"
    result = run(slipway_bin, home, "dataset", "export", "team/flowers/iris@1", "--format", "csv", "-o", str(exported))
    assert result.returncode == 0, result.stderr
    original = list(csv.DictReader(table.open()))
    back = list(csv.DictReader(exported.open()))
    assert [row["id"] for row in back] == [row["sample"] for row in original]
    assert [row["label"] for row in back] == [row["species"] for row in original]
    assert [float(row["length"]) for row in back] == [float(row["length"]) for row in original]
    assert [int(row["count"]) for row in back] == [int(row["count"]) for row in original]

    jsonl = tmp_path / "export.jsonl"
    assert run(slipway_bin, home, "dataset", "export", "team/flowers/iris@latest", "-o", str(jsonl)).returncode == 0
    lines = jsonl.read_text().splitlines()
    assert len(lines) == 3000
    for line in lines[:200]:
        jsonschema.validate(json.loads(line), RECORD_SCHEMA)

    bad = run(slipway_bin, home, "dataset", "push", "team/flowers/iris", str(table), "--type", "species=integer")
    assert bad.returncode != 0
    assert "species" in bad.stderr


def test_records_with_files_and_boxes_round_trip_and_match_the_schema(server, api):
    assert api.post("/namespaces", json={"name": "vision"}).status_code == 201
    assert api.post("/namespaces/vision/projects", json={"name": "detect"}).status_code == 201
    base = "/namespaces/vision/projects/detect/datasets"
    assert api.post(base, json={"name": "boxes", "task_type": "object_detection"}).status_code == 201

    image = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    image_digest = hashlib.sha256(image).hexdigest()
    assert api.put(f"/namespaces/vision/blobs/{image_digest}", data=image).status_code == 201
    record = {"id": "img-1", "file": {"sha256": image_digest, "size": len(image), "media_type": "image/png", "path": "cats/1.png"},
              "fields": {"split": "train"},
              "annotations": [{"kind": "box", "label": "cat", "box": {"x": 1, "y": 2, "width": 30, "height": 40},
                               "source": {"kind": "model", "model_version": "detector/3", "score": 0.75}},
                              {"kind": "class", "label": "cat", "source": {"kind": "human", "user": "admin"}}]}
    lines = (json.dumps(record) + "\n").encode()
    lines_digest = hashlib.sha256(lines).hexdigest()
    assert api.put(f"/namespaces/vision/blobs/{lines_digest}", data=lines).status_code == 201
    created = api.post(base + "/boxes/versions", json={"source": {"format": "jsonl", "blob": lines_digest}})
    assert created.status_code == 201, created.text
    statistics = created.json()["manifest"]["statistics"]
    assert statistics["box_counts"] == {"cat": 1} and statistics["files"] == 1

    exported = requests.get(api.base_url + "/api/v1" + base + "/boxes/versions/1/export?format=jsonl",
                            headers={"Authorization": f"Bearer {api.token}"}, timeout=30)
    assert exported.status_code == 200
    back = json.loads(exported.text.splitlines()[0])
    jsonschema.validate(back, RECORD_SCHEMA)
    assert back["annotations"][0]["box"] == {"x": 1, "y": 2, "width": 30, "height": 40}
    assert back["file"]["sha256"] == image_digest
    assert requests.get(api.base_url + f"/api/v1/namespaces/vision/blobs/{image_digest}",
                        headers={"Authorization": f"Bearer {api.token}"}, timeout=30).content == image

    # A record pointing at a file the namespace never uploaded is refused.
    orphan = dict(record, id="img-2", file=dict(record["file"], sha256="0" * 64))
    orphan_lines = (json.dumps(orphan) + "\n").encode()
    orphan_digest = hashlib.sha256(orphan_lines).hexdigest()
    assert api.put(f"/namespaces/vision/blobs/{orphan_digest}", data=orphan_lines).status_code == 201
    refused = api.post(base + "/boxes/versions", json={"source": {"format": "jsonl", "blob": orphan_digest}})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "blob_missing"


def png(width: int, height: int, seed: int) -> bytes:
    """A valid RGB PNG of the given size, made here with zlib (no imaging library needed)."""
    import struct
    import zlib
    rng = random.Random(seed)
    raw = b"".join(b"\x00" + bytes(rng.randrange(256) for _ in range(width * 3)) for _ in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_cli_pushes_an_image_folder_with_classes_sizes_and_deduplicated_uploads(server, slipway_bin, tmp_path, api):
    home = tmp_path / "home"
    home.mkdir()
    assert run(slipway_bin, home, "login", "--url", server.url, "--username", "admin", "--password-stdin",
               stdin=server.admin_password + "\n").returncode == 0
    for command in (["namespace", "create", "zoo"], ["project", "create", "zoo/pets"],
                    ["dataset", "create", "zoo/pets/animals", "--task", "image_classification"]):
        assert run(slipway_bin, home, *command).returncode == 0
    folder = tmp_path / "animals"
    images = {}
    for label, count in (("cats", 3), ("dogs", 2)):
        (folder / label).mkdir(parents=True)
        for index in range(count):
            data = png(8 + index, 6 + index, seed=hash((label, index)) % 1000)
            (folder / label / f"{index:03}.png").write_bytes(data)
            images[f"{label}/{index:03}"] = data
    (folder / "dogs" / "same-as-cat.png").write_bytes(images["cats/000"])  # identical bytes, stored once
    (folder / "README.txt").write_text("not an image")

    pushed = run(slipway_bin, home, "dataset", "push", "zoo/pets/animals", str(folder), "--output", "json")
    assert pushed.returncode == 0, pushed.stderr
    detail = json.loads(pushed.stdout)
    assert detail["manifest"]["record_count"] == 6
    statistics = detail["manifest"]["statistics"]
    assert statistics["class_counts"] == {"cats": 3, "dogs": 3}
    assert statistics["files"] == 6
    assert statistics["fields"]["width"]["minimum"] == 8 and statistics["fields"]["width"]["maximum"] == 10
    assert "skipping 1 files" in pushed.stderr

    before = blob_files(server)
    assert len([name for name in before if name in {hashlib.sha256(d).hexdigest() for d in images.values()}]) == 5
    again = run(slipway_bin, home, "dataset", "push", "zoo/pets/animals", str(folder))
    assert again.returncode == 0, again.stderr
    assert "nothing to upload" in again.stderr
    assert blob_files(server) == before

    records = api.get("/namespaces/zoo/projects/pets/datasets/animals/versions/1/records?limit=10").json()["items"]
    cat = next(r for r in records if r["id"] == "cats/001")
    assert cat["fields"] == {"width": 9, "height": 7}
    assert cat["annotations"][0]["label"] == "cats"
    jsonschema.validate(cat, RECORD_SCHEMA)
    blob = api.get(f"/namespaces/zoo/blobs/{cat['file']['sha256']}")
    assert blob.content == images["cats/001"]

    # Pull it into a folder a training job reads: records plus every file at its original path.
    target = tmp_path / "pulled"
    pulled = run(slipway_bin, home, "dataset", "pull", "zoo/pets/animals@1", str(target))
    assert pulled.returncode == 0, pulled.stderr
    assert len((target / "records.jsonl").read_text().splitlines()) == 6
    for name, data in images.items():
        assert (target / "files" / f"{name}.png").read_bytes() == data
    assert (target / "files" / "dogs" / "same-as-cat.png").read_bytes() == images["cats/000"]
    again = run(slipway_bin, home, "dataset", "pull", "zoo/pets/animals@1", str(target))
    assert again.returncode == 0 and "downloading" not in again.stderr, "files already present are not fetched again"


def test_cli_manages_project_members_and_dataset_visibility(server, api, slipway_bin):
    import os
    import subprocess

    from conftest import login_token

    def cli(*args):
        environment = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
        environment.update({"SLIPWAY_URL": server.url, "SLIPWAY_TOKEN": api.token, "HOME": "/nonexistent"})
        return subprocess.run([slipway_bin, *args], capture_output=True, text=True, env=environment, timeout=60)

    assert api.post("/namespaces", json={"name": "lab"}).status_code == 201
    assert api.post("/namespaces/lab/projects", json={"name": "faces"}).status_code == 201
    tokens = {}
    for user in ("alice", "bob"):
        assert api.post("/users", json={"username": user, "password": f"password-{user}"}).status_code == 201
        assert api.put(f"/namespaces/lab/members/{user}", json={"role": "viewer"}).status_code == 200
        tokens[user] = login_token(server.url, user, f"password-{user}")
    created = cli("dataset", "create", "lab/faces/portraits", "--task", "unlabeled")
    assert created.returncode == 0, created.stderr
    url = server.url + "/api/v1/namespaces/lab/projects/faces/datasets/portraits"

    def status(user):
        return requests.get(url, headers={"Authorization": f"Bearer {tokens[user]}"}, timeout=30).status_code

    assert (status("alice"), status("bob")) == (404, 404), "private: neither is in the project"
    added = cli("project", "member", "add", "lab/faces", "alice", "--role", "viewer")
    assert added.returncode == 0, added.stderr
    assert (status("alice"), status("bob")) == (200, 404)
    members = cli("project", "member", "list", "lab/faces")
    assert "alice" in members.stdout and "viewer" in members.stdout

    shown = cli("dataset", "visibility", "lab/faces/portraits")
    assert shown.returncode == 0 and "private" in shown.stdout
    widened = cli("dataset", "visibility", "lab/faces/portraits", "namespace")
    assert widened.returncode == 0, widened.stderr
    assert (status("alice"), status("bob")) == (200, 200)
    bad = cli("dataset", "visibility", "lab/faces/portraits", "everyone")
    assert bad.returncode != 0 and "private, namespace or public" in bad.stderr

    assert cli("dataset", "visibility", "lab/faces/portraits", "private").returncode == 0
    removed = cli("project", "member", "remove", "lab/faces", "alice")
    assert removed.returncode == 0, removed.stderr
    assert (status("alice"), status("bob")) == (404, 404)
    outsider = cli("project", "member", "add", "lab/faces", "nobody-here")
    assert outsider.returncode != 0 and "does not exist" in outsider.stderr
