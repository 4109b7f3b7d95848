"""Independent reader for a corvid synthetic checkpoint (used by checkpoint_loader_test).

Parses the safetensors files with json + numpy only, checks the layout the reference library
requires (8-byte padded header, tensors contiguous from 0 to the end of the file), and prints
one line per tensor: name, dtype, shape, float64 sum. Then loads tokenizer.model with the
sentencepiece library and prints its size, special ids and a round-trip check.
"""
import json
import os
import struct
import sys

import numpy as np


def tensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    assert (8 + n) % 8 == 0, "header not padded to 8 bytes"
    entries = sorted((v["data_offsets"], k, v) for k, v in header.items() if k != "__metadata__")
    pos = 0
    for (begin, end), name, v in entries:
        assert begin == pos, f"{name}: gap or overlap at {begin}"
        pos = end
        raw = np.frombuffer(data[begin:end], dtype={"F32": "<f4", "F16": "<f2", "BF16": "<u2"}[v["dtype"]])
        if v["dtype"] == "BF16":
            raw = (raw.astype(np.uint32) << 16).view(np.float32)
        yield name, v["dtype"], v["shape"], float(raw.astype(np.float64).sum())
    assert pos == len(data), "trailing bytes after the last tensor"


def main(folder):
    index = os.path.join(folder, "model.safetensors.index.json")
    files = sorted(set(json.load(open(index))["weight_map"].values())) if os.path.exists(index) \
        else ["model.safetensors"]
    for f in files:
        for name, dtype, shape, total in tensors(os.path.join(folder, f)):
            print(f"tensor {name} {dtype} {'x'.join(map(str, shape))} {total:.17g}")
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=os.path.join(folder, "tokenizer.model"))
    text = "Once upon a time, the tide rose 3.1 metres."
    ok = sp.decode(sp.encode(text)) == text
    print(f"tokenizer {sp.get_piece_size()} {sp.bos_id()} {sp.eos_id()} {sp.unk_id()} {int(ok)}")


if __name__ == "__main__":
    main(sys.argv[1])
