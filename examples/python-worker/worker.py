#!/usr/bin/env python3
"""A Maestro worker in Python (grpcio): serves the task queue `demo.py-reverse` through the
gateway's public worker API, with a service-account token from the gateway's token endpoint.

    python3 -m venv .venv && .venv/bin/pip install grpcio grpcio-tools
    .venv/bin/python examples/python-worker/worker.py --target 127.0.0.1:9090 \
        --client-id maestro-worker --secret-file .local/secrets/maestro-worker.secret

Stubs are generated from protos/ into a private folder at start (grpcio-tools). A step such as
`{id: reverse, type: task, task_queue: demo.py-reverse, input: {text: "${input.text}"}}` then
runs here: the worker long-polls, heartbeats while it works, and completes or fails the task.
"""
import argparse
import os
import pathlib
import sys
import tempfile
import time

import grpc
from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parents[2]


def generate_stubs():
    out = pathlib.Path(tempfile.mkdtemp(prefix="maestro-py-stubs-"))
    import grpc_tools
    include = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    protos = [str(p.relative_to(ROOT / "protos")) for p in (ROOT / "protos" / "maestro").rglob("*.proto")]
    status = protoc.main(["protoc", f"-I{ROOT / 'protos'}", f"-I{include}", f"--python_out={out}", f"--grpc_python_out={out}", *protos])
    if status != 0:
        sys.exit("protoc failed")
    for folder in out.rglob("*"):
        if folder.is_dir():
            (folder / "__init__.py").touch()
    sys.path.insert(0, str(out))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", default=os.environ.get("MAESTRO_GATEWAY_TARGET", "127.0.0.1:9090"))
    parser.add_argument("--client-id", default="maestro-worker")
    parser.add_argument("--secret-file", default=".local/secrets/maestro-worker.secret")
    parser.add_argument("--token", help="a bearer token to use instead of the client-credentials grant")
    parser.add_argument("--queue", default="demo.py-reverse")
    parser.add_argument("--once", action="store_true", help="work one task, then exit")
    parser.add_argument("--wait", type=int, default=30, help="long-poll seconds")
    args = parser.parse_args()

    generate_stubs()
    from google.protobuf import duration_pb2, struct_pb2
    from maestro.auth.v1 import auth_pb2, auth_pb2_grpc
    from maestro.workflow.v1 import workflow_pb2, workflow_pb2_grpc

    channel = grpc.insecure_channel(args.target)
    token = args.token
    if not token:
        secret = pathlib.Path(args.secret_file).read_text().strip()
        token = auth_pb2_grpc.AuthServiceStub(channel).Token(
            auth_pb2.TokenRequest(grant_type="client_credentials", client_id=args.client_id, client_secret=secret)).access_token
    metadata = [("authorization", f"Bearer {token}")]
    workers = workflow_pb2_grpc.WorkerServiceStub(channel)

    while True:
        response = workers.PollTask(workflow_pb2.PollTaskRequest(
            task_queues=[args.queue], worker_identity=f"python/{os.getpid()}",
            wait_timeout=duration_pb2.Duration(seconds=args.wait)), metadata=metadata, timeout=args.wait + 10)
        if not response.HasField("task"):
            if args.once:
                sys.exit("no task arrived")
            continue
        task = response.task
        print(f"task {task.step_id} attempt {task.attempt} of run {task.run_id}", flush=True)
        beat = workers.HeartbeatTask(workflow_pb2.HeartbeatTaskRequest(task_token=task.task_token), metadata=metadata)
        if beat.cancel_requested:
            print("run cancelled; dropping the task", flush=True)
            continue
        text = task.input.fields["text"].string_value if "text" in task.input.fields else ""
        if not text:
            workers.FailTask(workflow_pb2.FailTaskRequest(
                task_token=task.task_token, error_message="input.text is required", non_retryable=True), metadata=metadata)
        else:
            output = struct_pb2.Struct()
            output.update({"text": text[::-1], "worker": "python"})
            workers.CompleteTask(workflow_pb2.CompleteTaskRequest(task_token=task.task_token, output=output), metadata=metadata)
        if args.once:
            print("worker: ok", flush=True)
            return


if __name__ == "__main__":
    main()
