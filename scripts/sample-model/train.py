#!/usr/bin/env python3
"""The dev cluster's sample model: a stand-in for a training that needs
nothing but python3, so the whole path of a KQI training (clone, input,
output, parent, log, exit code) can run for real on any machine.

It reads every file under /kqi/input, "trains" for EPOCHS epochs printing
one line per epoch, and writes /kqi/output/model.json, metrics.csv and
value.txt. See README.md for the environment variables it reads.
"""

import hashlib
import json
import os
import sys
import time

ROOT = os.environ.get("KQI_ROOT", "/kqi")  # only changed to run it outside a job
INPUT = os.path.join(ROOT, "input")
OUTPUT = os.path.join(ROOT, "output")
PARENT = os.path.join(ROOT, "parent")
AREAS = ("training", "validation", "testing")


def say(*words):
    # flush: the portal shows the log while the job runs.
    print(*words, flush=True)


def env_number(name, default, kind):
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    try:
        return kind(raw)
    except ValueError:
        say(f"error: {name}={raw!r} is not a number")
        sys.exit(2)


def walk(top):
    """Yield (relative path, full path) of every regular file under top, sorted."""
    for dirpath, dirnames, filenames in os.walk(top, followlinks=True):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            if os.path.isfile(full):
                yield os.path.relpath(full, top), full


def read_input():
    """Counts, sizes, byte sums and a digest of the files per area.

    The area is the first directory under /kqi/input (training, validation,
    testing); files anywhere else are counted under the name of their first
    path component, or "." for files right in /kqi/input.
    """
    areas = {}
    if not os.path.isdir(INPUT):
        say(f"no {INPUT}: training on nothing")
        return areas
    for rel, full in walk(INPUT):
        area = rel.split(os.sep, 1)[0] if os.sep in rel else "."
        a = areas.setdefault(area, {"files": 0, "bytes": 0, "byte_sum": 0, "sha256": hashlib.sha256()})
        with open(full, "rb") as f:
            data = f.read()
        a["files"] += 1
        a["bytes"] += len(data)
        a["byte_sum"] += sum(data)
        a["sha256"].update(rel.encode() + b"\0" + data)
    for name, a in areas.items():
        a["sha256"] = a["sha256"].hexdigest()
        say(f"read {a['files']} files, {a['bytes']} bytes from {name}")
    for name in AREAS:
        if name not in areas:
            say(f"no {name} data")
    return areas


def read_parent():
    """What the parent training left, if this one has a parent."""
    if not os.path.isdir(PARENT):
        return None
    files = {rel: os.path.getsize(full) for rel, full in walk(PARENT)}
    found = {"files": files}
    try:
        with open(os.path.join(PARENT, "model.json")) as f:
            found["model"] = json.load(f)
    except (OSError, ValueError) as e:
        found["model_error"] = str(e)
    say(f"parent: {len(files)} files in {PARENT}")
    return found


def main():
    epochs = env_number("EPOCHS", 3, int)
    pause = env_number("SLEEP_SECONDS", 0.2, float)
    exit_code = env_number("EXIT_CODE", 0, int)

    say(f"sample model: python {sys.version.split()[0]}, {epochs} epochs")
    areas = read_input()
    parent = read_parent()
    total = sum(a["bytes"] for a in areas.values())

    os.makedirs(OUTPUT, exist_ok=True)
    rows = ["epoch,loss,accuracy"]
    for epoch in range(1, epochs + 1):
        # A deterministic curve, so reruns on the same data agree.
        loss = round(1.0 / (epoch + 1) + (total % 97) / 1000.0, 6)
        accuracy = round(1.0 - loss / 2, 6)
        rows.append(f"{epoch},{loss},{accuracy}")
        say(f"epoch {epoch}/{epochs} loss={loss} accuracy={accuracy}")
        with open(os.path.join(OUTPUT, "metrics.csv"), "w") as f:
            f.write("\n".join(rows) + "\n")
        if epoch < epochs:
            time.sleep(pause)

    model = {
        "epochs": epochs,
        "input": areas,
        "input_bytes": total,
        "parent": parent,
        "training_id": os.environ.get("TRAINING_ID"),
        "dataset_id": os.environ.get("DATASET_ID"),
    }
    with open(os.path.join(OUTPUT, "model.json"), "w") as f:
        json.dump(model, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(OUTPUT, "value.txt"), "w") as f:
        f.write(f"{total}\n")
    say(f"wrote model.json, metrics.csv and value.txt to {OUTPUT}")

    if exit_code != 0:
        say(f"exiting with code {exit_code} as EXIT_CODE asks")
    sys.exit(exit_code)


if __name__ == "__main__":
    main()
