"""Shared by the side-by-side TorchServe handlers (shipped beside them with --extra-files)."""

import os

import torch


def set_threads():
    """Applies SIDEBYSIDE_TORCH_THREADS (the script sets it to ferroserve's per-worker count)
    and, when SIDEBYSIDE_REPORT_DIR is set, writes the count there for the script to print."""
    threads = os.environ.get("SIDEBYSIDE_TORCH_THREADS")
    if threads:
        torch.set_num_threads(int(threads))
    report = os.environ.get("SIDEBYSIDE_REPORT_DIR")
    if report:
        with open(os.path.join(report, f"threads.{os.getpid()}"), "w") as f:
            f.write(f"{torch.get_num_threads()}\n")
