#!/usr/bin/env python3
"""Streams a completion from corvid-scheduler (corvid.v1.Generation) and prints it.

Stubs are generated from the repository's proto/ with grpcio-tools (installed in the venv by
deploy/install_deps.sh) into a cache folder on first use, so the example never goes stale:

    .venv/bin/python examples/python/generate_client.py --server 127.0.0.1:50050 \
        --prompt "Once upon a time" --max-tokens 48 --temperature 0

Errors come back as gRPC status codes: INVALID_ARGUMENT names the bad field, RESOURCE_EXHAUSTED
carries a `retry-after-ms` hint in the trailing metadata (this client waits and retries once),
UNAVAILABLE means no live worker or tokenizer.
"""
import argparse
import os
import pathlib
import sys
import time

import grpc
from grpc_tools import protoc

REPO = pathlib.Path(__file__).resolve().parents[2]
PROTO_DIR = REPO / "proto"
GEN_DIR = pathlib.Path(os.environ.get("CORVID_PY_GEN", REPO / "build" / "python"))


def load_stubs():
    """Generates the corvid.v1 Python stubs when missing or older than the protos."""
    protos = sorted(PROTO_DIR.glob("corvid/v1/*.proto"))
    marker = GEN_DIR / "corvid" / "v1" / "generation_pb2_grpc.py"
    newest = max(p.stat().st_mtime for p in protos)
    if not marker.exists() or marker.stat().st_mtime < newest:
        GEN_DIR.mkdir(parents=True, exist_ok=True)
        args = ["protoc", f"-I{PROTO_DIR}", f"--python_out={GEN_DIR}",
                f"--grpc_python_out={GEN_DIR}"] + [str(p) for p in protos]
        if protoc.main(args) != 0:
            sys.exit("protoc failed")
    sys.path.insert(0, str(GEN_DIR))
    from corvid.v1 import generation_pb2, generation_pb2_grpc  # noqa: E402
    return generation_pb2, generation_pb2_grpc


def build_request(pb, args):
    request = pb.GenerateRequest(text=args.prompt.encode(), max_tokens=args.max_tokens,
                                 stop=[s.encode() for s in args.stop], logprobs=args.logprobs,
                                 priority=pb.Priority.Value(f"PRIORITY_{args.priority.upper()}"))
    request.sampling.temperature = args.temperature
    request.sampling.top_p = args.top_p
    if args.seed is not None:
        request.seed = args.seed
    return request


def stream(stub, request, timeout):
    """Prints the deltas as they arrive; returns the final message."""
    final = None
    for response in stub.Generate(request, timeout=timeout):
        sys.stdout.write(response.text)
        sys.stdout.flush()
        if response.finish_reason:
            final = response
    print()
    return final


def retry_after_ms(error):
    for key, value in error.trailing_metadata() or ():
        if key == "retry-after-ms":
            return int(value)
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="127.0.0.1:50050")
    parser.add_argument("--prompt", default="Once upon a time")
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--stop", action="append", default=[])
    parser.add_argument("--logprobs", action="store_true")
    parser.add_argument("--priority", default="normal", choices=["low", "normal", "high"])
    parser.add_argument("--timeout", type=float, default=60.0, help="the request's deadline, s")
    args = parser.parse_args()

    pb, pb_grpc = load_stubs()
    with grpc.insecure_channel(args.server) as channel:
        stub = pb_grpc.GenerationStub(channel)
        for model in stub.ListModels(pb.ListModelsRequest(), timeout=5).models:
            print(f"[model {model.name}: context {model.context_length}, "
                  f"{model.live_workers} live workers]", file=sys.stderr)
        request = build_request(pb, args)
        for attempt in (1, 2):
            try:
                final = stream(stub, request, args.timeout)
                break
            except grpc.RpcError as error:
                wait = retry_after_ms(error)
                if error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and wait and attempt == 1:
                    print(f"[busy: retrying in {wait} ms]", file=sys.stderr)
                    time.sleep(wait / 1000)
                    continue
                sys.exit(f"{error.code().name}: {error.details()}")
        usage = final.usage
        reason = pb.FinishReason.Name(final.finish_reason)
        print(f"[{final.request_id}: {usage.prompt_tokens} prompt + {usage.completion_tokens} "
              f"generated tokens, {reason}{' at ' + repr(final.stop) if final.stop else ''}; "
              f"first token {usage.time_to_first_token_ms:.2f} ms, "
              f"total {usage.total_time_ms:.2f} ms]", file=sys.stderr)


if __name__ == "__main__":
    main()
