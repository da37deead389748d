#!/usr/bin/env python3
"""Interop check: a Python grpcio client, generated from protos/, calls auth-gateway's gRPC port.

Generates the Python stubs into --out (a directory of its own, so a generated `grpc/` package
cannot shadow the grpcio library), then calls typed RPCs of workflow-service and
migration-service through the gateway: a unary call, a server stream, and the error codes.
Prints "interop: ok" and exits 0 on success.
"""
import argparse
import glob
import os
import sys


def generate(protos, out):
    from grpc_tools import protoc
    import grpc_tools

    os.makedirs(out, exist_ok=True)
    include = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    files = sorted(glob.glob(os.path.join(protos, "maestro", "*", "v1", "*.proto")))
    args = ["protoc", "-I", protos, "-I", include, "--python_out=" + out, "--grpc_python_out=" + out] + files
    if protoc.main(args) != 0:
        sys.exit("interop: protoc failed")
    # The generated packages need __init__.py files on older Pythons' import rules.
    for directory, _, _ in os.walk(os.path.join(out, "maestro")):
        open(os.path.join(directory, "__init__.py"), "a").close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--protos", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--operator-token", required=True)
    parser.add_argument("--viewer-token", required=True)
    parser.add_argument("--platform-token", required=True)
    args = parser.parse_args()

    generate(args.protos, args.out)
    # Appended, not prepended: the grpcio library must win over anything generated.
    sys.path.append(args.out)
    import grpc
    from maestro.workflow.v1 import workflow_pb2, workflow_pb2_grpc
    from maestro.migration.v1 import migration_pb2, migration_pb2_grpc

    def auth(token, request_id=None):
        metadata = [("authorization", "Bearer " + token)]
        if request_id:
            metadata.append(("x-request-id", request_id))
        return metadata

    with grpc.insecure_channel(args.target) as channel:
        workflows = workflow_pb2_grpc.WorkflowServiceStub(channel)
        got, call = workflows.GetWorkflow.with_call(
            workflow_pb2.GetWorkflowRequest(name="hello-world"),
            metadata=auth(args.viewer_token, "python-interop-1"),
            timeout=10,
        )
        assert got.workflow.definition.name == "hello-world", got
        initial = dict(call.initial_metadata())
        assert initial.get("x-request-id") == "python-interop-1", initial

        started = workflows.StartRun(
            workflow_pb2.StartRunRequest(workflow_name="hello-world", idempotency_key="python-interop"),
            metadata=auth(args.operator_token),
            timeout=10,
        )
        events = list(workflows.WatchRun(workflow_pb2.WatchRunRequest(run_id=started.run.id), metadata=auth(args.operator_token), timeout=60))
        assert events and events[-1].event.type == workflow_pb2.RUN_EVENT_TYPE_RUN_COMPLETED, events[-1:]

        try:
            workflows.StartRun(workflow_pb2.StartRunRequest(workflow_name="hello-world"), metadata=auth(args.viewer_token), timeout=10)
            sys.exit("interop: a viewer started a run")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.PERMISSION_DENIED, error
        try:
            workflows.GetWorkflow(workflow_pb2.GetWorkflowRequest(name="hello-world"), timeout=10)
            sys.exit("interop: an anonymous call succeeded")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED, error

        migrations = migration_pb2_grpc.MigrationServiceStub(channel)
        status = migrations.GetStatus(migration_pb2.GetStatusRequest(), metadata=auth(args.platform_token), timeout=10)
        assert any(s.service == "workflow-service" for s in status.services), status

    print("interop: ok (%d run events streamed)" % len(events))


if __name__ == "__main__":
    main()
