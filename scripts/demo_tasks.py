#!/usr/bin/env python3
"""Sends the quickstart's tasks to the adapter, as the Hourglass Executor would: over HTTP
(POST /perform) and over gRPC (PerformerService/ExecuteTask, Python grpcio: a client that shares
no code with Quartz).

usage:
  demo_tasks.py http    ADAPTER AVS SET_ID          one compute task over HTTP; prints the result
  demo_tasks.py grpc    ADAPTER AVS SET_ID STUBS    one compute task over gRPC; prints the result
  demo_tasks.py traffic ADAPTER AVS SET_ID STOPFILE tasks over HTTP, 4 at a time, until STOPFILE
                                                    exists; prints per-version counts and failures
Exits 1 when a task fails.
"""

import http.client
import json
import os
import sys
import threading
import time


def perform(conn, avs, set_id, task_id, a, b):
    body = json.dumps({
        "avsAddress": avs,
        "operatorSetId": int(set_id),
        "taskId": task_id,
        "payload": {"operation": "compute", "params": {"a": a, "b": b}},
    })
    conn.request("POST", "/perform", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    answer = json.loads(response.read() or b"{}")
    if response.status != 200 or not answer.get("success"):
        raise RuntimeError(f"HTTP {response.status}: {answer}")
    return answer["result"]


def http_task(adapter, avs, set_id):
    conn = http.client.HTTPConnection(adapter, timeout=30)
    result = perform(conn, avs, set_id, "quickstart-http-1", 20, 22)
    print(f"HTTP task -> version {result['version']}: 20 + 22 = {result['result']['sum']:g}, "
          f"20 * 22 = {result['result']['product']:g}")


def grpc_task(adapter, avs, set_id, stubs):
    sys.path.insert(0, stubs)
    import grpc
    import performer_pb2
    import performer_pb2_grpc

    payload = json.dumps({"operation": "compute", "params": {"a": 6, "b": 7}}).encode()
    with grpc.insecure_channel(adapter) as channel:
        stub = performer_pb2_grpc.PerformerServiceStub(channel)
        response = stub.ExecuteTask(
            performer_pb2.TaskRequest(task_id=b"quickstart-grpc-1", payload=payload),
            metadata=[("x-quartz-avs-address", avs), ("x-quartz-operator-set-id", str(set_id))],
            timeout=30,
        )
    result = json.loads(response.result)
    print(f"gRPC task -> version {result['version']}: 6 + 7 = {result['result']['sum']:g}, "
          f"6 * 7 = {result['result']['product']:g} (task id {response.task_id.decode()})")


def traffic(adapter, avs, set_id, stop_file):
    versions, failures, order = {}, [], []
    lock = threading.Lock()

    def worker(n):
        conn = http.client.HTTPConnection(adapter, timeout=30)
        i = 0
        while not os.path.exists(stop_file):
            i += 1
            try:
                result = perform(conn, avs, set_id, f"traffic-{n}-{i}", n, i)
                with lock:
                    versions[result["version"]] = versions.get(result["version"], 0) + 1
                    if not order or order[-1] != result["version"]:
                        order.append(result["version"])
            except Exception as error:  # every failure is reported, none retried
                with lock:
                    failures.append(str(error))
                conn.close()
                conn = http.client.HTTPConnection(adapter, timeout=30)
            time.sleep(0.01)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = sum(versions.values()) + len(failures)
    print(json.dumps({"tasks": total, "byVersion": versions, "versionOrder": order,
                      "failed": len(failures), "firstFailures": failures[:3]}))
    sys.exit(1 if failures else 0)


def main():
    command, args = sys.argv[1], sys.argv[2:]
    try:
        if command == "http":
            http_task(*args)
        elif command == "grpc":
            grpc_task(*args)
        elif command == "traffic":
            traffic(*args)
        else:
            sys.exit(f"unknown command {command!r}; see the usage at the top of {sys.argv[0]}")
    except Exception as error:
        print(f"{command} task failed: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
