"""Annotated image layouts end to end: COCO and Pascal VOC folders pushed by the CLI and pulled back (also from one
format into the other), and exports — an image folder as a zip or a tar.gz, COCO and VOC folders as zips — that push
back to the same records."""

import json
import xml.etree.ElementTree as ElementTree
import zipfile
from pathlib import Path

from test_cli import run
from test_datasets import blob_files, png


def login(server, slipway_bin, tmp_path, dataset: str, task: str) -> Path:
    """Logs the CLI in as admin and creates the namespace, project and dataset of `dataset` (NS/PROJECT/DS)."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    assert run(slipway_bin, home, "login", "--url", server.url, "--username", "admin", "--password-stdin",
               stdin=server.admin_password + "\n").returncode == 0
    namespace, project, _ = dataset.split("/")
    for command in (["namespace", "create", namespace], ["project", "create", f"{namespace}/{project}"],
                    ["dataset", "create", dataset, "--task", task]):
        result = run(slipway_bin, home, *command)
        assert result.returncode == 0, result.stderr
    return home


# Three images (one in a sub-folder, one without boxes), two categories whose ids are not 1 and 2.
IMAGES = {"a.png": (24, 16, 1), "b.png": (30, 20, 2), "street/c.png": (12, 10, 3)}
BOXES = {  # file name -> [(label, [x, y, width, height])]
    "a.png": [("car", [1, 2, 10, 8]), ("person", [12.5, 0, 4, 15.25])],
    "b.png": [("person", [0, 0, 30, 20])],
    "street/c.png": [],
}


def write_coco(folder: Path) -> dict:
    """A COCO folder: images/ and annotations/instances_train.json. Returns the image bytes by file name."""
    data = {}
    for name, (width, height, seed) in IMAGES.items():
        data[name] = png(width, height, seed)
        (folder / "images" / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / "images" / name).write_bytes(data[name])
    categories = {"car": 5, "person": 9}
    images = [{"id": 100 + index, "file_name": name, "width": width, "height": height}
              for index, (name, (width, height, _)) in enumerate(IMAGES.items())]
    annotations = []
    for image in images:
        for label, bbox in BOXES[image["file_name"]]:
            annotations.append({"id": len(annotations) + 1, "image_id": image["id"], "category_id": categories[label],
                                "bbox": bbox, "area": bbox[2] * bbox[3], "iscrowd": 0, "segmentation": []})
    document = {"info": {"description": "test"}, "images": images, "annotations": annotations,
                "categories": [{"id": id, "name": name, "supercategory": "thing"} for name, id in categories.items()]}
    (folder / "annotations").mkdir(parents=True, exist_ok=True)
    (folder / "annotations" / "instances_train.json").write_text(json.dumps(document))
    return data


def coco_boxes(path: Path) -> dict:
    """File name -> sorted [(label, bbox)], and file name -> (width, height), as a COCO file says."""
    document = json.loads(path.read_text())
    names = {category["id"]: category["name"] for category in document["categories"]}
    files = {image["id"]: image["file_name"] for image in document["images"]}
    boxes = {name: [] for name in files.values()}
    for annotation in document["annotations"]:
        boxes[files[annotation["image_id"]]].append((names[annotation["category_id"]], [float(v) for v in annotation["bbox"]]))
    sizes = {image["file_name"]: (image["width"], image["height"]) for image in document["images"]}
    return {name: sorted(found) for name, found in boxes.items()}, sizes


def voc_boxes(folder: Path) -> dict:
    """File name -> sorted [(label, [x, y, width, height])], and file name -> (width, height), as VOC files say."""
    boxes, sizes = {}, {}
    for path in sorted((folder / "Annotations").rglob("*.xml")):
        root = ElementTree.parse(path).getroot()
        name = root.findtext("filename")
        sizes[name] = (int(root.findtext("size/width")), int(root.findtext("size/height")))
        found = []
        for element in root.findall("object"):
            corners = [float(element.findtext(f"bndbox/{key}")) for key in ("xmin", "ymin", "xmax", "ymax")]
            found.append((element.findtext("name"), [corners[0], corners[1], corners[2] - corners[0], corners[3] - corners[1]]))
        boxes[name] = sorted(found)
    return boxes, sizes


def expected_boxes() -> dict:
    return {name: sorted((label, [float(v) for v in bbox]) for label, bbox in found) for name, found in BOXES.items()}


def diff(slipway_bin, home, dataset, before, after) -> dict:
    result = run(slipway_bin, home, "dataset", "diff", dataset, str(before), str(after), "--output", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_coco_folder_pushes_pulls_back_as_coco_and_as_voc(server, slipway_bin, tmp_path, api):
    home = login(server, slipway_bin, tmp_path, "vision/street/objects", "object_detection")
    folder = tmp_path / "coco"
    images = write_coco(folder)

    pushed = run(slipway_bin, home, "dataset", "push", "vision/street/objects", str(folder), "--output", "json")
    assert pushed.returncode == 0, pushed.stderr
    assert "a COCO folder, 3 images, 3 boxes" in pushed.stderr
    detail = json.loads(pushed.stdout)
    assert detail["manifest"]["record_count"] == 3
    assert detail["manifest"]["schema"]["classes"] == ["car", "person"]
    assert detail["manifest"]["statistics"]["box_counts"] == {"car": 1, "person": 2}
    records = api.get("/namespaces/vision/projects/street/datasets/objects/versions/1/records?limit=10").json()["items"]
    by_id = {record["id"]: record for record in records}
    assert set(by_id) == {"a", "b", "street/c"}
    assert by_id["a"]["fields"] == {"width": 24, "height": 16}
    assert by_id["a"]["file"]["path"] == "a.png"
    assert [(a["kind"], a["label"], a["source"]["kind"]) for a in by_id["a"]["annotations"]] == [
        ("box", "car", "import"), ("box", "person", "import")]
    assert by_id["a"]["annotations"][1]["box"] == {"x": 12.5, "y": 0, "width": 4, "height": 15.25}

    # Pushing the unchanged folder again uploads nothing and stores nothing new.
    before = blob_files(server)
    again = run(slipway_bin, home, "dataset", "push", "vision/street/objects", str(folder), "--format", "coco")
    assert again.returncode == 0, again.stderr
    assert "all 3 images are already on the server, nothing to upload" in again.stderr
    assert "the record list: already on the server" in again.stderr
    assert blob_files(server) == before

    # Pull as COCO: the same image bytes, boxes, labels and sizes.
    pulled = tmp_path / "pulled-coco"
    result = run(slipway_bin, home, "dataset", "pull", "vision/street/objects@1", str(pulled), "--layout", "coco")
    assert result.returncode == 0, result.stderr
    for name, data in images.items():
        assert (pulled / "images" / name).read_bytes() == data
    boxes, sizes = coco_boxes(pulled / "annotations.json")
    assert boxes == expected_boxes()
    assert sizes == {name: (width, height) for name, (width, height, _) in IMAGES.items()}
    assert not (pulled / "records.jsonl").exists()
    again = run(slipway_bin, home, "dataset", "pull", "vision/street/objects@1", str(pulled), "--layout", "coco")
    assert again.returncode == 0 and "downloading" not in again.stderr, "files already present are not fetched again"

    # Pull as Pascal VOC: one XML per image, the same boxes.
    voc = tmp_path / "pulled-voc"
    result = run(slipway_bin, home, "dataset", "pull", "vision/street/objects@1", str(voc), "--layout", "voc")
    assert result.returncode == 0, result.stderr
    for name, data in images.items():
        assert (voc / "JPEGImages" / name).read_bytes() == data
    assert (voc / "Annotations" / "street" / "c.xml").is_file()
    boxes, sizes = voc_boxes(voc)
    assert boxes == expected_boxes()
    assert sizes == {name: (width, height) for name, (width, height, _) in IMAGES.items()}

    # Both pulled folders push back to the same records.
    for source in (pulled, voc):
        result = run(slipway_bin, home, "dataset", "push", "vision/street/objects", str(source), "--output", "json")
        assert result.returncode == 0, result.stderr
        number = json.loads(result.stdout)["version"]["number"]
        changes = diff(slipway_bin, home, "vision/street/objects", 1, number)
        assert (changes["added"], changes["removed"], changes["changed"], changes["unchanged"]) == (0, 0, 0, 3), source


def test_voc_folder_pushes_and_pulls_back_the_same_boxes(server, slipway_bin, tmp_path):
    home = login(server, slipway_bin, tmp_path, "vision/roads/signs", "object_detection")
    folder = tmp_path / "voc"
    (folder / "Annotations").mkdir(parents=True)
    (folder / "JPEGImages").mkdir()
    (folder / "ImageSets" / "Main").mkdir(parents=True)
    images = {}
    objects = {  # file -> [(label, xmin, ymin, xmax, ymax)]
        "000001.png": [("stop & go", 1, 2, 11, 12), ("yield", 3.5, 4, 9.75, 8)],
        "000002.png": [("stop & go", 0, 0, 20, 10)],
    }
    for index, (name, found) in enumerate(objects.items()):
        images[name] = png(20 + index, 10 + index, 10 + index)
        (folder / "JPEGImages" / name).write_bytes(images[name])
        parts = "".join(
            f"<object><name>{label.replace('&', '&amp;')}</name><pose>Left</pose><difficult>{index}</difficult>"
            f"<bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>"
            for label, x0, y0, x1, y1 in found)
        (folder / "Annotations" / name.replace(".png", ".xml")).write_text(
            f"<annotation><folder>VOC2012</folder><filename>{name}</filename>"
            f"<size><width>{20 + index}</width><height>{10 + index}</height><depth>3</depth></size>{parts}</annotation>")
    (folder / "ImageSets" / "Main" / "train.txt").write_text("000001\n000002\n")

    pushed = run(slipway_bin, home, "dataset", "push", "vision/roads/signs", str(folder), "--output", "json")
    assert pushed.returncode == 0, pushed.stderr
    assert "a Pascal VOC folder, 2 images, 3 boxes" in pushed.stderr
    detail = json.loads(pushed.stdout)
    assert detail["manifest"]["record_count"] == 2
    assert detail["manifest"]["schema"]["classes"] == ["stop & go", "yield"]

    pulled = tmp_path / "pulled"
    result = run(slipway_bin, home, "dataset", "pull", "vision/roads/signs", str(pulled), "--layout", "voc")
    assert result.returncode == 0, result.stderr
    for name, data in images.items():
        assert (pulled / "JPEGImages" / name).read_bytes() == data
    boxes, sizes = voc_boxes(pulled)
    assert boxes == {name: sorted((label, [x0, y0, x1 - x0, y1 - y0]) for label, x0, y0, x1, y1 in found)
                     for name, found in objects.items()}
    assert sizes == {"000001.png": (20, 10), "000002.png": (21, 11)}

    # Forced as VOC, the pulled folder is the same version again.
    result = run(slipway_bin, home, "dataset", "push", "vision/roads/signs", str(pulled), "--format", "voc")
    assert result.returncode == 0, result.stderr
    changes = diff(slipway_bin, home, "vision/roads/signs", 1, 2)
    assert (changes["added"], changes["removed"], changes["changed"]) == (0, 0, 0)


def test_image_folder_exported_as_a_zip_pushes_back_unchanged(server, slipway_bin, tmp_path):
    home = login(server, slipway_bin, tmp_path, "zoo/pets/animals", "image_classification")
    folder = tmp_path / "animals"
    images = {}
    for label, count in (("cats", 3), ("dogs", 2)):
        (folder / label).mkdir(parents=True)
        for index in range(count):
            images[f"{label}/{index:03}.png"] = png(8 + index, 6 + index, seed=index * 7 + len(label))
            (folder / label / f"{index:03}.png").write_bytes(images[f"{label}/{index:03}.png"])
    (folder / "bird.png").write_bytes(png(5, 5, seed=99))  # unlabeled
    images["bird.png"] = (folder / "bird.png").read_bytes()
    assert run(slipway_bin, home, "dataset", "push", "zoo/pets/animals", str(folder)).returncode == 0

    archive = tmp_path / "animals.zip"
    exported = run(slipway_bin, home, "dataset", "export", "zoo/pets/animals@1", "--format", "image_folder_zip", "-o", str(archive))
    assert exported.returncode == 0, exported.stderr
    with zipfile.ZipFile(archive) as opened:
        names = {name for name in opened.namelist() if not name.endswith("/")}
        assert names == set(images)
        assert all(opened.read(name) == data for name, data in images.items())

    pushed = run(slipway_bin, home, "dataset", "push", "zoo/pets/animals", str(archive), "--output", "json")
    assert pushed.returncode == 0, pushed.stderr
    assert json.loads(pushed.stdout)["version"]["number"] == 2
    changes = diff(slipway_bin, home, "zoo/pets/animals", 1, 2)
    assert (changes["added"], changes["removed"], changes["changed"], changes["unchanged"]) == (0, 0, 0, 6)

    pulled = tmp_path / "pulled"
    result = run(slipway_bin, home, "dataset", "pull", "zoo/pets/animals@2", str(pulled), "--layout", "image_folder")
    assert result.returncode == 0, result.stderr
    assert {str(p.relative_to(pulled)) for p in pulled.rglob("*") if p.is_file()} == set(images)


def test_image_folder_exported_as_a_tar_gz_pushes_back_unchanged(server, slipway_bin, tmp_path):
    import gzip
    import tarfile

    home = login(server, slipway_bin, tmp_path, "zoo/pets/animals", "image_classification")
    folder = tmp_path / "animals"
    images = {}
    for label, count in (("cats", 2), ("dogs", 2)):
        (folder / label).mkdir(parents=True)
        for index in range(count):
            images[f"{label}/{index:03}.png"] = png(9 + index, 7, seed=index * 5 + len(label))
            (folder / label / f"{index:03}.png").write_bytes(images[f"{label}/{index:03}.png"])
    # A name over 100 bytes goes in a pax header.
    long_name = "cats/" + "a-very-long-file-name-" * 5 + "x.png"
    images[long_name] = png(6, 6, seed=42)
    (folder / long_name).write_bytes(images[long_name])
    assert run(slipway_bin, home, "dataset", "push", "zoo/pets/animals", str(folder)).returncode == 0

    archive = tmp_path / "animals.tar.gz"
    exported = run(slipway_bin, home, "dataset", "export", "zoo/pets/animals@1", "--format", "tar_gz", "-o", str(archive))
    assert exported.returncode == 0, exported.stderr
    assert archive.read_bytes()[:2] == b"\x1f\x8b", "gzip-compressed"
    gzip.decompress(archive.read_bytes())  # the gzip stream is complete and its checksum right
    with tarfile.open(archive, "r:gz") as opened:
        members = [member for member in opened.getmembers() if member.isfile()]
        assert {member.name for member in members} == set(images)
        assert all(opened.extractfile(member).read() == images[member.name] for member in members)
        assert [member.name for member in members] == sorted(member.name for member in members), "a stable order"

    pushed = run(slipway_bin, home, "dataset", "push", "zoo/pets/animals", str(archive), "--output", "json")
    assert pushed.returncode == 0, pushed.stderr
    assert json.loads(pushed.stdout)["version"]["number"] == 2
    changes = diff(slipway_bin, home, "zoo/pets/animals", 1, 2)
    assert (changes["added"], changes["removed"], changes["changed"], changes["unchanged"]) == (0, 0, 0, 5)
    # The same version exports to the same bytes.
    again = tmp_path / "again.tar.gz"
    assert run(slipway_bin, home, "dataset", "export", "zoo/pets/animals@2", "--format", "tar_gz", "-o", str(again)).returncode == 0
    assert gzip.decompress(again.read_bytes()) == gzip.decompress(archive.read_bytes())


def test_coco_and_voc_exports_are_zips_that_push_back_to_the_same_boxes(server, slipway_bin, tmp_path):
    home = login(server, slipway_bin, tmp_path, "vision/street/objects", "object_detection")
    folder = tmp_path / "coco"
    images = write_coco(folder)
    assert run(slipway_bin, home, "dataset", "push", "vision/street/objects", str(folder)).returncode == 0

    for layout, image_folder in (("coco", "images"), ("voc", "JPEGImages")):
        archive = tmp_path / f"objects-{layout}.zip"
        exported = run(slipway_bin, home, "dataset", "export", "vision/street/objects@1", "--format", layout, "-o", str(archive))
        assert exported.returncode == 0, exported.stderr
        unpacked = tmp_path / f"unpacked-{layout}"
        with zipfile.ZipFile(archive) as opened:
            opened.extractall(unpacked)
        for name, data in images.items():
            assert (unpacked / image_folder / name).read_bytes() == data
        boxes, sizes = coco_boxes(unpacked / "annotations.json") if layout == "coco" else voc_boxes(unpacked)
        assert boxes == expected_boxes()
        assert sizes == {name: (width, height) for name, (width, height, _) in IMAGES.items()}
        pushed = run(slipway_bin, home, "dataset", "push", "vision/street/objects", str(unpacked), "--output", "json")
        assert pushed.returncode == 0, pushed.stderr
        number = json.loads(pushed.stdout)["version"]["number"]
        changes = diff(slipway_bin, home, "vision/street/objects", 1, number)
        assert (changes["added"], changes["removed"], changes["changed"], changes["unchanged"]) == (0, 0, 0, 3), layout

    unknown = run(slipway_bin, home, "dataset", "export", "vision/street/objects@1", "--format", "rar", "-o", str(tmp_path / "x"))
    assert unknown.returncode != 0 and "tar_gz" in unknown.stderr and "coco" in unknown.stderr


def test_push_names_what_is_wrong_with_an_annotated_folder(server, slipway_bin, tmp_path):
    home = login(server, slipway_bin, tmp_path, "vision/street/objects", "object_detection")
    folder = tmp_path / "coco"
    write_coco(folder)
    (folder / "images" / "b.png").unlink()
    missing = run(slipway_bin, home, "dataset", "push", "vision/street/objects", str(folder))
    assert missing.returncode != 0
    assert "image b.png, named by annotations/instances_train.json, is not in" in missing.stderr

    document = json.loads((folder / "annotations" / "instances_train.json").read_text())
    document["annotations"][0]["category_id"] = 77
    (folder / "annotations" / "instances_train.json").write_text(json.dumps(document))
    unknown = run(slipway_bin, home, "dataset", "push", "vision/street/objects", str(folder))
    assert unknown.returncode != 0
    assert "annotation 1 names category 77, which is not in categories" in unknown.stderr

    voc = tmp_path / "voc"
    (voc / "Annotations").mkdir(parents=True)
    (voc / "JPEGImages").mkdir()
    (voc / "Annotations" / "1.xml").write_text("<annotation><filename>1.png</filename><object><name>x</name>"
                                               "<bndbox><xmin>5</xmin><ymin>0</ymin><xmax>2</xmax><ymax>1</ymax></bndbox>"
                                               "</object></annotation>")
    broken = run(slipway_bin, home, "dataset", "push", "vision/street/objects", str(voc))
    assert broken.returncode != 0
    assert "Annotations/1.xml: object 1 (x): xmax (2) is less than xmin (5)" in broken.stderr

    wrong = run(slipway_bin, home, "dataset", "push", "vision/street/objects", str(voc), "--format", "csv")
    assert wrong.returncode != 0 and "image_folder, coco or voc" in wrong.stderr
    assert blob_files(server) == [], "nothing was uploaded"
