#!/usr/bin/env python3
"""An independent gRPC client for the adapter's tests: Python grpcio with stubs that
grpcio-tools compiled from proto/ (performer_pb2*, health_pb2*).

usage: grpc_client.py STUBS_DIR HOST:PORT < request.json

request: {"method": "ExecuteTask" | "HealthCheck" | "StartSync" | "Check" | "Raw",
          "path"? (Raw: the full method path, payloadB64 sent as the raw message),
          "taskIdB64"?, "payloadB64"?, "service"?, "metadata"?: [[key, value]], "timeout"?: seconds}
prints:  {"code": "OK" | <grpc.StatusCode name>, "details"?, "trailing"?,
          "taskIdB64"?, "resultB64"?, "status"?}
"""

import base64
import json
import sys

import grpc


def main():
    stubs, address = sys.argv[1], sys.argv[2]
    sys.path.insert(0, stubs)
    import health_pb2
    import health_pb2_grpc
    import performer_pb2
    import performer_pb2_grpc

    request = json.load(sys.stdin)
    kwargs = {"metadata": [tuple(kv) for kv in request.get("metadata", [])]}
    if request.get("timeout") is not None:
        kwargs["timeout"] = request["timeout"]
    decode = lambda key: base64.b64decode(request.get(key, ""))
    encode = lambda data: base64.b64encode(data).decode()
    out = {}
    options = [("grpc.max_receive_message_length", 64 << 20)]
    with grpc.insecure_channel(address, options=options) as channel:
        performer = performer_pb2_grpc.PerformerServiceStub(channel)
        method = request["method"]
        try:
            if method == "ExecuteTask":
                message = performer_pb2.TaskRequest(task_id=decode("taskIdB64"), payload=decode("payloadB64"))
                response = performer.ExecuteTask(message, **kwargs)
                out["taskIdB64"] = encode(response.task_id)
                out["resultB64"] = encode(response.result)
            elif method == "HealthCheck":
                response = performer.HealthCheck(performer_pb2.HealthCheckRequest(), **kwargs)
                out["status"] = performer_pb2.PerformerStatus.Name(response.status)
            elif method == "StartSync":
                performer.StartSync(performer_pb2.StartSyncRequest(payload=decode("payloadB64")), **kwargs)
            elif method == "Check":
                health = health_pb2_grpc.HealthStub(channel)
                message = health_pb2.HealthCheckRequest(service=request.get("service", ""))
                response = health.Check(message, **kwargs)
                out["status"] = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
            elif method == "Raw":
                call = channel.unary_unary(request["path"])
                out["resultB64"] = encode(call(decode("payloadB64"), **kwargs))
            else:
                raise SystemExit(f"unknown method {method}")
            out["code"] = "OK"
        except grpc.RpcError as err:
            out["code"] = err.code().name
            out["details"] = err.details()
            out["trailing"] = {key: value for key, value in (err.trailing_metadata() or [])}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
