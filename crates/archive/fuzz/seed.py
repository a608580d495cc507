# Writes small seed archives for the fuzzer into corpus/read_archive (not committed).
import io, os, sys, zipfile
out = os.path.join(os.path.dirname(__file__), "corpus", "read_archive")
os.makedirs(out, exist_ok=True)
ts = io.BytesIO()
with zipfile.ZipFile(ts, "w") as z:
    for n in ["m/data.pkl", "m/constants.pkl", "m/code/__torch__.py", "m/version"]:
        z.writestr(n, n)
manifest = '{"runtime":"python","model":{"modelName":"m","modelVersion":"1","serializedFile":"m.pt","handler":"h.wasm","configFile":"c.yaml"},"archiverVersion":"0.12.0"}'
for i, method in enumerate([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", method) as z:
        z.writestr("MAR-INF/MANIFEST.json", manifest)
        z.writestr("m.pt", ts.getvalue())
        z.writestr("h.wasm", b"\0asm\x0d\0\x01\0")
        z.writestr("c.yaml", "batchSize: 2\nferroserve:\n  formatVersion: 1\n  device: cpu\n")
        z.writestr("labels/a.txt", "a\n")
    open(os.path.join(out, f"seed{i}.mar"), "wb").write(b.getvalue())
open(os.path.join(out, "manifest.json"), "w").write(manifest)
open(os.path.join(out, "config.yaml"), "w").write("# c\nbatchSize: 2\nferroserve: {formatVersion: 1, inputs: [{name: x, dtype: float32, shape: [3]}]}\n")
