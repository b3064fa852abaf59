"""Checks moto_server.py's always-on patches against a running server, with boto3.

They are ECS deployments and one-off tasks (RunTask), AWS Backup selections and plan updates,
RDS Performance Insights, CloudFront's managed response headers policies and invalidations, WAFv2
associations moving between web ACLs, CloudWatch over Smithy RPC v2 CBOR, and the request log.

Usage: venv/bin/python scripts/check_moto_patches.py http://127.0.0.1:PORT
Exits non-zero on the first failed check. It resets the server (POST
/moto-api/reset) before and after, so do not point it at a server in use.
ECS time runs at 1/100 with the AWS-like mode off (a 60 s rollout takes
0.6 s), at the AWS-like "scale" while "transitions" is on; most ECS checks
run at 0.02 that way. The run takes about forty seconds.
"""

import json
import sys
import time
import urllib.parse
import urllib.request

import boto3
import botocore.model
from botocore.config import Config
from botocore.exceptions import ClientError

if len(sys.argv) != 2:
    sys.exit(__doc__)
URL = sys.argv[1].rstrip("/")

# ECS time: 1/100 with the AWS-like mode off; the checks run it at the
# "transitions" scale below, so that a loaded machine keeps inside the windows.
SCALE = 0.02
ROLLOUT = 60 * SCALE  # ECS_ROLLOUT
LAG = 30 * SCALE  # ECS_ROLLBACK_LAG
TASK_START = 30 * SCALE  # ECS_TASK_START
DRAIN = 30 * SCALE  # ECS_DRAIN


def control(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(URL + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


def check(what, ok):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        sys.exit(1)


def fails_with(what, code, call, status=None, message=None):
    try:
        call()
    except ClientError as e:
        err = e.response["Error"]
        got = (err.get("Code"), e.response["ResponseMetadata"]["HTTPStatusCode"], err.get("Message", ""))
        ok = got[0] == code and (status is None or got[1] == status) and (message is None or message in got[2])
        check(f"{what} fails with {code} (got {got[1]} {got[0]}: {got[2]})", ok)
        return
    check(f"{what} fails with {code} (it succeeded)", False)


def works(what, call):
    try:
        result = call()
    except ClientError as e:
        check(f"{what} succeeds (got {e.response['Error']['Code']}: {e.response['Error'].get('Message')})", False)
    check(f"{what} succeeds", True)
    return result


def client(service):
    return boto3.client(
        service,
        endpoint_url=URL,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


ec2, ecs, backup = client("ec2"), client("ecs"), client("backup")
control("POST", "/moto-api/reset")
ec2.describe_vpcs()

# -- ECS: deployments that reach a steady state ---------------------------------

vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
sg = ec2.create_security_group(VpcId=vpc, GroupName="web", Description="web")["GroupId"]
ecs.create_cluster(clusterName="apps")
control("POST", "/morket-api/aws-like", {"on": ["transitions"], "scale": SCALE})


def revision(image, family="web"):
    return ecs.register_task_definition(
        family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{"name": "web", "image": image, "essential": True}],
    )["taskDefinition"]["taskDefinitionArn"]


def describe(name="web"):
    return ecs.describe_services(cluster="apps", services=[name])["services"][0]


def primary(s):
    return next(d for d in s["deployments"] if d["status"] == "PRIMARY")


def short(arn):
    return arn.rsplit("/", 1)[-1]


def watch(seconds, name="web"):
    """The distinct (service taskDefinition, [(status, revision, rolloutState, running/desired)]) seen while polling."""
    seen, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        s = describe(name)
        now = (short(s["taskDefinition"]), [
            (d["status"], short(d["taskDefinition"]), d["rolloutState"], f"{d['runningCount']}/{d['desiredCount']}")
            for d in s["deployments"]])
        if not seen or seen[-1] != now:
            seen.append(now)
        time.sleep(0.02)
    return seen


v1, v2, v3 = revision("nginx:1.27"), revision("nginx:1.28"), revision("nginx:fail")
breaker = {"deploymentCircuitBreaker": {"enable": True, "rollback": True}, "maximumPercent": 200,
           "minimumHealthyPercent": 100}
created = works("CreateService without awsvpcConfiguration.securityGroups (moto answered 500)",
                lambda: ecs.create_service(
                    cluster="apps", serviceName="web", taskDefinition="web:1", desiredCount=2, launchType="FARGATE",
                    deploymentConfiguration=breaker, networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet]}},
                    enableExecuteCommand=True, clientToken="token-1"))["service"]
check(f"CreateService answers the deployment configuration with its circuit breaker ({created['deploymentConfiguration']})",
      created["deploymentConfiguration"] == breaker)
check(f"and the task definition's ARN, enableExecuteCommand, assignPublicIp DISABLED ({created['taskDefinition']})",
      created["taskDefinition"] == v1 and created["enableExecuteCommand"] is True
      and created["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == "DISABLED")
d = created["deployments"]
check(f"one PRIMARY deployment of web:1, IN_PROGRESS, nothing running ({d})",
      len(d) == 1 and d[0]["status"] == "PRIMARY" and d[0]["taskDefinition"] == v1
      and d[0]["rolloutState"] == "IN_PROGRESS" and d[0]["runningCount"] == 0 and d[0]["desiredCount"] == 2)
again = works("CreateService again with the same clientToken",
              lambda: ecs.create_service(cluster="apps", serviceName="web", taskDefinition="web:1", desiredCount=2,
                                         launchType="FARGATE", clientToken="token-1",
                                         networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet]}}))
check("answers the same service and deployment", again["service"]["deployments"][0]["id"] == d[0]["id"])
fails_with("CreateService of an ACTIVE name with another clientToken", "InvalidParameterException",
           lambda: ecs.create_service(cluster="apps", serviceName="web", taskDefinition="web:1", desiredCount=1,
                                      launchType="FARGATE", clientToken="token-2",
                                      networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet]}}),
           message="not idempotent")
seen = watch(ROLLOUT + 0.3)
check(f"the rollout goes IN_PROGRESS -> COMPLETED with 2/2 running ({seen})",
      seen[0] == ("web:1", [("PRIMARY", "web:1", "IN_PROGRESS", "0/2")])
      and seen[-1] == ("web:1", [("PRIMARY", "web:1", "COMPLETED", "2/2")]) and len(seen) == 2)
s = describe()
check(f"the service counts 2 running and says it reached a steady state ({s['events'][0]['message']})",
      s["runningCount"] == 2 and s["pendingCount"] == 0 and "has reached a steady state" in s["events"][0]["message"])

updated = works("UpdateService to web:2 (named family:revision)",
                lambda: ecs.update_service(cluster="apps", service="web", taskDefinition="web:2"))["service"]
d = updated["deployments"]
shown = [(x["status"], short(x["taskDefinition"]), x["runningCount"]) for x in d]
check(f"a new PRIMARY deployment of web:2, the old one ACTIVE with its tasks ({shown})",
      updated["taskDefinition"] == v2 and [(x["status"], x["taskDefinition"], x["runningCount"]) for x in d]
      == [("PRIMARY", v2, 0), ("ACTIVE", v1, 2)] and d[0]["rolloutState"] == "IN_PROGRESS")
seen = watch(ROLLOUT + 0.3)
check(f"then COMPLETED, the old deployment drained ({seen[-1]})",
      seen[-1] == ("web:2", [("PRIMARY", "web:2", "COMPLETED", "2/2")]))
check("the deployment configuration stays", describe()["deploymentConfiguration"] == breaker)

works("UpdateService desiredCount 3 alone", lambda: ecs.update_service(cluster="apps", service="web", desiredCount=3))
s = describe()
p = primary(s)
check(f"keeps the deployment, COMPLETED with 2/3 running ({p['rolloutState']} {p['runningCount']}/{p['desiredCount']})",
      len(s["deployments"]) == 1 and p["rolloutState"] == "COMPLETED" and p["runningCount"] == 2
      and p["desiredCount"] == 3)
time.sleep(TASK_START + 0.1)
check("3/3 once the new tasks started", primary(describe())["runningCount"] == 3)
works("UpdateService deploymentConfiguration alone",
      lambda: ecs.update_service(cluster="apps", service="web", deploymentConfiguration={"maximumPercent": 150}))
s = describe()
check(f"keeps the deployment and the circuit breaker ({s['deploymentConfiguration']})",
      len(s["deployments"]) == 1 and s["deploymentConfiguration"]["maximumPercent"] == 150
      and s["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": True, "rollback": True})
works("UpdateService with new security groups",
      lambda: ecs.update_service(cluster="apps", service="web", networkConfiguration={
          "awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [sg]}}))
s = describe()
check("starts a new deployment of the same revision",
      [(x["status"], x["taskDefinition"]) for x in s["deployments"]] == [("PRIMARY", v2), ("ACTIVE", v2)]
      and s["networkConfiguration"]["awsvpcConfiguration"]["securityGroups"] == [sg])
time.sleep(ROLLOUT + 0.1)
works("UpdateService forceNewDeployment", lambda: ecs.update_service(cluster="apps", service="web",
                                                                     forceNewDeployment=True))
check("starts a new deployment", len(describe()["deployments"]) == 2)
time.sleep(ROLLOUT + 0.1)

# -- ECS: a failing deployment and the circuit breaker's rollback ----------------

works("UpdateService to web:3 (image nginx:fail)",
      lambda: ecs.update_service(cluster="apps", service="web", taskDefinition=v3))
seen = watch(ROLLOUT + LAG + ROLLOUT + 0.4)
states = [(td, deps[0]) for td, deps in seen]
check(f"web:3 goes IN_PROGRESS -> FAILED, then the breaker rolls back to web:2, which completes ({states})",
      states[0] == ("web:3", ("PRIMARY", "web:3", "IN_PROGRESS", "0/3"))
      and ("web:3", ("PRIMARY", "web:3", "FAILED", "0/3")) in states
      and ("web:2", ("PRIMARY", "web:2", "IN_PROGRESS", "0/3")) in states
      and seen[-1] == ("web:2", [("PRIMARY", "web:2", "COMPLETED", "3/3")]))
check("the old tasks kept running meanwhile",
      all(sum(int(x[3].split("/")[0]) for x in deps) == 3 for _, deps in seen[:-1]))
events = [e["message"] for e in describe()["events"]]
check(f"the events tell the story ({events[:4]})",
      any("deployment failed: tasks failed to start" in m for m in events)
      and any("rolling back to deployment" in m for m in events))

# The reasons, polled closely.
works("UpdateService to web:3 again", lambda: ecs.update_service(cluster="apps", service="web", taskDefinition=v3))
failed = rollback = None
end = time.monotonic() + ROLLOUT + LAG + 0.5
while time.monotonic() < end and not rollback:
    p = primary(describe())
    if p["rolloutState"] == "FAILED":
        failed = failed or p
    elif failed and p["taskDefinition"] == v2:
        rollback = p
    time.sleep(0.01)
check(f"FAILED with the circuit breaker's reason and failedTasks ({failed and failed['rolloutStateReason']})",
      failed is not None and failed["rolloutStateReason"] == "ECS deployment circuit breaker: tasks failed to start."
      and failed["failedTasks"] > 0)
check(f"the rollback deployment names the one it returns to ({rollback and rollback['rolloutStateReason']})",
      rollback is not None
      and rollback["rolloutStateReason"].startswith("ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/"))
time.sleep(ROLLOUT + 0.1)

# The provider's own rollback during the FAILED window supersedes the breaker's.
works("UpdateService to web:3 a third time", lambda: ecs.update_service(cluster="apps", service="web",
                                                                       taskDefinition=v3))
while primary(describe())["rolloutState"] != "FAILED":
    time.sleep(0.01)
works("UpdateService back to web:2 while FAILED", lambda: ecs.update_service(cluster="apps", service="web",
                                                                            taskDefinition=v2))
seen = watch(ROLLOUT + LAG + 0.3)
check(f"one deployment of web:2 completes, no second rollback ({seen[-1]})",
      seen[-1] == ("web:2", [("PRIMARY", "web:2", "COMPLETED", "3/3")])
      and all(len(deps) <= 3 for _, deps in seen))

# Breaker without rollback: FAILED stays; no breaker: IN_PROGRESS for ever.
works("UpdateService: breaker on, rollback off, web:3", lambda: ecs.update_service(
    cluster="apps", service="web", taskDefinition=v3,
    deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": False}}))
time.sleep(ROLLOUT + LAG + 0.3)
s = describe()
check(f"FAILED stays PRIMARY, the service stays on web:3 ({short(s['taskDefinition'])} {primary(s)['rolloutState']})",
      s["taskDefinition"] == v3 and primary(s)["rolloutState"] == "FAILED" and len(s["deployments"]) == 2)
works("UpdateService: breaker off, web:2 then web:3", lambda: ecs.update_service(
    cluster="apps", service="web", taskDefinition=v2,
    deploymentConfiguration={"deploymentCircuitBreaker": {"enable": False, "rollback": False}}))
time.sleep(ROLLOUT + 0.1)
ecs.update_service(cluster="apps", service="web", taskDefinition=v3)
time.sleep(ROLLOUT + LAG + 0.3)
p = primary(describe())
first = p["failedTasks"]
time.sleep(0.3)
p = primary(describe())
check(f"without the breaker web:3 stays IN_PROGRESS while failedTasks grows ({first} -> {p['failedTasks']})",
      p["rolloutState"] == "IN_PROGRESS" and p["runningCount"] == 0 and p["failedTasks"] > first)

# A service created failing, breaker and rollback on: FAILED, nothing to return to.
works("CreateService of web:3 with the breaker", lambda: ecs.create_service(
    cluster="apps", serviceName="broken", taskDefinition=v3, desiredCount=1, launchType="FARGATE",
    deploymentConfiguration=breaker, networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet]}}))
time.sleep(ROLLOUT + LAG + 0.3)
s = describe("broken")
check(f"a new failing service reads FAILED with no rollback ({[d['rolloutState'] for d in s['deployments']]})",
      [(d["status"], d["rolloutState"]) for d in s["deployments"]] == [("PRIMARY", "FAILED")])
fails_with("DeleteCluster while it has an ACTIVE service", "ClusterContainsServicesException",
           lambda: ecs.delete_cluster(cluster="apps"), status=400)
deleted = works("DeleteService", lambda: ecs.delete_service(cluster="apps", service="broken", force=True))["service"]
check(f"answers DRAINING ({deleted['status']})", deleted["status"] == "DRAINING")
check("reads DRAINING while the tasks stop", describe("broken")["status"] == "DRAINING")
fails_with("DeleteService while DRAINING", "ServiceNotActiveException",
           lambda: ecs.delete_service(cluster="apps", service="broken", force=True))
fails_with("CreateService of a DRAINING name", "InvalidParameterException", lambda: ecs.create_service(
    cluster="apps", serviceName="broken", taskDefinition=v2, desiredCount=1, launchType="FARGATE",
    networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet]}}), message="not idempotent")
time.sleep(DRAIN + 0.1)
check("then INACTIVE", describe("broken")["status"] == "INACTIVE")
works("CreateService of a deleted (INACTIVE) name", lambda: ecs.create_service(
    cluster="apps", serviceName="broken", taskDefinition=v2, desiredCount=1, launchType="FARGATE",
    networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet]}}))
s = describe("broken")
check(f"without a deploymentConfiguration AWS's defaults are answered ({s['deploymentConfiguration']})",
      s["deploymentConfiguration"] == {"deploymentCircuitBreaker": {"enable": False, "rollback": False},
                                       "maximumPercent": 200, "minimumHealthyPercent": 100}
      and s["enableExecuteCommand"] is False)

for name in ("web", "broken"):
    ecs.delete_service(cluster="apps", service=name, force=True)
fails_with("DeleteCluster while its services drain", "ClusterContainsServicesException",
           lambda: ecs.delete_cluster(cluster="apps"))
time.sleep(DRAIN + 0.1)
works("DeleteCluster once they are INACTIVE", lambda: ecs.delete_cluster(cluster="apps"))

# With the AWS-like mode off ECS time runs at 1/100.
control("DELETE", "/morket-api/aws-like")
ecs.create_cluster(clusterName="quick")
ecs.create_service(cluster="quick", serviceName="web", taskDefinition=v1, desiredCount=1, launchType="FARGATE",
                   networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet]}})
quick = time.monotonic()
while time.monotonic() < quick + 5 and primary(ecs.describe_services(
        cluster="quick", services=["web"])["services"][0])["rolloutState"] != "COMPLETED":
    time.sleep(0.02)
took = time.monotonic() - quick
check(f"with the mode off a rollout completes after 0.6 s ({took:.2f} s)", 0.55 <= took < 3)

# -- ECS one-off tasks (RunTask), ECS time at 1/100: a short one stops ~0.33 s after RunTask ------

logs = client("logs")
logs.create_log_group(logGroupName="/ecs/migrate")
LIFECYCLE = ["PROVISIONING", "PENDING", "RUNNING", "DEPROVISIONING", "STOPPED"]


def job(family, image="backend:1.4", group="/ecs/migrate"):
    return ecs.register_task_definition(
        family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{"name": "migrate", "image": image, "essential": True, "command": ["/app/migrate.sh"],
                               "logConfiguration": {"logDriver": "awslogs", "options": {
                                   "awslogs-group": group, "awslogs-region": "us-east-1",
                                   "awslogs-stream-prefix": "ecs"}}}],
    )["taskDefinition"]["taskDefinitionArn"]


def run_job(td, command=None, **kw):
    overrides = {"containerOverrides": [{"name": "migrate", "command": command}]} if command else {}
    return ecs.run_task(cluster="quick", taskDefinition=td, launchType="FARGATE", overrides=overrides,
                        networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [sg]}},
                        **kw)["tasks"][0]


def task_of(arn):
    return ecs.describe_tasks(cluster="quick", tasks=[arn], include=["TAGS"])["tasks"][0]


def until(arn, status, seconds=5):
    """The distinct lastStatus values seen while polling, and the task once it reads `status`."""
    seen, end = [], time.monotonic() + seconds
    while True:
        t = task_of(arn)
        if not seen or seen[-1] != t["lastStatus"]:
            seen.append(t["lastStatus"])
        if t["lastStatus"] == status or time.monotonic() > end:
            return seen, t
        time.sleep(0.005)


def in_order(seen):
    rest = iter(LIFECYCLE)
    return seen[0] == "PROVISIONING" and all(s in rest for s in seen)


def log_lines(arn):
    return [e["message"] for e in logs.get_log_events(
        logGroupName="/ecs/migrate", logStreamName=f"ecs/migrate/{arn.split('/')[-1]}")["events"]]


migrate = job("migrate")
script = ["sh", "-c", "echo applying 0042; echo done in 12 ms; exit 3"]
began = time.monotonic()
ran = works("RunTask, Fargate awsvpc, with tags, startedBy and a command override",
            lambda: run_job(migrate, script, startedBy="morket", tags=[{"key": "Project", "value": "morket"}]))
eni = {d["name"]: d["value"] for d in ran["attachments"][0]["details"]}
check(f"answers PROVISIONING, desired RUNNING, the ENI's DNS name ({ran['lastStatus']} {eni.get('privateDnsName')})",
      ran["lastStatus"] == "PROVISIONING" and ran["desiredStatus"] == "RUNNING" and ran["startedBy"] == "morket"
      and eni.get("privateDnsName", "").startswith("ip-") and ran["containers"][0]["taskArn"] == ran["taskArn"])
seen, t = until(ran["taskArn"], "STOPPED")
took = time.monotonic() - began
check(f"it goes PROVISIONING -> PENDING -> RUNNING -> DEPROVISIONING -> STOPPED ({seen}, {took:.2f} s)",
      in_order(seen) and seen[-1] == "STOPPED" and 0.25 <= took < 3)
c = t["containers"][0]
check(f"STOPPED: EssentialContainerExited, the container's exitCode 3 ({t.get('stopCode')}: {t.get('stoppedReason')}, "
      f"{c['lastStatus']} {c.get('exitCode')})",
      t["desiredStatus"] == "STOPPED" and t.get("stopCode") == "EssentialContainerExited"
      and t.get("stoppedReason") == "Essential container in task exited" and c["lastStatus"] == "STOPPED"
      and c.get("exitCode") == 3 and t["tags"] == [{"key": "Project", "value": "morket"}])
stamps = ["createdAt", "pullStartedAt", "pullStoppedAt", "startedAt", "executionStoppedAt", "stoppedAt"]
check(f"with AWS's timestamps, in order ({[k for k in stamps if k in t]})",
      all(k in t for k in stamps) and [t[k] for k in stamps] == sorted(t[k] for k in stamps))
lines = log_lines(ran["taskArn"])
check(f"the two echoes are in the stream ecs/migrate/<task id> ({lines})", lines == ["applying 0042", "done in 12 ms"])
plain = run_job(migrate)["taskArn"]
_, t = until(plain, "STOPPED")
check(f"a plain command exits 0 ({t['containers'][0].get('exitCode')}, {log_lines(plain)})",
      t["containers"][0].get("exitCode") == 0 and log_lines(plain) == ["moto peer: ran /app/migrate.sh"])
exiting = run_job(job("exiting", image="backend:exit-2-migrations"))["taskArn"]
_, t = until(exiting, "STOPPED")
check(f"an image tagged exit-2-...: the plain command exits 2 ({t['containers'][0].get('exitCode')}, {log_lines(exiting)})",
      t["containers"][0].get("exitCode") == 2 and t.get("stopCode") == "EssentialContainerExited"
      and log_lines(exiting)[-1] == "moto peer: backend:exit-2-migrations exits with code 2")
nosg = works("RunTask without awsvpcConfiguration.securityGroups (moto answered 500)", lambda: ecs.run_task(
    cluster="quick", taskDefinition=migrate, launchType="FARGATE",
    networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet]}}))["tasks"][0]["taskArn"]
unlogged = run_job(job("unlogged", group="/ecs/nope"))["taskArn"]
seen, t = until(unlogged, "STOPPED")
check(f"a missing log group: TaskFailedToStart, never RUNNING, no exitCode ({seen} {t.get('stoppedReason')})",
      t.get("stopCode") == "TaskFailedToStart" and "RUNNING" not in seen and "startedAt" not in t
      and t.get("stoppedReason", "").startswith("ResourceInitializationError: failed to validate logger args")
      and "exitCode" not in t["containers"][0])
unpulled = run_job(job("unpulled", image="backend:fail"))["taskArn"]
seen, t = until(unpulled, "STOPPED")
check(f"a fail image: TaskFailedToStart, CannotPullContainerError, no exitCode ({seen} {t.get('stoppedReason')})",
      t.get("stopCode") == "TaskFailedToStart" and "RUNNING" not in seen
      and t.get("stoppedReason", "").startswith("CannotPullContainerError: ")
      and "exitCode" not in t["containers"][0])
long = run_job(migrate, ["sh", "-c", "echo first; sleep 300; echo never"])["taskArn"]
seen, t = until(long, "RUNNING")
time.sleep(0.05)
check(f"a RUNNING task's lines reach the stream as they are logged ({log_lines(long)})", log_lines(long) == ["first"])
stopped = works("StopTask of a RUNNING task", lambda: ecs.stop_task(cluster="quick", task=long,
                                                                     reason="superseded by morket"))["task"]
seen, t = until(long, "STOPPED")
check(f"UserInitiated with the reason, exitCode 143 ({t.get('stopCode')}: {t.get('stoppedReason')}, "
      f"{t['containers'][0].get('exitCode')}, {log_lines(long)})",
      stopped["desiredStatus"] == "STOPPED" and t.get("stopCode") == "UserInitiated"
      and t.get("stoppedReason") == "superseded by morket" and t["containers"][0].get("exitCode") == 143
      and log_lines(long) == ["first"])
early = run_job(migrate)["taskArn"]
ecs.stop_task(cluster="quick", task=early, reason="never mind")
_, t = until(early, "STOPPED")
check("StopTask before it started: UserInitiated, no exitCode",
      t.get("stopCode") == "UserInitiated" and "exitCode" not in t["containers"][0] and "startedAt" not in t)
everything = [ran["taskArn"], plain, exiting, nosg, unlogged, unpulled, long, early]
until(nosg, "STOPPED")
check("ListTasks lists RUNNING tasks only unless told (none now)", ecs.list_tasks(cluster="quick")["taskArns"] == [])
check("ListTasks desiredStatus STOPPED lists them all",
      sorted(ecs.list_tasks(cluster="quick", desiredStatus="STOPPED")["taskArns"]) == sorted(everything))
gone = ecs.describe_tasks(cluster="quick", tasks=["0123456789abcdef0123456789abcdef"])
check(f"DescribeTasks of an unknown task answers a MISSING failure ({gone['failures']})",
      gone["tasks"] == [] and gone["failures"] == [{"arn": "0123456789abcdef0123456789abcdef", "reason": "MISSING"}])
fails_with("StopTask of an unknown task (moto answered 500)", "InvalidParameterException",
           lambda: ecs.stop_task(cluster="quick", task="0123456789abcdef0123456789abcdef"))
control("POST", "/moto-api/reset")
ecs.create_cluster(clusterName="quick")
check("POST /moto-api/reset forgets the tasks and their logs",
      ecs.list_tasks(cluster="quick", desiredStatus="STOPPED")["taskArns"] == []
      and logs.describe_log_groups()["logGroups"] == [])

# -- CloudFront invalidations, at the same 1/100: InProgress for 0.6 s -------------------

cf = client("cloudfront")
dist = cf.create_distribution(DistributionConfig={
    "CallerReference": "invalidations", "Comment": "", "Enabled": True,
    "Origins": {"Quantity": 1, "Items": [{"Id": "s3", "DomainName": "b.s3.us-east-1.amazonaws.com",
                                          "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
    "DefaultCacheBehavior": {"TargetOriginId": "s3", "ViewerProtocolPolicy": "redirect-to-https",
                             "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}})["Distribution"]["Id"]
batch = {"Paths": {"Quantity": 2, "Items": ["/index.html", "/assets/*"]}, "CallerReference": "deploy-42"}
began = time.monotonic()
made = works("CreateInvalidation", lambda: cf.create_invalidation(DistributionId=dist, InvalidationBatch=batch))
inv = made["Invalidation"]
check(f"answers 201, Status InProgress and the Location ({made['ResponseMetadata']['HTTPStatusCode']} {inv['Status']})",
      made["ResponseMetadata"]["HTTPStatusCode"] == 201 and inv["Status"] == "InProgress"
      and made["Location"].endswith(f"/distribution/{dist}/invalidation/{inv['Id']}"))
again = works("CreateInvalidation again, same CallerReference and paths",
              lambda: cf.create_invalidation(DistributionId=dist, InvalidationBatch=batch))
listed = cf.list_invalidations(DistributionId=dist)["InvalidationList"]
check(f"answers the same invalidation; one is listed, InProgress ({listed.get('Items')})",
      again["Invalidation"]["Id"] == inv["Id"] and listed["Quantity"] == 1
      and listed["Items"][0]["Status"] == "InProgress")
fails_with("CreateInvalidation, same CallerReference, other paths", "InvalidationBatchAlreadyExists",
           lambda: cf.create_invalidation(DistributionId=dist, InvalidationBatch={
               "Paths": {"Quantity": 1, "Items": ["/other"]}, "CallerReference": "deploy-42"}), status=409)
while (status := cf.get_invalidation(DistributionId=dist, Id=inv["Id"])["Invalidation"]["Status"]) == "InProgress" \
        and time.monotonic() < began + 5:
    time.sleep(0.02)
took = time.monotonic() - began
check(f"GetInvalidation reads Completed after 0.6 s ({status}, {took:.2f} s)",
      status == "Completed" and 0.55 <= took < 3)
for what, call in (
        ("CreateInvalidation", lambda: cf.create_invalidation(DistributionId="E0NOSUCHDIST", InvalidationBatch=batch)),
        ("ListInvalidations", lambda: cf.list_invalidations(DistributionId="E0NOSUCHDIST")),
        ("GetInvalidation", lambda: cf.get_invalidation(DistributionId="E0NOSUCHDIST", Id=inv["Id"]))):
    fails_with(f"{what} of a missing distribution", "NoSuchDistribution", call, status=404)

# -- AWS Backup: selections, UpdateBackupPlan -------------------------------------

backup.create_backup_vault(BackupVaultName="morket")
rules = [{"RuleName": "daily", "TargetBackupVaultName": "morket", "ScheduleExpression": "cron(0 3 * * ? *)",
          "Lifecycle": {"DeleteAfterDays": 7}}]
plan = backup.create_backup_plan(BackupPlan={"BackupPlanName": "clickhouse", "Rules": rules})
plan_id = plan["BackupPlanId"]
role = "arn:aws:iam::123456789012:role/backup"
volume = "arn:aws:ec2:us-east-1:123456789012:volume/vol-0123456789abcdef0"
selection = {"SelectionName": "clickhouse-data", "IamRoleArn": role, "Resources": [volume]}
made = works("CreateBackupSelection", lambda: backup.create_backup_selection(
    BackupPlanId=plan_id, BackupSelection=selection, CreatorRequestId="req-1"))
check(f"answers SelectionId, BackupPlanId and CreationDate ({sorted(k for k in made if k != 'ResponseMetadata')})",
      made["SelectionId"] and made["BackupPlanId"] == plan_id and made["CreationDate"])
sid = made["SelectionId"]
again = works("CreateBackupSelection again with the same CreatorRequestId", lambda: backup.create_backup_selection(
    BackupPlanId=plan_id, BackupSelection=selection, CreatorRequestId="req-1"))
check("answers the same selection", again["SelectionId"] == sid)
got = works("GetBackupSelection", lambda: backup.get_backup_selection(BackupPlanId=plan_id, SelectionId=sid))
check(f"reads the selection back, with AWS's empty lists ({got['BackupSelection']})",
      got["BackupSelection"] == {**selection, "ListOfTags": [], "NotResources": [], "Conditions": {
          "StringEquals": [], "StringNotEquals": [], "StringLike": [], "StringNotLike": []}}
      and got["SelectionId"] == sid and got["BackupPlanId"] == plan_id and got["CreatorRequestId"] == "req-1")
tagged = works("CreateBackupSelection by tag", lambda: backup.create_backup_selection(
    BackupPlanId=plan_id, BackupSelection={"SelectionName": "by-tag", "IamRoleArn": role, "ListOfTags": [
        {"ConditionType": "STRINGEQUALS", "ConditionKey": "backup", "ConditionValue": "daily"}]}))
listed = backup.list_backup_selections(BackupPlanId=plan_id)["BackupSelectionsList"]
check(f"ListBackupSelections lists both with name and role ({[s['SelectionName'] for s in listed]})",
      [(s["SelectionId"], s["SelectionName"], s["IamRoleArn"]) for s in listed]
      == [(sid, "clickhouse-data", role), (tagged["SelectionId"], "by-tag", role)])
page = backup.list_backup_selections(BackupPlanId=plan_id, MaxResults=1)
check("ListBackupSelections pages", len(page["BackupSelectionsList"]) == 1 and page.get("NextToken"))
fails_with("CreateBackupSelection without IamRoleArn", "MissingParameterValueException",
           lambda: backup.create_backup_selection(BackupPlanId=plan_id, BackupSelection={
               "SelectionName": "x", "IamRoleArn": "", "Resources": [volume]}))
fails_with("CreateBackupSelection with a bad role ARN", "InvalidParameterValueException",
           lambda: backup.create_backup_selection(BackupPlanId=plan_id, BackupSelection={
               "SelectionName": "x", "IamRoleArn": "backup", "Resources": [volume]}))
fails_with("CreateBackupSelection in an unknown plan", "ResourceNotFoundException",
           lambda: backup.create_backup_selection(BackupPlanId="nope", BackupSelection=selection))
fails_with("GetBackupSelection unknown", "ResourceNotFoundException",
           lambda: backup.get_backup_selection(BackupPlanId=plan_id, SelectionId="nope"))
fails_with("DeleteBackupPlan with selections", "InvalidRequestException",
           lambda: backup.delete_backup_plan(BackupPlanId=plan_id), status=400,
           message="selections must be deleted prior to backup plan deletion")

rule_id = backup.get_backup_plan(BackupPlanId=plan_id)["BackupPlan"]["Rules"][0]["RuleId"]
longer = [{**rules[0], "Lifecycle": {"DeleteAfterDays": 14}}]
updated = works("UpdateBackupPlan", lambda: backup.update_backup_plan(
    BackupPlanId=plan_id, BackupPlan={"BackupPlanName": "clickhouse", "Rules": longer}))
check("answers a new VersionId", updated["VersionId"] != plan["VersionId"] and updated["BackupPlanId"] == plan_id)
got = backup.get_backup_plan(BackupPlanId=plan_id)
check(f"GetBackupPlan reads the new rule, same RuleId ({got['BackupPlan']['Rules'][0]})",
      got["BackupPlan"]["Rules"][0]["Lifecycle"] == {"DeleteAfterDays": 14}
      and got["BackupPlan"]["Rules"][0]["RuleId"] == rule_id and got["VersionId"] == updated["VersionId"])
fails_with("UpdateBackupPlan of an unknown plan", "ResourceNotFoundException", lambda: backup.update_backup_plan(
    BackupPlanId="nope", BackupPlan={"BackupPlanName": "x", "Rules": longer}))

works("DeleteBackupSelection", lambda: backup.delete_backup_selection(BackupPlanId=plan_id, SelectionId=sid))
fails_with("GetBackupSelection once deleted", "ResourceNotFoundException",
           lambda: backup.get_backup_selection(BackupPlanId=plan_id, SelectionId=sid))
fails_with("DeleteBackupSelection once deleted", "ResourceNotFoundException",
           lambda: backup.delete_backup_selection(BackupPlanId=plan_id, SelectionId=sid))
backup.delete_backup_selection(BackupPlanId=plan_id, SelectionId=tagged["SelectionId"])
works("DeleteBackupPlan once its selections are gone", lambda: backup.delete_backup_plan(BackupPlanId=plan_id))
fails_with("ListBackupSelections of a deleted plan", "ResourceNotFoundException",
           lambda: backup.list_backup_selections(BackupPlanId=plan_id))
fails_with("CreateBackupVault with a bad name", "InvalidParameterValueException",
           lambda: backup.create_backup_vault(BackupVaultName="a b"))
vault = backup.describe_backup_vault(BackupVaultName="morket")
check(f"DescribeBackupVault answers what moto left out ({vault.get('NumberOfRecoveryPoints')} {vault.get('VaultType')})",
      vault.get("NumberOfRecoveryPoints") == 0 and vault.get("VaultType") == "BACKUP_VAULT")
points = works("ListRecoveryPointsByBackupVault",
               lambda: backup.list_recovery_points_by_backup_vault(BackupVaultName="morket"))
check("a vault holds no recovery points", points["RecoveryPoints"] == [])
fails_with("ListRecoveryPointsByBackupVault of an unknown vault", "ResourceNotFoundException",
           lambda: backup.list_recovery_points_by_backup_vault(BackupVaultName="nope"))
works("DeleteBackupVault", lambda: backup.delete_backup_vault(BackupVaultName="morket"))
fails_with("DeleteBackupVault once deleted", "ResourceNotFoundException",
           lambda: backup.delete_backup_vault(BackupVaultName="morket"))

# -- CloudWatch over Smithy RPC v2 CBOR, as the AWS SDK for Rust sends it ---------

# botocore prefers CloudWatch's JSON protocol; make this client speak CBOR.
_protocols = botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS
botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS = ("smithy-rpc-v2-cbor",) + tuple(
    p for p in _protocols if p != "smithy-rpc-v2-cbor")
cw = client("cloudwatch")
botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS = _protocols
check(f"the CloudWatch client speaks {cw.meta.service_model.protocol}",
      cw.meta.service_model.protocol == "smithy-rpc-v2-cbor")
works("PutMetricAlarm (CBOR)", lambda: cw.put_metric_alarm(
    AlarmName="backend-cpu", Namespace="AWS/ECS", MetricName="CPUUtilization", Statistic="Average", Period=60,
    EvaluationPeriods=3, Threshold=80.5, ComparisonOperator="GreaterThanThreshold",
    Dimensions=[{"Name": "ServiceName", "Value": "backend"}], AlarmActions=["arn:aws:sns:us-east-1:123456789012:ops"],
    Tags=[{"Key": "Project", "Value": "morket"}]))
works("PutMetricAlarm with metric math (CBOR)", lambda: cw.put_metric_alarm(
    AlarmName="alb-5xx-rate", EvaluationPeriods=1, Threshold=5.0, ComparisonOperator="GreaterThanThreshold",
    Metrics=[{"Id": "rate", "Expression": "100*errors/requests", "ReturnData": True}] + [
        {"Id": i, "ReturnData": False, "MetricStat": {"Period": 60, "Stat": "Sum", "Metric": {
            "Namespace": "AWS/ApplicationELB", "MetricName": m,
            "Dimensions": [{"Name": "LoadBalancer", "Value": "app/a/1"}]}}}
        for i, m in (("errors", "HTTPCode_Target_5XX_Count"), ("requests", "RequestCount"))]))
alarms = {a["AlarmName"]: a for a in cw.describe_alarms()["MetricAlarms"]}
cpu = alarms.get("backend-cpu", {})
check(f"DescribeAlarms (CBOR) reads them back, typed ({cpu.get('Threshold')} {cpu.get('Period')} "
      f"{type(cpu.get('AlarmConfigurationUpdatedTimestamp')).__name__})",
      cpu.get("Threshold") == 80.5 and cpu.get("Period") == 60 and cpu.get("EvaluationPeriods") == 3
      and cpu.get("Dimensions") == [{"Name": "ServiceName", "Value": "backend"}]
      and hasattr(cpu.get("AlarmConfigurationUpdatedTimestamp"), "year")
      and [m["Id"] for m in alarms.get("alb-5xx-rate", {}).get("Metrics", [])] == ["rate", "errors", "requests"])
check("ListTagsForResource (CBOR)",
      cw.list_tags_for_resource(ResourceARN=cpu["AlarmArn"])["Tags"] == [{"Key": "Project", "Value": "morket"}])
body = json.dumps({"widgets": [{"type": "text", "x": 0, "y": 0, "width": 6, "height": 2,
                                "properties": {"markdown": "Morket"}}]})
works("PutDashboard (CBOR)", lambda: cw.put_dashboard(DashboardName="morket", DashboardBody=body))
check("GetDashboard (CBOR) reads the body back",
      json.loads(cw.get_dashboard(DashboardName="morket")["DashboardBody"]) == json.loads(body))
fails_with("GetDashboard of an unknown dashboard (CBOR)", "ResourceNotFound",
           lambda: cw.get_dashboard(DashboardName="nope"), status=404)
control("POST", "/morket-api/faults", {"action": "DeleteAlarms", "code": "Throttling", "status": 400})
fails_with("a fault armed on a CBOR operation", "Throttling", lambda: cw.delete_alarms(AlarmNames=["backend-cpu"]))
works("DeleteAlarms (CBOR)", lambda: cw.delete_alarms(AlarmNames=["backend-cpu", "alb-5xx-rate"]))
check("DescribeAlarms (CBOR) reads none", cw.describe_alarms()["MetricAlarms"] == [])

# moto_sdk_shapes.py: answers the Rust SDK parses.
def raw(method, path, service):
    req = urllib.request.Request(URL + path, method=method, headers={
        "Authorization": f"AWS4-HMAC-SHA256 Credential=test/20261206/us-east-1/{service}/aws4_request, "
                         "SignedHeaders=host, Signature=x"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read().decode()


s3 = client("s3")
s3.create_bucket(Bucket="shapes")
check("GetBucketVersioning answers <VersioningConfiguration> as S3 does",
      "<VersioningConfiguration" in raw("GET", "/shapes/?versioning", "s3"))
backup = client("backup")
vault = backup.create_backup_vault(BackupVaultName="tagged", BackupVaultTags={"Project": "morket"})
arn = urllib.parse.quote(vault["BackupVaultArn"], safe="")
check("Backup ListTags without a trailing slash (the Rust SDK's path)",
      json.loads(raw("GET", f"/tags/{arn}", "backup"))["Tags"] == {"Project": "morket"})


# -- The request log (GET/DELETE /morket-api/requests) ------------------------------


def logged():
    return control("GET", "/morket-api/requests")["requests"]


def one(what, calls, service, operation, method, mutating, path=None):
    """Runs calls (errors allowed), then checks they were logged as exactly one entry."""
    control("DELETE", "/morket-api/requests")
    try:
        calls()
    except ClientError:
        pass
    got = logged()
    want = {"service": service, "operation": operation, "method": method, "mutating": mutating}
    ok = len(got) == 1 and {k: got[0].get(k) for k in want} == want and (path is None or got[0]["path"] == path)
    check(f"{what} is logged as {operation} mutating={mutating} ({got})", ok)
    return got[0] if got else None


r53, es = client("route53"), client("opensearch")
check("DELETE /morket-api/requests empties the log",
      control("DELETE", "/morket-api/requests")["requests"] == [] and logged() == [])
one("EC2 DescribeVpcs (query)", lambda: ec2.describe_vpcs(), "ec2", "DescribeVpcs", "POST", False, path="/")
one("EC2 CreateVpc (query)", lambda: ec2.create_vpc(CidrBlock="10.9.0.0/16"), "ec2", "CreateVpc", "POST", True)
check("the logged CreateVpc still reached moto (the form body stays readable)",
      any(v["CidrBlock"] == "10.9.0.0/16" for v in ec2.describe_vpcs()["Vpcs"]))
one("ECS ListClusters (JSON)", lambda: ecs.list_clusters(), "ecs", "ListClusters", "POST", False)
one("ECS CreateCluster (JSON)", lambda: ecs.create_cluster(clusterName="logged"), "ecs", "CreateCluster", "POST", True)
one("CloudWatch DescribeAlarms (CBOR)", lambda: cw.describe_alarms(), "monitoring", "DescribeAlarms", "POST", False,
    path="/service/GraniteServiceVersion20100801/operation/DescribeAlarms")
one("CloudWatch PutDashboard (CBOR)", lambda: cw.put_dashboard(DashboardName="logged", DashboardBody=body),
    "monitoring", "PutDashboard", "POST", True)
check("the logged PutDashboard still reached moto (the CBOR body stays readable)",
      json.loads(cw.get_dashboard(DashboardName="logged")["DashboardBody"]) == json.loads(body))
control("POST", "/morket-api/faults", {"action": "CreateSecurityGroup", "code": "Throttling", "service": "ec2"})
one("a CreateSecurityGroup the fault switch refuses", lambda: fails_with(
    "CreateSecurityGroup with a fault armed", "Throttling",
    lambda: ec2.create_security_group(GroupName="refused", Description="x")),
    "ec2", "CreateSecurityGroup", "POST", True)
control("DELETE", "/morket-api/faults")
control("POST", "/morket-api/aws-like", {"on": ["consistency"]})
young = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
one("a ModifyVpcAttribute the AWS-like mode refuses", lambda: fails_with(
    "ModifyVpcAttribute of a young VPC", "InvalidVpcID.NotFound",
    lambda: ec2.modify_vpc_attribute(VpcId=young, EnableDnsSupport={"Value": True})),
    "ec2", "ModifyVpcAttribute", "POST", True)
control("DELETE", "/morket-api/aws-like")
one("S3 GetBucketVersioning (REST GET)", lambda: s3.get_bucket_versioning(Bucket="shapes"),
    "s3", "GET /shapes", "GET", False, path="/shapes")
one("S3 HeadBucket (REST HEAD)", lambda: s3.head_bucket(Bucket="shapes"), "s3", "HEAD /shapes", "HEAD", False)
one("S3 PutObject (REST PUT)", lambda: s3.put_object(Bucket="shapes", Key="k", Body=b"x"),
    "s3", "PUT /shapes/k", "PUT", True)
one("S3 GetObject (REST GET)", lambda: s3.get_object(Bucket="shapes", Key="k"), "s3", "GET /shapes/k", "GET", False)
one("S3 DeleteObjects (REST POST)", lambda: s3.delete_objects(Bucket="shapes", Delete={"Objects": [{"Key": "k"}]}),
    "s3", "POST /shapes", "POST", True)
one("Backup ListBackupVaults (REST GET)", lambda: backup.list_backup_vaults(),
    "backup", "GET /backup-vaults/", "GET", False)
one("Backup CreateBackupVault (REST PUT)", lambda: backup.create_backup_vault(BackupVaultName="logged"),
    "backup", "PUT /backup-vaults/logged", "PUT", True)
zone = r53.create_hosted_zone(Name="logged.example.", CallerReference="logged")["HostedZone"]["Id"].split("/")[-1]
one("Route 53 ListTagsForResources (read-only REST POST)", lambda: r53.list_tags_for_resources(
    ResourceType="hostedzone", ResourceIds=[zone]), "route53", "POST /2013-04-01/tags/hostedzone", "POST", False)
one("Route 53 ChangeTagsForResource (REST POST)", lambda: r53.change_tags_for_resource(
    ResourceType="hostedzone", ResourceId=zone, AddTags=[{"Key": "a", "Value": "b"}]),
    "route53", f"POST /2013-04-01/tags/hostedzone/{zone}", "POST", True)
one("Route 53 CreateHostedZone (REST POST)", lambda: r53.create_hosted_zone(
    Name="other.example.", CallerReference="other"), "route53", "POST /2013-04-01/hostedzone", "POST", True)
one("OpenSearch DescribeDomains (read-only REST POST)", lambda: es.describe_domains(DomainNames=["nope"]),
    "es", "POST /2021-01-01/opensearch/domain-info", "POST", False)
one("OpenSearch CreateDomain (REST POST)", lambda: es.create_domain(DomainName="logged"),
    "es", "POST /2021-01-01/opensearch/domain", "POST", True)
control("DELETE", "/morket-api/requests")
ec2.describe_vpcs()
ecs.create_cluster(clusterName="order")
control("GET", "/morket-api/faults")
control("GET", "/moto-api/data.json")
got = logged()
check(f"the log keeps arrival order and leaves out /moto-api/ and /morket-api/ ({[r['operation'] for r in got]})",
      [r["operation"] for r in got] == ["DescribeVpcs", "CreateCluster"])
check("the log answers the documented fields only",
      all(set(r) == {"service", "operation", "method", "path", "mutating"} for r in got))
control("POST", "/moto-api/reset")
check("POST /moto-api/reset empties the log", logged() == [])
ec2.describe_vpcs()
check("DELETE /morket-api/requests empties it",
      len(logged()) == 1 and control("DELETE", "/morket-api/requests")["requests"] == [] and logged() == [])

# -- Fields moto drops that AWS returns ----------------------------------------------
control("POST", "/moto-api/reset")
vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
a = ec2.create_security_group(GroupName="a", Description="a", VpcId=vpc)["GroupId"]
b = ec2.create_security_group(GroupName="b", Description="b", VpcId=vpc)["GroupId"]
ec2.authorize_security_group_ingress(GroupId=a, IpPermissions=[{
    "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
    "UserIdGroupPairs": [{"GroupId": b, "Description": "from b"}]}])
rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [a]}])["SecurityGroupRules"]
pair = [r for r in rules if r.get("ReferencedGroupInfo")]
check(f"DescribeSecurityGroupRules answers the description of a group-sourced rule ({pair})",
      len(pair) == 1 and pair[0].get("Description") == "from b")
ec = client("elasticache")
ec.create_replication_group(ReplicationGroupId="two", ReplicationGroupDescription="two",
                            CacheNodeType="cache.t4g.micro", Engine="redis", NumCacheClusters=2)
members = ec.describe_replication_groups(ReplicationGroupId="two")["ReplicationGroups"][0]["MemberClusters"]
check(f"CreateReplicationGroup with NumCacheClusters=2 makes two members ({members})", len(members) == 2)
cf = client("cloudfront")
oac = cf.create_origin_access_control(OriginAccessControlConfig={
    "Name": "oac", "SigningProtocol": "sigv4", "SigningBehavior": "always",
    "OriginAccessControlOriginType": "s3"})["OriginAccessControl"]["Id"]
dist = cf.create_distribution(DistributionConfig={
    "CallerReference": "oac", "Comment": "", "Enabled": True,
    "Origins": {"Quantity": 1, "Items": [{
        "Id": "s3", "DomainName": "b.s3.us-east-1.amazonaws.com",
        "S3OriginConfig": {"OriginAccessIdentity": ""}, "OriginAccessControlId": oac}]},
    "DefaultCacheBehavior": {"TargetOriginId": "s3", "ViewerProtocolPolicy": "redirect-to-https",
                             "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}})["Distribution"]["Id"]
origin = cf.get_distribution(Id=dist)["Distribution"]["DistributionConfig"]["Origins"]["Items"][0]
check(f"GetDistribution answers the origin's OriginAccessControlId ({origin.get('OriginAccessControlId')})",
      origin.get("OriginAccessControlId") == oac)
managed = {p["ResponseHeadersPolicy"]["ResponseHeadersPolicyConfig"]["Name"]: p["ResponseHeadersPolicy"]["Id"]
           for p in cf.list_response_headers_policies()["ResponseHeadersPolicyList"]["Items"]}
check("ListResponseHeadersPolicies answers AWS's managed policies",
      managed.get("Managed-SecurityHeadersPolicy") == "67f7725c-6f97-4210-82d7-5512b31e9d03")
check("ListResponseHeadersPolicies of Type custom answers none",
      cf.list_response_headers_policies(Type="custom")["ResponseHeadersPolicyList"]["Quantity"] == 0)

# -- WAFv2: a resource has one web ACL ---------------------------------------------

waf = client("wafv2")
vis = {"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False, "MetricName": "m"}
acls = [
    waf.create_web_acl(Name=n, Scope="REGIONAL", DefaultAction={"Allow": {}}, VisibilityConfig=vis)["Summary"]
    for n in ("first", "second")
]
alb = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/0123456789abcdef"
waf.associate_web_acl(WebACLArn=acls[0]["ARN"], ResourceArn=alb)
waf.associate_web_acl(WebACLArn=acls[0]["ARN"], ResourceArn=alb)
waf.associate_web_acl(WebACLArn=acls[1]["ARN"], ResourceArn=alb)
check("AssociateWebACL moves the resource to the new web ACL",
      waf.get_web_acl_for_resource(ResourceArn=alb)["WebACL"]["ARN"] == acls[1]["ARN"])
waf.associate_web_acl(WebACLArn=acls[0]["ARN"], ResourceArn=alb)
waf.associate_web_acl(WebACLArn=acls[0]["ARN"], ResourceArn=alb)
waf.disassociate_web_acl(ResourceArn=alb)
check("a repeated AssociateWebACL is undone by one DisassociateWebACL",
      waf.get_web_acl_for_resource(ResourceArn=alb).get("WebACL") is None)

# moto_sdk_shapes.py: RDS Performance Insights. Last: moto's /moto-api/data.json
# fails on any RDS instance ever made, until a reset.
rds = client("rds")
rds.create_db_instance(DBInstanceIdentifier="pi-1", Engine="postgres", DBInstanceClass="db.r6g.large",
                       AllocatedStorage=20, MasterUsername="admin_user", MasterUserPassword="password-123456",
                       EnablePerformanceInsights=True)
pi = rds.describe_db_instances(DBInstanceIdentifier="pi-1")["DBInstances"][0]
check("CreateDBInstance keeps Performance Insights, 7 days unless told",
      pi.get("PerformanceInsightsEnabled") is True and pi.get("PerformanceInsightsRetentionPeriod") == 7)
rds.modify_db_instance(DBInstanceIdentifier="pi-1", PerformanceInsightsRetentionPeriod=31, ApplyImmediately=True)
pi = rds.describe_db_instances(DBInstanceIdentifier="pi-1")["DBInstances"][0]
check("ModifyDBInstance changes the retention", pi.get("PerformanceInsightsRetentionPeriod") == 31)
rds.modify_db_instance(DBInstanceIdentifier="pi-1", EnablePerformanceInsights=False, ApplyImmediately=True)
pi = rds.describe_db_instances(DBInstanceIdentifier="pi-1")["DBInstances"][0]
check("ModifyDBInstance turns it off, and no retention is answered",
      pi.get("PerformanceInsightsEnabled") is False and "PerformanceInsightsRetentionPeriod" not in pi)

control("POST", "/moto-api/reset")
print("all moto_server.py patch checks passed")
