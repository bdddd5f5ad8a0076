#!/usr/bin/env python3
"""Data import benchmark: prints figures, asserts nothing.

Measures, against a real `slipway serve` on this machine (SQLite, local disk):
  * pushing a CSV of --rows rows (upload + import) beside a raw copy of the same bytes: throughput and ratio;
  * pushing an image folder of --images generated images (hash, upload, import) beside a raw copy of the folder;
  * pushing the same images as a zip and as a tar.gz archive (upload, then checked and unpacked on the
    server) beside a raw copy of the archive;
  * the server's peak memory (VmHWM, reset before each import) during each import, and the CLI's;
  * bytes and blobs written by re-pushing everything unchanged (the target is 0).

Defaults are the issue's sizes: a 1M-row CSV and 2000 decodable PNGs of about 512 KiB (1 GiB).
Usage: python3 benchmarks/data_import.py [--rows 1000000] [--images 2000] [--image-kib 512] [--build release|debug]
"""

import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def tree_bytes(folder: Path):
    files = [p for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def reset_peak_rss(pid):
    """Makes VmHWM start again from the current resident size (Linux: clear_refs 5)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        pass


def timed(label, command, env):
    """Runs a CLI command; returns its wall time and its own peak memory in MiB."""
    started = time.monotonic()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = process.communicate()
    elapsed = time.monotonic() - started
    if process.returncode != 0:
        sys.exit(f"{label} failed:\n{stdout}\n{stderr}")
    return elapsed


def client_peak_mib():
    import resource
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def png_image(width: int, height: int) -> bytes:
    """A decodable RGB PNG of random pixels: a real header (IHDR with the size) and stored (level 0) zlib data, so
    making a gigabyte of them is cheap and, like photos, they do not compress."""
    import struct
    import zlib

    raw = b"".join(b"\x00" + os.urandom(width * 3) for _ in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 0)) + chunk(b"IEND", b""))


def raw_copy_seconds(source: Path, target: Path):
    started = time.monotonic()
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copyfile(source, target)
    os.sync()
    return time.monotonic() - started


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--image-kib", type=int, default=512)
    parser.add_argument("--build", choices=["release", "debug"], default="release")
    parser.add_argument("--binary", help="Use this slipway binary instead of building one (its resources folder beside it)")
    args = parser.parse_args()

    if args.binary:
        binary = args.binary
    else:
        subprocess.run(["swift", "build", "-c", args.build, "--product", "slipway"], cwd=ROOT, check=True)
        binary = subprocess.run(["swift", "build", "-c", args.build, "--show-bin-path"], cwd=ROOT, check=True,
                                capture_output=True, text=True).stdout.strip() + "/slipway"

    work = Path(tempfile.mkdtemp(prefix="slipway-bench-"))
    data_dir, home = work / "server", work / "home"
    home.mkdir()
    port = free_port()
    env = {**os.environ, "SLIPWAY_ADMIN_PASSWORD": "benchmark-password", "HOME": str(home)}
    server = subprocess.Popen([binary, "serve", "--port", str(port), "--data-dir", str(data_dir)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        cli = lambda *a, **k: subprocess.run([binary, *a], env=env, capture_output=True, text=True, **k)
        assert cli("login", "--url", url, "--username", "admin", "--password-stdin", input="benchmark-password\n").returncode == 0
        for command in (["namespace", "create", "bench"], ["project", "create", "bench/p"],
                        ["dataset", "create", "bench/p/table", "--task", "tabular_classification"],
                        ["dataset", "create", "bench/p/images", "--task", "image_classification"]):
            assert cli(*command).returncode == 0, command

        # A table of --rows rows.
        table = work / "table.csv"
        rng = random.Random(1)
        with table.open("w") as out:
            out.write("id,a,b,c,d,label\n")
            for i in range(args.rows):
                out.write(f"r{i},{rng.random():.6f},{rng.random():.6f},{rng.randint(0, 1000)},{rng.random() * 100:.3f},c{i % 10}\n")
        size = table.stat().st_size
        copy = raw_copy_seconds(table, work / "table-copy.csv")
        reset_peak_rss(server.pid)
        push = timed("CSV push", [binary, "dataset", "push", "bench/p/table", str(table), "--id-column", "id", "--label-column", "label"], env)
        csv_rss = peak_rss_mib(server.pid)

        # An image folder of --images decodable PNGs of about --image-kib KiB each, in 10 classes, of varied sizes.
        folder = work / "images"
        sizes = {}
        for i in range(args.images):
            label_dir = folder / f"class{i % 10}"
            label_dir.mkdir(parents=True, exist_ok=True)
            width = 200 + i % 113
            height = max(1, args.image_kib * 1024 // (width * 3 + 1))
            sizes[f"class{i % 10}/{i:06}"] = (width, height)
            (label_dir / f"{i:06}.png").write_bytes(png_image(width, height))
        _, folder_bytes = tree_bytes(folder)
        folder_copy = raw_copy_seconds(folder, work / "images-copy")
        reset_peak_rss(server.pid)
        image_push = timed("image push", [binary, "dataset", "push", "bench/p/images", str(folder)], env)
        image_rss = peak_rss_mib(server.pid)

        # The same images as archives, unpacked on the server.
        archives = {}
        subprocess.run(["zip", "-q", "-r", "-0", str(work / "images.zip"), "."], cwd=folder, check=True)
        subprocess.run(["tar", "-czf", str(work / "images.tar.gz"), "-C", str(folder), "."], check=True)
        for name, archive in (("zip", work / "images.zip"), ("tar.gz", work / "images.tar.gz")):
            dataset = "bench/p/images-" + name.replace(".", "")
            assert cli("dataset", "create", dataset, "--task", "image_classification").returncode == 0
            archive_copy = raw_copy_seconds(archive, work / ("copy-" + archive.name))
            reset_peak_rss(server.pid)
            seconds = timed(f"{name} push", [binary, "dataset", "push", dataset, str(archive)], env)
            archives[name] = (archive, archive_copy, seconds, peak_rss_mib(server.pid), dataset)

        # The server read each image's real width and height from its header.
        import json as json_module
        detail = json_module.loads(cli("dataset", "show", "bench/p/images", "--output", "json").stdout)
        width_stats = detail["manifest"]["statistics"]["fields"]["width"]
        sizes_read = (width_stats["minimum"], width_stats["maximum"]) == (
            min(w for w, _ in sizes.values()), max(w for w, _ in sizes.values()))

        blobs = data_dir / "blobs"
        before = tree_bytes(blobs)
        repush_table = timed("CSV re-push", [binary, "dataset", "push", "bench/p/table", str(table), "--id-column", "id", "--label-column", "label"], env)
        repush_images = timed("image re-push", [binary, "dataset", "push", "bench/p/images", str(folder)], env)
        repush_archives = sum(timed(f"{name} re-push", [binary, "dataset", "push", entry[4], str(entry[0])], env)
                              for name, entry in archives.items())
        after = tree_bytes(blobs)
        client_rss = client_peak_mib()

        mib = 1024 * 1024
        build = f"binary {binary}" if args.binary else f"{args.build} build"
        print(f"\nSlipway data import benchmark ({build}, {os.cpu_count()} cores)")
        print(f"CSV, {args.rows:,} rows, {size / mib:.1f} MiB:")
        print(f"  raw copy      {copy:8.2f} s  {size / mib / copy:9.1f} MiB/s")
        print(f"  slipway push  {push:8.2f} s  {size / mib / push:9.1f} MiB/s  {args.rows / push:12,.0f} rows/s  ratio {push / copy:6.1f}x the copy time")
        print(f"  server peak memory during the import: {csv_rss:.0f} MiB")
        print(f"Image folder, {args.images:,} PNG files, {folder_bytes / mib:.1f} MiB (widths and heights read from the headers: "
              f"{'yes' if sizes_read else 'NO'}):")
        print(f"  raw copy      {folder_copy:8.2f} s  {folder_bytes / mib / folder_copy:9.1f} MiB/s")
        print(f"  slipway push  {image_push:8.2f} s  {folder_bytes / mib / image_push:9.1f} MiB/s  ratio {image_push / folder_copy:6.1f}x the copy time")
        print(f"  server peak memory during the import: {image_rss:.0f} MiB")
        for name, (archive, archive_copy, seconds, rss, _) in archives.items():
            archive_bytes = archive.stat().st_size
            print(f"Image folder as {name}, {archive_bytes / mib:.1f} MiB (unpacked on the server):")
            print(f"  raw copy      {archive_copy:8.2f} s  {archive_bytes / mib / archive_copy:9.1f} MiB/s")
            print(f"  slipway push  {seconds:8.2f} s  {archive_bytes / mib / seconds:9.1f} MiB/s  ratio {seconds / archive_copy:6.1f}x the copy time")
            print(f"  server peak memory during the import: {rss:.0f} MiB")
        print(f"CLI peak memory over all pushes: {client_rss:.0f} MiB")
        print(f"Re-push of everything, unchanged: {repush_table:.2f} s (CSV) + {repush_images:.2f} s (folder) + {repush_archives:.2f} s (archives); "
              f"blob files written: {after[0] - before[0]}, blob bytes written: {after[1] - before[1]}")
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
