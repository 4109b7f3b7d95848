#!/usr/bin/env python3
"""Example client of corvid-tokenizer (corvid.v1.Tokenizer) in Python.

Generates the message and stub modules from proto/ with grpcio-tools at run time (into a
temporary directory), so nothing generated is committed. Needs: grpcio, grpcio-tools, protobuf.

  python examples/python/tokenize_client.py --server 127.0.0.1:50051 info
  python examples/python/tokenize_client.py --server 127.0.0.1:50051 encode "Hello world" "¡Hola!"
  python examples/python/tokenize_client.py --server 127.0.0.1:50051 decode 1 403 407
  python examples/python/tokenize_client.py --server 127.0.0.1:50051 stream "Once upon a time"
"""

import argparse
import importlib
import os
import pathlib
import sys
import tempfile

PROTO_ROOT = pathlib.Path(__file__).resolve().parents[2] / "proto"


def load_stubs():
    """Compiles proto/corvid/v1/{common,tokenizer}.proto and imports the generated modules."""
    from grpc_tools import protoc  # imported here so --help works without grpcio-tools

    out = tempfile.mkdtemp(prefix="corvid_stubs_")
    include = pathlib.Path(protoc.__file__).parent / "_proto"  # google/protobuf/*.proto
    for name in ("common.proto", "tokenizer.proto"):
        rc = protoc.main([
            "protoc", f"-I{PROTO_ROOT}", f"-I{include}", f"--python_out={out}",
            f"--grpc_python_out={out}", str(PROTO_ROOT / "corvid" / "v1" / name)])
        if rc != 0:
            sys.exit(f"protoc failed on {name}")
    sys.path.insert(0, out)
    return (importlib.import_module("corvid.v1.tokenizer_pb2"),
            importlib.import_module("corvid.v1.tokenizer_pb2_grpc"))


def cmd_info(pb, stub, args):
    info = stub.GetInfo(pb.GetInfoRequest(model=args.model), timeout=args.timeout)
    print(f"model {info.model}: vocab {info.vocab_size}, bos {info.bos_id}, eos {info.eos_id}")
    print(f"served models: {', '.join(info.served_models)}")
    print(f"digest sha256: {info.digest_sha256}")
    for f in info.files:
        print(f"  {f.name}: {f.size_bytes} bytes, sha256 {f.sha256}")
    shown = ", ".join(f"{t.id}={t.piece}" for t in info.special_tokens[:8])
    more = len(info.special_tokens) - 8
    tail = f", ... {more} more" if more > 0 else ""
    print(f"special tokens ({len(info.special_tokens)}): {shown}{tail}")
    print(f"limits: {info.limits}".rstrip())


def cmd_encode(pb, stub, args):
    reply = stub.Encode(pb.EncodeRequest(model=args.model, texts=[t.encode() for t in args.items],
                                         add_special_tokens=args.add_special_tokens),
                        timeout=args.timeout)
    for text, result in zip(args.items, reply.results):
        print(f"{text!r}: {list(result.ids)}")


def cmd_decode(pb, stub, args):
    from corvid.v1 import common_pb2
    ids = [int(x) for x in args.items]
    reply = stub.Decode(pb.DecodeRequest(model=args.model, sequences=[common_pb2.TokenIds(ids=ids)],
                                         skip_special_tokens=args.skip_special_tokens),
                        timeout=args.timeout)
    print(reply.texts[0])


def cmd_stream(pb, stub, args):
    """Encodes each text, then streams its ids back one per step on one multiplexed stream."""
    reply = stub.Encode(pb.EncodeRequest(model=args.model, texts=[t.encode() for t in args.items]),
                        timeout=args.timeout)
    sequences = {i: list(r.ids) for i, r in enumerate(reply.results)}
    steps = max((len(ids) for ids in sequences.values()), default=0)

    def requests():
        for k in range(steps + 1):
            req = pb.DetokenizeRequest(model=args.model if k == 0 else "", batch_id=k)
            for seq_id, ids in sequences.items():
                if k <= len(ids):
                    req.steps.add(sequence_id=seq_id, ids=ids[k:k + 1], finish=(k == len(ids)))
            yield req

    texts = {i: "" for i in sequences}
    for resp in stub.DetokenizeStream(requests(), timeout=args.timeout):
        for d in resp.deltas:
            if d.HasField("error"):
                sys.exit(f"sequence {d.sequence_id}: {d.error.message}")
            texts[d.sequence_id] += d.text
            done = " (finished)" if d.finished else ""
            print(f"batch {resp.batch_id} seq {d.sequence_id}: {d.text!r}{done}")
    for i, text in texts.items():
        print(f"sequence {i}: {text!r}")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default=os.environ.get("CORVID_TOKENIZER", "127.0.0.1:50051"))
    parser.add_argument("--model", default="", help="model name; empty: the server's default")
    parser.add_argument("--add-special-tokens", action="store_true")
    parser.add_argument("--skip-special-tokens", action="store_true")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per call")
    parser.add_argument("command", choices=["info", "encode", "decode", "stream"])
    parser.add_argument("items", nargs="*", help="texts (encode, stream) or ids (decode)")
    args = parser.parse_args()

    import grpc
    pb, pb_grpc = load_stubs()
    with grpc.insecure_channel(args.server) as channel:
        stub = pb_grpc.TokenizerStub(channel)
        try:
            {"info": cmd_info, "encode": cmd_encode, "decode": cmd_decode,
             "stream": cmd_stream}[args.command](pb, stub, args)
        except grpc.RpcError as e:
            sys.exit(f"{e.code().name}: {e.details()}")


if __name__ == "__main__":
    main()
