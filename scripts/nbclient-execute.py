"""Executes notebooks, in the order given, through Jupyter itself: nbclient starting the kernel that
metadata.kernelspec names (or --kernel) from the kernelspecs Jupyter finds (JUPYTER_PATH, the prefix, ...).

Used by scripts/jupyter-ci.mjs for the course notebooks (dpo-ts kernel, i.e. tslab) and for the Colab edition
(python3 kernel). Each notebook runs with its own folder as the working directory, as in JupyterLab.
A notebook fails when a cell raises (nbclient's CellExecutionError), times out, or leaves any output of type
"error". Executed copies go to --out; --json FILE gets one record per notebook.

usage: python scripts/nbclient-execute.py [--kernel NAME] [--timeout S] [--out DIR] [--json FILE] NB.ipynb...
"""
import argparse
import json
import os
import re
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError


def error_outputs(nb):
    """(cell number, ename, evalue) of every output of type "error"; cells numbered from 1 as in JupyterLab."""
    found = []
    for i, cell in enumerate(nb.cells, start=1):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append((i, out.get("ename", ""), out.get("evalue", "")))
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("notebooks", nargs="+")
    ap.add_argument("--kernel", default=None, help="kernel name (default: each notebook's metadata.kernelspec.name)")
    ap.add_argument("--timeout", type=int, default=600, help="seconds one cell may run")
    ap.add_argument("--out", default=None, help="folder for the executed notebooks")
    ap.add_argument("--json", default=None, help="write per-notebook results here")
    args = ap.parse_args()

    results = []
    for path in args.notebooks:
        name = os.path.basename(path)
        nb = nbformat.read(path, as_version=4)
        kernel = args.kernel or nb.metadata.get("kernelspec", {}).get("name")
        client = NotebookClient(
            nb,
            kernel_name=kernel,
            timeout=args.timeout,
            allow_errors=False,
            resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}},
        )
        t0 = time.time()
        problem = None
        try:
            client.execute()
        except CellExecutionError as e:
            problem = "a cell raised:\n" + str(e)[-3000:]
        except (CellTimeoutError, DeadKernelError) as e:
            problem = f"{type(e).__name__}: {e}"
        except Exception as e:  # kernel not found, kernel failed to start, ...
            problem = f"{type(e).__name__}: {e}"
        seconds = time.time() - t0
        errors = error_outputs(nb)
        if errors and problem is None:
            problem = "error outputs: " + "; ".join(f"cell {c}: {n}: {v}" for c, n, v in errors)
        if args.out:
            os.makedirs(args.out, exist_ok=True)
            nbformat.write(nb, os.path.join(args.out, name))
        cells = sum(1 for c in nb.cells if c.cell_type == "code")
        ran = sum(1 for c in nb.cells if c.cell_type == "code" and c.get("execution_count") is not None)
        results.append({"notebook": name, "kernel": kernel, "ok": problem is None, "seconds": round(seconds, 1),
                        "code_cells": cells, "executed_cells": ran, "error": problem})
        status = "ok" if problem is None else "FAILED"
        print(f"nbclient: {name} ({kernel}): {ran}/{cells} code cells, {seconds:.1f} s: {status}", flush=True)
        if problem:
            problem = re.sub(r"\x1b\[[0-9;]*m", "", problem)  # IPython's colours
            print(problem, flush=True)
            break  # later notebooks read what earlier ones write
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    ok = len(results) == len(args.notebooks) and all(r["ok"] for r in results)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
