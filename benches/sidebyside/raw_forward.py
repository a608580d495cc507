"""Raw libtorch forward throughput, the ceiling for a server running the same model.

    python raw_forward.py NAME MODEL.pt BATCH SHAPE [SECONDS]

Loads the TorchScript file with torch.jit.load, runs forwards on a zero-filled
[BATCH, *SHAPE] float tensor under torch.inference_mode() (libtorch's default thread count
unless SIDEBYSIDE_TORCH_THREADS is set): a warm-up of about a second, then a timed loop of
SECONDS (default 3). Prints one line:
    RESULT server=raw case=NAME batch=B threads=T items_s=... ms_per_batch=...
"""

import os
import sys
import time

import torch


def main() -> None:
    name, path, batch, shape = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    seconds = float(sys.argv[5]) if len(sys.argv) > 5 else 3.0
    threads = os.environ.get("SIDEBYSIDE_TORCH_THREADS")
    if threads:
        torch.set_num_threads(int(threads))
    dims = [batch] + [int(d) for d in shape.split("x")]
    model = torch.jit.load(path, map_location="cpu").eval()
    x = torch.zeros(dims)
    with torch.inference_mode():
        end = time.perf_counter() + min(1.0, seconds)
        while time.perf_counter() < end:
            model(x)
        n = 0
        start = time.perf_counter()
        end = start + seconds
        while True:
            model(x)
            n += 1
            now = time.perf_counter()
            if now >= end:
                break
    elapsed = now - start
    print(
        f"RESULT server=raw case={name} batch={batch} threads={torch.get_num_threads()} "
        f"items_s={n * batch / elapsed:.1f} ms_per_batch={elapsed / n * 1000:.3f}"
    )


if __name__ == "__main__":
    main()
