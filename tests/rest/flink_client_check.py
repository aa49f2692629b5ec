"""Reads a running job through `flink-job-manager-api`, a Flink REST client from PyPI, as a
Flink user's tool would: the jobs overview, the job with its vertices and plan, and its
checkpoints. Prints one JSON line of what it read; fails on any error of the client.

    python flink_client_check.py http://127.0.0.1:8081 JOB_ID
"""

import json
import sys

from flink_job_manager_api import Client
from flink_job_manager_api.api.default import (
    get_checkpointing_statistics,
    get_job_details,
    get_jobs_overview,
)

base_url, job_id = sys.argv[1], sys.argv[2]
client = Client(base_url=base_url, raise_on_unexpected_status=True)

overview = get_jobs_overview.sync(client=client)
listed = [(job.jid, job.state.value, job.tasks["total"]) for job in overview.jobs]

details = get_job_details.sync(job_id, client=client)
vertices = [
    {
        "id": vertex.id,
        "name": vertex.name,
        "parallelism": vertex.parallelism,
        "status": vertex.status.value,
        "write_records": vertex.metrics.write_records,
    }
    for vertex in details.vertices
]
plan_nodes = [node.id for node in details.plan.nodes]

# The client has no model for this answer: it returns the raw response, and with
# raise_on_unexpected_status it raises on every status, 200 included.
lenient = Client(base_url=base_url)
checkpoints = get_checkpointing_statistics.sync_detailed(job_id, client=lenient)
assert checkpoints.status_code == 200, checkpoints.status_code
counts = json.loads(checkpoints.content)["counts"]

print(
    json.dumps(
        {
            "jobs": listed,
            "state": details.state.value,
            "vertices": vertices,
            "plan_nodes": plan_nodes,
            "checkpoints_completed": counts["completed"],
        }
    )
)
