"""moto_server, plus calls moto 5.2 lacks (ElastiCache, AWS Backup, CloudFront's managed response
headers policies), ECS deployments and one-off tasks, CloudFront invalidations, CloudWatch over CBOR.

The Morket stack needs an ElastiCache parameter group (R7.4) and must be
destroyable; moto has neither parameter groups nor DeleteCacheSubnetGroup /
ModifyCacheSubnetGroup, and never removes a deleted replication group. This adds them, in memory, in moto's own backend, so
`scripts/local-up` and the stack tests can apply the whole stack. The provider
code for these calls is tested separately against recorded AWS-shaped
responses (aws-smithy-mocks, tests/aws_elasticache.rs); this emulation only
lets the rest of the stack run end to end. It also gives moto's ENIs the
private DNS name ECS RunTask (awsvpc) needs. Usage: python moto_server.py -H HOST -p PORT

ECS services deploy as in ECS (moto's never run a task, and UpdateService
leaves them on the old revision). CreateService, and an UpdateService that
changes the task definition, network configuration, load balancers, service
registries or platform version (or forces a new deployment), start a new
PRIMARY deployment of the requested task definition; the one before turns
ACTIVE and keeps its tasks until the new one completes. A deployment is
rolloutState IN_PROGRESS with 0 tasks running for ECS_ROLLOUT (60 AWS
seconds), then COMPLETED with runningCount = desiredCount, and the older
deployments are gone ("has reached a steady state."). A desiredCount change
alone keeps the deployment: a scale-out's tasks run ECS_TASK_START (30) later.
Time runs at 1/100 (a rollout takes 0.6 s), or at the AWS-like "scale" while
its "transitions" behaviour is on. The service echoes deploymentConfiguration
(defaults 200 / 100 and a disabled circuit breaker), enableExecuteCommand and
healthCheckGracePeriodSeconds; taskDefinition is always the revision's ARN; a
missing awsvpcConfiguration.securityGroups is taken (moto answered 500); a
second CreateService of an ACTIVE or DRAINING name is refused ("Creation of
service was not idempotent.") unless it repeats the clientToken, which answers
the same service. DeleteService answers DRAINING, read for ECS_DRAIN (30 AWS
seconds) before INACTIVE (moto: INACTIVE at once); a second DeleteService ->
ServiceNotActiveException; DeleteCluster while a service is ACTIVE or
DRAINING -> ClusterContainsServicesException (moto deleted it).

A failing deployment, for rollback tests: a task definition whose essential
container's image is tagged "fail" or "fail-<anything>" (nginx:fail,
backend:fail-crashloop) never starts a task. Its deployment stays IN_PROGRESS
while failedTasks grows; with deploymentCircuitBreaker enable it turns FAILED
after the rollout window (rolloutStateReason "ECS deployment circuit breaker:
tasks failed to start."); with rollback too, ECS_ROLLBACK_LAG (30 AWS seconds)
later a new PRIMARY deployment of the last COMPLETED task definition starts
("ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/...";
the service's taskDefinition is that one again; the FAILED deployment is
ACTIVE until it completes). Without the breaker ECS retries for ever: the
rollout never settles. Another UpdateService meanwhile supersedes the
breaker's rollback.

ECS tasks started by RunTask run to completion as Fargate tasks do (moto's run
nothing and stay RUNNING): PROVISIONING for ECS_TASK_PROVISION (8 AWS seconds),
PENDING for 12 (image pull 10, container start 2), RUNNING while the command
runs, then desiredStatus STOPPED and DEPROVISIONING for 10 before STOPPED,
with stopCode EssentialContainerExited ("Essential container in task
exited"), each container's exitCode and AWS's timestamps, on the ECS time
scale (a short command stops about 0.33 s after RunTask). The command is the
RunTask containerOverrides' command, else the task definition's, after its
entryPoint: ["sh", "-c", SCRIPT] (or /bin/sh, bash) runs SCRIPT's statements,
split on newlines, ";" and "&&": `echo WORDS` logs WORDS (shlex-unquoted),
`exit N` exits N, `sleep N` takes N AWS seconds, anything else logs "moto
peer: not run: <statement>"; each statement takes 0.1 s and the process exits
1 s after its last. Any other command exits 0 logging "moto peer: ran
<command>". An awslogs container's lines reach its group, stream
<awslogs-stream-prefix>/<container name>/<task id>, as they are logged. A
missing log group (unless awslogs-create-group is "true") or an essential
image tagged fail -> STOPPED, TaskFailedToStart (ResourceInitializationError /
CannotPullContainerError), no exitCode. StopTask -> UserInitiated with its
reason, exitCode 143 for a container that was running; an unknown task ->
InvalidParameterException (moto: 500). ListTasks lists desiredStatus RUNNING
unless asked otherwise, DescribeTasks answers an unknown task as a MISSING
failure, a STOPPED task's ENI is deleted; RunTask takes containers without
memory and a missing securityGroups (moto: 500). Services' tasks: untouched.

CloudFront invalidations read InProgress for CF_INVALIDATION (60 AWS seconds,
ECS time scale) before Completed (moto: COMPLETED at once); a repeated
CallerReference answers the same invalidation, or 409
InvalidationBatchAlreadyExists for other paths; ListInvalidations of a missing
distribution -> 404 NoSuchDistribution.

WAFv2: AssociateWebACL on a resource that has a web ACL moves it to the new one,
as in AWS (moto kept it on both); a repeated association is kept once.

AWS Backup: CreateBackupSelection, GetBackupSelection, ListBackupSelections,
DeleteBackupSelection, UpdateBackupPlan and ListRecoveryPointsByBackupVault
(always empty: no backup job runs), which moto lacks, with AWS's shapes
(a selection answers every list, empty where none was given; a repeated
CreatorRequestId answers the same selection) and errors (ResourceNotFoundException
for an unknown or deleted plan or selection, MissingParameterValueException,
InvalidParameterValueException for a bad name, role ARN or ConditionType);
DeleteBackupPlan of a plan with selections -> InvalidRequestException
"Related backup plan selections must be deleted prior to backup plan
deletion."; DeleteBackupVault of an unknown vault -> ResourceNotFoundException;
CreateBackupVault checks the name. See scripts/check_moto_patches.py.

CloudWatch through the AWS SDK for Rust: its client speaks Smithy RPC v2
CBOR, which moto 5.2 does not (404). An outermost bridge translates those
requests into CloudWatch's JSON protocol and the answers (errors too, with
x-amzn-query-error) back into CBOR, typed by botocore's model of the service;
faults and the AWS-like mode see the operation as for any JSON call.

It seeds Canonical's public Ubuntu AMI parameters in SSM (moto ships only
Amazon Linux's and ECS's), for the ClickHouse AMI lookup.

It also has a fault switch, so tests can make one AWS call fail after the
calls before it succeeded (CreateVpc then ModifyVpcAttribute answering
InvalidVpcID.NotFound, as EC2 does under eventual consistency):

    POST   /morket-api/faults  {"action": "ModifyVpcAttribute", "code": "InvalidVpcID.NotFound",
                                "message": "...", "status": 400, "times": 1, "after": 0,
                                "service": "ec2"}
    GET    /morket-api/faults  {"faults": [{..., "seen": N, "fired": N}]}
    DELETE /morket-api/faults  (POST /moto-api/reset clears them too)

"action" is the operation name (query protocols: the Action parameter; JSON
protocols: X-Amz-Target after the dot; REST services are never matched);
"code" is required, the rest optional. Each fault counts the matching requests
since it was armed, lets the first "after" (default 0) through, then fails the
next "times" (default 1); "service" (the SigV4 signing name) narrows the
match. A faulted request never reaches moto. See scripts/check_faults.py.

A request log, outermost, so a test can show from the peer's side which AWS
calls a command made (none mutating, say). Every request but /moto-api/* and
/morket-api/* is recorded on arrival, before the CBOR bridge, the fault switch
and the AWS-like mode, so calls they answer with an error count too:

    GET    /morket-api/requests  {"requests": [{"service": "ec2", "operation": "DescribeVpcs",
                                  "method": "POST", "path": "/", "mutating": false}, ...],
                                  "dropped": N}
    DELETE /morket-api/requests  (POST /moto-api/reset clears it too)

in arrival order; only the last REQUEST_LOG_CAP (100000) are kept, "dropped"
counts the older ones let go since the last clear. "service" is the SigV4
signing name ("" if unsigned). "operation": the X-Amz-Target suffix (JSON
protocols), the last path segment of a Smithy RPC v2 CBOR request
(/service/<S>/operation/<Op>), the Action parameter (query protocols), else
"METHOD path" (REST: S3, Route 53, CloudFront, MQ, OpenSearch, Backup).
"mutating", conservative: a named operation is read-only only when it starts
with Describe, List, Get, Head, BatchGet, Search or Lookup, or is one of
READ_ONLY_OPERATIONS; a REST GET or HEAD is read-only, as is a POST in
READ_ONLY_REST_POSTS (OpenSearch DescribeDomains and Route 53
ListTagsForResources); every other request counts as mutating.

Behind the fault switch sits an AWS-like mode (scripts/aws_like.py), off
unless a test asks for it: eventual consistency, IAM propagation,
service-linked roles, lingering network interfaces, state transitions and
conflicts, throttling bursts. POST/GET/DELETE /morket-api/aws-like; see
aws_like.py for the behaviours and scripts/check_aws_like.py.
"""

import collections
import io
import json
import re
import sys
import threading
import time
import uuid
from http import HTTPStatus
from urllib.parse import parse_qs, unquote
from xml.sax.saxutils import escape

import moto
from moto.core.responses import ActionResult, EmptyResult, PaginatedResult
from moto.elasticache.exceptions import ElastiCacheException
from moto.elasticache.responses import ElastiCacheResponse
from moto.elasticache.exceptions import CacheSubnetGroupNotFound
from moto.elasticache.models import ElastiCacheBackend
from moto.ec2.models.elastic_network_interfaces import NetworkInterface


# Built against moto 5.2 internals (scripts/moto.sh pins the version).
if not moto.__version__.startswith("5.2."):
    sys.exit(f"moto_server.py expects moto 5.2.x, found {moto.__version__}")

import aws_like  # noqa: E402 (patches moto 5.2 internals too)
import moto_sdk_shapes  # noqa: E402,F401 (answers shaped as AWS does, for the Rust SDK)


class InvalidState(ElastiCacheException):
    def __init__(self, code, message):
        self.code = code
        super().__init__(message)


def _users(backend, attr, name):
    """Replication groups and cache clusters that use the named group, as AWS checks."""
    things = list(backend.replication_groups.values()) + list(backend.cache_clusters.values())
    return [t for t in things if getattr(t, attr, None) == name and getattr(t, "status", "") != "deleting"]


class CacheParameterGroupNotFound(ElastiCacheException):
    code = "CacheParameterGroupNotFound"

    def __init__(self, name):
        super().__init__(f"CacheParameterGroup {name} not found.")


class CacheParameterGroupAlreadyExists(ElastiCacheException):
    code = "CacheParameterGroupAlreadyExists"

    def __init__(self, name):
        super().__init__(f"CacheParameterGroup {name} already exists.")


def _groups(backend):
    # Lives on the backend instance, so /moto-api/reset clears it too.
    if not hasattr(backend, "_morket_parameter_groups"):
        backend._morket_parameter_groups = {}
    return backend._morket_parameter_groups


def _group(self, name):
    g = _groups(self.elasticache_backend).get(name)
    if g is None:
        raise CacheParameterGroupNotFound(name)
    return g


def _shape(g):
    return {
        "CacheParameterGroupName": g["name"],
        "CacheParameterGroupFamily": g["family"],
        "Description": g["description"],
        "IsGlobal": False,
        "ARN": g["arn"],
    }


def create_cache_parameter_group(self):
    name = self._get_param("CacheParameterGroupName")
    backend = self.elasticache_backend
    groups = _groups(backend)
    if name in groups:
        raise CacheParameterGroupAlreadyExists(name)
    arn = f"arn:aws:elasticache:{self.region}:{self.current_account}:parametergroup:{name}"
    groups[name] = {
        "name": name,
        "family": self._get_param("CacheParameterGroupFamily"),
        "description": self._get_param("Description"),
        "arn": arn,
        "params": {},
    }
    tags = self._get_param("Tags", [])
    if tags:
        backend.tagging_service.tag_resource(arn, tags)
    return ActionResult({"CacheParameterGroup": _shape(groups[name])})


def describe_cache_parameter_groups(self):
    name = self._get_param("CacheParameterGroupName")
    groups = _groups(self.elasticache_backend)
    found = [_group(self, name)] if name else list(groups.values())
    return PaginatedResult({"CacheParameterGroups": [_shape(g) for g in found]})


def describe_cache_parameters(self):
    g = _group(self, self._get_param("CacheParameterGroupName"))
    source = self._get_param("Source")
    params = [
        {
            "ParameterName": k,
            "ParameterValue": v,
            "Source": "user",
            "DataType": "string",
            "IsModifiable": True,
        }
        for k, v in sorted(g["params"].items())
        if source in (None, "user")
    ]
    return PaginatedResult({"Parameters": params})


def modify_cache_parameter_group(self):
    name = self._get_param("CacheParameterGroupName")
    g = _group(self, name)
    for p in self._get_param("ParameterNameValues", []):
        g["params"][p["ParameterName"]] = p["ParameterValue"]
    return ActionResult({"CacheParameterGroupName": name})


def reset_cache_parameter_group(self):
    name = self._get_param("CacheParameterGroupName")
    g = _group(self, name)
    if self._get_bool_param("ResetAllParameters"):
        g["params"].clear()
    for p in self._get_param("ParameterNameValues", []):
        g["params"].pop(p["ParameterName"], None)
    return ActionResult({"CacheParameterGroupName": name})


def delete_cache_parameter_group(self):
    name = self._get_param("CacheParameterGroupName")
    _group(self, name)
    if _users(self.elasticache_backend, "cache_parameter_group_name", name):
        raise InvalidState(
            "InvalidCacheParameterGroupState",
            f"Cache parameter group {name} is in use.",
        )
    del _groups(self.elasticache_backend)[name]
    return EmptyResult()


def delete_cache_subnet_group(self):
    name = self._get_param("CacheSubnetGroupName")
    groups = self.elasticache_backend.cache_subnet_groups
    if name not in groups:
        raise CacheSubnetGroupNotFound(name)
    if _users(self.elasticache_backend, "cache_subnet_group_name", name):
        raise InvalidState("CacheSubnetGroupInUse", f"Cache subnet group {name} is in use.")
    del groups[name]
    return EmptyResult()


def modify_cache_subnet_group(self):
    name = self._get_param("CacheSubnetGroupName")
    backend = self.elasticache_backend
    old = backend.cache_subnet_groups.get(name)
    if old is None:
        raise CacheSubnetGroupNotFound(name)
    del backend.cache_subnet_groups[name]
    group = backend.create_cache_subnet_group(
        cache_subnet_group_name=name,
        cache_subnet_group_description=self._get_param("CacheSubnetGroupDescription")
        or old.cache_subnet_group_description,
        subnet_ids=self._get_param("SubnetIds") or old.subnet_ids,
        tags=None,
    )
    return ActionResult({"CacheSubnetGroup": group})


_backend_init = ElastiCacheBackend.__init__


def _init_with_parameter_group_arns(self, *args, **kwargs):
    _backend_init(self, *args, **kwargs)
    # Tags on parameter groups, as on the other taggable resources.
    self.arn_regex = re.compile(
        r"^arn:aws:elasticache:.*:[0-9]*:"
        r"(cluster|snapshot|subnetgroup|replicationgroup|user|parametergroup):.*$"
    )


ElastiCacheBackend.__init__ = _init_with_parameter_group_arns

_describe_replication_groups = ElastiCacheBackend.describe_replication_groups


def _describe_replication_groups_forgetting_deleted(self, *args, **kwargs):
    # moto leaves a deleted group "deleting" for ever; AWS removes it. The
    # DeleteReplicationGroup answer still says "deleting", the next describe
    # finds nothing (unless the AWS-like mode keeps it "deleting" a while).
    gone = [
        k for k, rg in self.replication_groups.items() if rg.status == "deleting" and not aws_like.lingers(rg)
    ]
    for rg_id in gone:
        del self.replication_groups[rg_id]
    return _describe_replication_groups(self, *args, **kwargs)


ElastiCacheBackend.describe_replication_groups = _describe_replication_groups_forgetting_deleted

# moto 5.2's ECS RunTask (awsvpc) reads the ENI's private DNS name, which only
# some of moto's ENIs have, and answers 500: default it as EC2 names it.
if not hasattr(NetworkInterface, "private_dns_name"):
    NetworkInterface.private_dns_name = property(
        lambda eni: eni.__dict__.get("_morket_dns")
        or f"ip-{(eni.private_ip_address or '').replace('.', '-')}.ec2.internal",
        lambda eni, name: eni.__dict__.__setitem__("_morket_dns", name),
    )

for f in [
    create_cache_parameter_group,
    describe_cache_parameter_groups,
    describe_cache_parameters,
    modify_cache_parameter_group,
    reset_cache_parameter_group,
    delete_cache_parameter_group,
    delete_cache_subnet_group,
    modify_cache_subnet_group,
]:
    if not hasattr(ElastiCacheResponse, f.__name__):
        setattr(ElastiCacheResponse, f.__name__, f)


# ---- ECS deployments ---------------------------------------------------------
# moto's services never run tasks: the one deployment stays IN_PROGRESS with
# nothing running, UpdateService leaves it on the old task definition, and
# neither the deployment configuration nor the circuit breaker is kept. This
# plays ECS's rolling deployments instead, in time (see ECS_ROLLOUT below),
# computed whenever a service is read.
from moto.core.utils import utcnow  # noqa: E402
from moto.ecs import models as ecs_models  # noqa: E402
from moto.ecs.exceptions import InvalidParameterException as EcsInvalidParameter  # noqa: E402
from moto.ecs.responses import EC2ContainerServiceResponse  # noqa: E402

ECS_ROLLOUT = 60  # AWS s: a new deployment's tasks start and pass their health checks
ECS_ROLLBACK_LAG = 30  # AWS s: FAILED shows before the circuit breaker's rollback deployment starts
ECS_TASK_START = 30  # AWS s: the tasks of a scale-out start
ECS_DRAIN = 30  # AWS s: a deleted service DRAINING while its tasks stop
ECS_SCALE = 0.01  # AWS time with the AWS-like "transitions" off: a rollout takes 0.6 s
# A container image tagged "fail" or "fail-<anything>" never starts (see ecs_failing).
FAIL_IMAGE = re.compile(r":fail(-[^/:@]*)?$")
# A RunTask container whose image is tagged "exit-N" or "exit-N-<anything>"
# exits N, whatever its command (a command that is not `sh -c` runs as 0).
EXIT_IMAGE = re.compile(r":exit-(\d+)(-[^/:@]*)?$")
DEFAULT_DEPLOYMENT_CONFIGURATION = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}
_ECS_LOCK = threading.RLock()


def _ecs_seconds(aws_seconds):
    scale = aws_like.scale_of("transitions")
    return aws_seconds * (ECS_SCALE if scale is None else scale)


def ecs_failing(task_definition):
    """Whether the task definition's tasks fail to start: an essential container's image is tagged fail[-...]."""
    return any(
        c.get("essential", True) is not False and FAIL_IMAGE.search(str(c.get("image") or ""))
        for c in getattr(task_definition, "container_definitions", None) or []
    )


def _ecs_event(svc, message):
    svc.events.insert(0, {"id": str(uuid.uuid4()), "createdAt": utcnow(), "message": f"(service {svc.name}) {message}"})
    del svc.events[100:]


def _ecs_deployment(svc, task_definition_arn, start, reason=None, ident=None):
    ident = ident or f"ecs-svc/{uuid.uuid4().int % 10**19:019d}"
    try:
        failing = ecs_failing(svc._backend.describe_task_definition(task_definition_arn))
    except Exception:
        failing = False
    now = utcnow()
    return {
        "id": ident,
        "status": "PRIMARY",
        "taskDefinition": task_definition_arn,
        "desiredCount": svc.desired_count,
        "pendingCount": svc.desired_count,
        "runningCount": 0,
        "failedTasks": 0,
        "createdAt": now,
        "updatedAt": now,
        "launchType": svc.launch_type,
        "platformVersion": svc.platform_version or ("1.4.0" if svc.launch_type == "FARGATE" else None),
        "platformFamily": "Linux" if svc.launch_type == "FARGATE" else None,
        "networkConfiguration": svc.network_configuration or None,
        "rolloutState": "IN_PROGRESS",
        "rolloutStateReason": reason or f"ECS deployment {ident} in progress.",
        # Private (the serializer reads only the Deployment shape's members).
        "_due": start + _ecs_seconds(ECS_ROLLOUT),
        "_start": start,
        "_fails": failing,
    }


def _ecs_advance(svc, deployments):
    """Settles the deployments' transitions due by now, in order."""
    now = time.monotonic()
    breaker = (getattr(svc, "deployment_configuration", None) or {}).get("deploymentCircuitBreaker") or {}
    for _ in range(8):
        p = deployments[0]
        if p["rolloutState"] == "IN_PROGRESS" and p["_fails"]:
            # ECS replaces the tasks that fail to start, one batch per attempt.
            until = min(now, p["_due"]) if breaker.get("enable") else now
            tries = 1 + int((until - p["_start"]) // max(_ecs_seconds(ECS_ROLLOUT) / 3, 1e-6))
            p["failedTasks"] = max(1, p["desiredCount"]) * tries if now >= p["_start"] else 0
        if p["rolloutState"] == "IN_PROGRESS" and now >= p["_due"]:
            if p["_fails"] and not breaker.get("enable"):
                break  # without the circuit breaker ECS keeps trying for ever
            p["updatedAt"] = utcnow()
            if p["_fails"]:
                p.update(rolloutState="FAILED", runningCount=0, pendingCount=0,
                         rolloutStateReason="ECS deployment circuit breaker: tasks failed to start.")
                _ecs_event(svc, f"(deployment {p['id']}) deployment failed: tasks failed to start.")
                good = svc.__dict__.get("_morket_good")
                if breaker.get("rollback") and good:
                    p["_rollback_at"] = p["_due"] + _ecs_seconds(ECS_ROLLBACK_LAG)
                continue
            p.update(rolloutState="COMPLETED", rolloutStateReason=f"ECS deployment {p['id']} completed.",
                     runningCount=p["desiredCount"], pendingCount=0)
            del deployments[1:]  # the older deployments' tasks are drained
            svc.__dict__["_morket_good"] = (p["id"], p["taskDefinition"])
            _ecs_event(svc, f"(deployment {p['id']}) deployment completed.")
            _ecs_event(svc, "has reached a steady state.")
            continue
        if p["rolloutState"] == "FAILED" and p.get("_rollback_at") and now >= p["_rollback_at"]:
            good_id, good_td = svc.__dict__["_morket_good"]
            start = p.pop("_rollback_at")
            p.update(status="ACTIVE", updatedAt=utcnow())
            deployments.insert(0, _ecs_deployment(
                svc, good_td, start, reason=f"ECS deployment circuit breaker: rolling back to deploymentId {good_id}."))
            svc.task_definition = good_td
            _ecs_event(svc, f"rolling back to deployment {good_id}.")
            continue
        if p["rolloutState"] == "COMPLETED" and p.get("_ready_at") and now >= p["_ready_at"]:
            del p["_ready_at"]
            p.update(runningCount=p["desiredCount"], pendingCount=0, updatedAt=utcnow())
            _ecs_event(svc, "has reached a steady state.")
            continue
        break


def _ecs_model(svc):
    return svc.__dict__.get("_morket_deployments")


def _get_deployments(svc):
    m = _ecs_model(svc)
    if m is None:
        return svc.__dict__.get("_moto_deployments", [])
    with _ECS_LOCK:
        _ecs_advance(svc, m)
    return m


def _ecs_count(key):
    def get(svc):
        if _ecs_model(svc) is None:
            return svc.__dict__.get(f"_moto_{key}", 0)
        return sum(d[key] for d in _get_deployments(svc))

    def put(svc, value):
        # moto's own bookkeeping (it "runs" a scaled-out count at once); ours is computed.
        svc.__dict__[f"_moto_{key}"] = value

    return property(get, put)


ecs_models.Service.deployments = property(
    _get_deployments, lambda svc, value: svc.__dict__.__setitem__("_moto_deployments", value))
ecs_models.Service.running_count = _ecs_count("runningCount")
ecs_models.Service.pending_count = _ecs_count("pendingCount")

_validate_network = ecs_models.Service._validate_network


def _validate_network_with_defaults(self, nc):
    # AWS takes a missing securityGroups (the VPC's default group) and assignPublicIp (DISABLED).
    c = (nc or {}).get("awsvpcConfiguration")
    if isinstance(c, dict):
        c.setdefault("securityGroups", [])
        c.setdefault("assignPublicIp", "DISABLED")
    return _validate_network(self, nc)


ecs_models.Service._validate_network = _validate_network_with_defaults


def _deployment_configuration(old, new):
    merged = json.loads(json.dumps(old or DEFAULT_DEPLOYMENT_CONFIGURATION))
    for k, v in (new or {}).items():
        merged[k] = v
    return merged


_ecs_create_service = EC2ContainerServiceResponse.create_service
_ecs_update_service = EC2ContainerServiceResponse.update_service


def _create_service(self):
    params = self._get_params()
    backend = self.ecs_backend
    name = params.get("serviceName")
    token = params.get("clientToken")
    try:
        existing = backend._get_service(params.get("cluster") or "default", name or "")
    except Exception:
        existing = None
    if existing is not None and existing.status != "INACTIVE":
        # AWS: the same client token answers the service again; anything else is refused.
        if token and existing.__dict__.get("_morket_token") == token:
            return ActionResult({"service": existing})
        raise EcsInvalidParameter("Creation of service was not idempotent.")
    result = _ecs_create_service(self)
    svc = result.result["service"]
    svc.__dict__["_morket_token"] = token
    svc.deployment_configuration = _deployment_configuration(None, params.get("deploymentConfiguration"))
    svc.enable_execute_command = bool(params.get("enableExecuteCommand"))
    if params.get("healthCheckGracePeriodSeconds") is not None:
        svc.health_check_grace_period_seconds = params["healthCheckGracePeriodSeconds"]
    if svc.deployment_controller.get("type") == "ECS" and svc.task_definition:
        first = (svc.__dict__.get("_moto_deployments") or [{}])[0].get("id")
        with _ECS_LOCK:
            svc.__dict__["_morket_deployments"] = [
                _ecs_deployment(svc, svc.task_definition, time.monotonic(), ident=first)]
    return result


# UpdateService parameters that start a new deployment (desiredCount, the
# deployment configuration, grace period and execute-command alone do not).
NEW_DEPLOYMENT = ("network_configuration", "load_balancers", "service_registries", "platform_version",
                  "capacity_provider_strategy")


def _update_service(self):
    params = self._get_params()
    backend = self.ecs_backend
    try:
        svc = backend._get_service(params.get("cluster") or "default", (params.get("service") or "").split("/")[-1])
    except Exception:
        return _ecs_update_service(self)  # moto answers the error
    m = _ecs_model(svc)
    if m is None:
        return _ecs_update_service(self)
    before = {k: json.dumps(getattr(svc, k, None), sort_keys=True, default=str) for k in NEW_DEPLOYMENT}
    old_dc = getattr(svc, "deployment_configuration", None)
    with _ECS_LOCK:
        _ecs_advance(svc, m)
        primary_td = m[0]["taskDefinition"]
        # moto's forceNewDeployment renames the first deployment; ours makes a new one.
        saved = [(d, d["id"], d["createdAt"], d["updatedAt"]) for d in m]
    result = _ecs_update_service(self)
    with _ECS_LOCK:
        for d, ident, created, updated in saved:
            d.update(id=ident, createdAt=created, updatedAt=updated)
        if params.get("taskDefinition"):
            # AWS answers the ARN, whatever named the revision.
            svc.task_definition = backend.describe_task_definition(params["taskDefinition"]).arn
        if "deploymentConfiguration" in params:
            svc.deployment_configuration = _deployment_configuration(old_dc, params["deploymentConfiguration"])
        if "networkConfiguration" in params:
            svc.network_configuration = _validate_network_with_defaults(svc, params["networkConfiguration"])
        changed = any(json.dumps(getattr(svc, k, None), sort_keys=True, default=str) != before[k]
                      for k in NEW_DEPLOYMENT)
        now = time.monotonic()
        if svc.task_definition != primary_td or params.get("forceNewDeployment") or changed:
            for d in m:
                if d["status"] == "PRIMARY":
                    d.update(status="ACTIVE", updatedAt=utcnow())
                    d.pop("_rollback_at", None)  # a newer deployment supersedes the breaker's rollback
            m.insert(0, _ecs_deployment(svc, svc.task_definition, now))
        elif svc.desired_count != m[0]["desiredCount"]:
            p = m[0]
            p.update(desiredCount=svc.desired_count, updatedAt=utcnow())
            if p["rolloutState"] == "COMPLETED":
                if svc.desired_count > p["runningCount"]:
                    p["_ready_at"] = now + _ecs_seconds(ECS_TASK_START)
                else:
                    p["runningCount"] = svc.desired_count
                p["pendingCount"] = svc.desired_count - p["runningCount"]
            else:
                p["pendingCount"] = svc.desired_count
    return result


EC2ContainerServiceResponse.create_service = _create_service
EC2ContainerServiceResponse.update_service = _update_service


# DeleteService: AWS answers DRAINING and reads it until the tasks stopped,
# then INACTIVE (moto: INACTIVE at once); meanwhile the name cannot be reused.
def _service_status(svc):
    raw = svc.__dict__.get("_moto_status", "ACTIVE")
    if raw == "INACTIVE" and svc.__dict__.get("_morket_inactive_at", 0) > time.monotonic():
        return "DRAINING"
    return raw


ecs_models.Service.status = property(_service_status, lambda svc, v: svc.__dict__.__setitem__("_moto_status", v))
_ecs_delete_service = EC2ContainerServiceResponse.delete_service


def _delete_service(self):
    params = self._get_params()
    try:
        svc = self.ecs_backend._get_service(params.get("cluster") or "default", params.get("service") or "")
    except Exception:
        svc = None
    if svc is not None and svc.status != "ACTIVE":
        raise ServiceNotActive("Service was not ACTIVE.")
    result = _ecs_delete_service(self)
    svc = result.result["service"]
    if svc.status == "INACTIVE" and "_morket_inactive_at" not in svc.__dict__:
        svc.__dict__["_morket_inactive_at"] = time.monotonic() + _ecs_seconds(ECS_DRAIN)
        svc.desired_count = 0
    return result


class ClusterContainsServices(EcsInvalidParameter):
    code = "ClusterContainsServicesException"


class ServiceNotActive(EcsInvalidParameter):
    code = "ServiceNotActiveException"


_ecs_delete_cluster = EC2ContainerServiceResponse.delete_cluster


def _delete_cluster(self):
    # AWS refuses while services are ACTIVE or DRAINING (moto deletes anyway).
    try:
        cluster = self.ecs_backend._get_cluster(self._get_param("cluster") or "default")
    except Exception:
        return _ecs_delete_cluster(self)
    if any(s.cluster_name == cluster.name and s.status != "INACTIVE" for s in self.ecs_backend.services.values()):
        raise ClusterContainsServices("The Cluster cannot be deleted while Services are active.")
    return _ecs_delete_cluster(self)


EC2ContainerServiceResponse.delete_service = _delete_service
EC2ContainerServiceResponse.delete_cluster = _delete_cluster


# ---- ECS one-off tasks (RunTask) -----------------------------------------------
# moto runs nothing in a task and never stops one by itself (desiredStatus
# RUNNING for ever). A task started by RunTask plays a Fargate task instead, in
# AWS seconds on the ECS scale above (_ecs_seconds), computed whenever it is
# read: PROVISIONING while its ENI attaches, PENDING while the image is pulled,
# RUNNING while the container's command runs (see _ecs_plan), then, as ECS's
# task lifecycle goes, desiredStatus STOPPED and DEPROVISIONING while the ENI
# is released, then STOPPED. Tasks of services are untouched (moto's services
# never start one). The state lives on moto's Task objects, so a reset clears it.
import shlex  # noqa: E402
from datetime import timedelta  # noqa: E402

from moto.core.utils import unix_time_millis  # noqa: E402
from moto.ec2.models import ec2_backends  # noqa: E402
from moto.logs.models import logs_backends  # noqa: E402
from moto.logs.responses import LogsResponse  # noqa: E402

ECS_TASK_PROVISION = 8  # AWS s: PROVISIONING, the task's ENI attaching (connectivityAt, pullStartedAt)
ECS_TASK_PULL = 10  # AWS s: PENDING, the image pulling (pullStoppedAt; a fail image fails here)
ECS_TASK_LAUNCH = 2  # AWS s: the container created and started (startedAt: 20 s after RunTask)
ECS_TASK_STEP = 0.1  # AWS s: each shell statement (echo ...) of the command
ECS_TASK_EXIT = 1  # AWS s: the process exits after its last statement
ECS_TASK_DEPROVISION = 10  # AWS s: DEPROVISIONING after the container exited, before STOPPED
SHELLS = ("sh", "/bin/sh", "bash", "/bin/bash")
LOGGER_FAILED = (
    "ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: "
    "failed to create Cloudwatch log stream: ResourceNotFoundException: The specified log group does not "
    "exist. : exit status 1")


def _ecs_statements(script):
    """The script's statements: split on newlines, ';' and '&&' outside quotes; comments dropped."""
    out, cur, quote, i = [], [], None, 0
    while i < len(script):
        ch = script[i]
        if ch == "\\" and quote != "'" and i + 1 < len(script):
            cur.append(script[i:i + 2])
            i += 2
            continue
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "\n;" or script.startswith("&&", i):
            out.append("".join(cur).strip())
            cur, i = [], i + (2 if ch == "&" else 1)
            continue
        cur.append(ch)
        i += 1
    out.append("".join(cur).strip())
    return [s for s in out if s and not s.startswith("#")]


def _ecs_plan(argv, image):
    """What the container "runs": ([(AWS s after its start, log line)], exit code, AWS s it runs).

    ["sh", "-c", SCRIPT] (also /bin/sh, bash): each statement of SCRIPT in turn,
    `echo WORDS` logs WORDS (shell-unquoted), `exit N` exits N, `sleep N` takes N
    seconds, anything else logs "moto peer: not run: <statement>". Any other
    command exits 0 with one line "moto peer: ran <command>".
    """
    if len(argv) >= 3 and argv[0] in SHELLS and argv[1] == "-c":
        t, lines, code = 0.0, [], 0
        for stmt in _ecs_statements(argv[2]):
            t += ECS_TASK_STEP
            try:
                words = shlex.split(stmt)
            except ValueError:
                words = []
            if words[:1] == ["echo"]:
                lines.append((t, " ".join(words[1:])))
            elif words[:1] == ["exit"] and (len(words) == 1 or len(words) == 2 and words[1].isdigit()):
                code = int(words[1]) % 256 if len(words) == 2 else 0
                break
            elif words[:1] == ["sleep"] and len(words) == 2 and re.fullmatch(r"\d+(\.\d*)?", words[1]):
                t += float(words[1])
            else:
                lines.append((t, f"moto peer: not run: {stmt}"))
        return lines, code, t + ECS_TASK_EXIT
    what = " ".join(argv) if argv else f"{image} (its image's command)"
    failing = EXIT_IMAGE.search(str(image or ""))
    if failing:
        # A program the test cannot script (an entrypoint baked into the image) failing.
        code = int(failing.group(1)) % 256
        lines = [(ECS_TASK_STEP, f"moto peer: ran {what}"),
                 (2 * ECS_TASK_STEP, f"moto peer: {image} exits with code {code}")]
        return lines, code, 2 * ECS_TASK_STEP + ECS_TASK_EXIT
    return [(ECS_TASK_STEP, f"moto peer: ran {what}")], 0, ECS_TASK_STEP + ECS_TASK_EXIT


def _image_ref(image):
    # containerd's fully qualified reference, as the pull error names it.
    first = image.split("/")[0]
    if "/" in image and ("." in first or ":" in first or first == "localhost"):
        return image
    return "docker.io/" + (image if "/" in image else "library/" + image)


def _ecs_log_target(task, d):
    """(account, region, group, stream, create-group) of an awslogs container, else None."""
    conf = d.get("logConfiguration") or {}
    opts = conf.get("options") or {}
    if conf.get("logDriver") != "awslogs" or not opts.get("awslogs-group"):
        return None
    prefix = opts.get("awslogs-stream-prefix")
    # ECS names the stream prefix/container-name/task-id.
    stream = f"{prefix}/{d.get('name')}/{task.id}" if prefix else task.id
    return (task._account_id, opts.get("awslogs-region") or task.region_name, opts["awslogs-group"], stream,
            str(opts.get("awslogs-create-group", "")).lower() == "true")


def _ecs_task_start(backend, task, overrides):
    """Gives a RunTask task its run: one container per definition, their plans, the times."""
    td = backend.describe_task_definition(task.task_definition_arn)
    by_name = {o.get("name"): o for o in (overrides or {}).get("containerOverrides") or []}
    t0 = time.monotonic()
    pending = t0 + _ecs_seconds(ECS_TASK_PROVISION)
    pulled = pending + _ecs_seconds(ECS_TASK_PULL)
    running = pulled + _ecs_seconds(ECS_TASK_LAUNCH)
    partition = task.task_arn.split(":")[1]
    eni = {d["name"]: d["value"] for a in task.attachments for d in a.get("details", [])}
    run = {"t0": t0, "wall0": utcnow(), "containers": [], "eni": eni.get("networkInterfaceId"),
           "events": {"connectivityAt": pending, "pullStartedAt": pending, "pullStoppedAt": pulled,
                      "startedAt": running}}
    task.containers = []
    failure = None
    for d in td.container_definitions:
        c = ecs_models.Container(td)
        c.name, c.image = d.get("name"), d.get("image")
        c.cpu, c.memory, c.environment = d.get("cpu", 0), d.get("memory"), d.get("environment")
        # AWS: the container's taskArn is the task's, its ARN container/<cluster>/<task id>/<uuid>.
        c.task_arn = task.task_arn
        c.container_arn = (f"arn:{partition}:ecs:{task.region_name}:{task._account_id}:container/"
                           f"{task.cluster_name}/{task.id}/{uuid.uuid4()}")
        c.health_status = "HEALTHY" if d.get("healthCheck") else "UNKNOWN"  # AWS: UNKNOWN without a health check
        if eni.get("privateIPv4Address"):
            c.network_interfaces = [{"attachmentId": task.attachments[0]["id"],
                                     "privateIpv4Address": eni["privateIPv4Address"]}]
        o = by_name.get(d.get("name")) or {}
        command = o["command"] if o.get("command") is not None else d.get("command")
        lines, code, took = _ecs_plan(list(d.get("entryPoint") or []) + list(command or []), c.image)
        essential = d.get("essential", True) is not False
        target = _ecs_log_target(task, d)
        m = {"essential": essential, "code": code, "exit_at": running + _ecs_seconds(took),
             "lines": [(running + _ecs_seconds(t), text) for t, text in lines], "written": 0,
             "log": target, "stream": False, "reason": None}
        if failure is None and essential and FAIL_IMAGE.search(str(c.image or "")):
            ref = _image_ref(str(c.image))
            m["reason"] = (f"CannotPullContainerError: pull image manifest has been retried 5 time(s): "
                           f"failed to resolve ref {ref}: {ref}: not found")
            failure = (pulled, m["reason"])
        if target and not target[4]:
            groups = logs_backends[target[0]][target[1]].groups
            if target[2] not in groups and (failure is None or failure[0] > running):
                failure = (running, LOGGER_FAILED)  # the logger is checked as the container is created
        c.__dict__["_morket"] = (run, m)
        task.containers.append(c)
        run["containers"].append(m)
    if failure is not None:
        halt, reason = failure
        run.update(stop_code="TaskFailedToStart", reason=reason)
    else:
        halt = min((m["exit_at"] for m in run["containers"] if m["essential"]),
                   default=max(m["exit_at"] for m in run["containers"]))
        run.update(stop_code="EssentialContainerExited", reason="Essential container in task exited")
    _ecs_halt(run, halt)
    if task.launch_type == "FARGATE" and task.platform_version in (None, "", "LATEST"):
        task.platform_version = "1.4.0"  # AWS answers the version LATEST resolved to
    task.cpu, task.memory = td.cpu, td.memory
    task.started_by = task.started_by or None  # AWS leaves out a startedBy not given (moto: "")
    try:
        subnet = (task.network_configuration or {}).get("awsvpcConfiguration", {}).get("subnets", [None])[0]
        task.availability_zone = ec2_backends[task._account_id][task.region_name].get_subnet(subnet).availability_zone
    except Exception:
        pass
    task.__dict__["_morket_run"] = run


def _ecs_halt(run, at):
    # The task's run ends at `at` (its essential container exited, it failed to
    # start, or StopTask): what had not happened by then never will.
    run["halt"] = at
    run["stopped"] = at + _ecs_seconds(ECS_TASK_DEPROVISION)
    run["events"] = {k: v for k, v in run["events"].items() if v < at}
    run["events"].update(stoppingAt=at, executionStoppedAt=at, stoppedAt=run["stopped"])


def _ecs_wall(run, at):
    return run["wall0"] + timedelta(seconds=at - run["t0"])


def _ecs_run_status(run, now):
    if now >= run["stopped"]:
        return "STOPPED"
    if now >= run["halt"]:
        return "DEPROVISIONING"
    for status, key in (("RUNNING", "startedAt"), ("PENDING", "connectivityAt")):
        if now >= run["events"].get(key, float("inf")):
            return status
    return "PROVISIONING"


def _ecs_task_field(name, compute):
    """A Task attribute computed from its run (RunTask tasks), else moto's own value."""
    def get(task):
        run = task.__dict__.get("_morket_run")
        if run is None:
            return task.__dict__.get(f"_moto_{name}")
        return compute(run, time.monotonic())

    return property(get, lambda task, v: task.__dict__.__setitem__(f"_moto_{name}", v))


def _ecs_event_field(key):
    def compute(run, now):
        at = run["events"].get(key)
        return _ecs_wall(run, at) if at is not None and now >= at else None
    return _ecs_task_field(key, compute)


_moto_task_status = ecs_models.Task.last_status
ecs_models.Task.last_status = property(
    lambda task: _ecs_run_status(task.__dict__["_morket_run"], time.monotonic())
    if "_morket_run" in task.__dict__ else _moto_task_status.fget(task),
    _moto_task_status.fset)
ecs_models.Task.desired_status = _ecs_task_field(
    "desired_status", lambda run, now: "STOPPED" if now >= run["halt"] else "RUNNING")
ecs_models.Task.stopped_reason = _ecs_task_field(
    "stopped_reason", lambda run, now: run["reason"] if now >= run["halt"] else None)
ecs_models.Task.stop_code = _ecs_task_field(
    "stop_code", lambda run, now: run["stop_code"] if now >= run["halt"] else None)
ecs_models.Task.created_at = _ecs_task_field("created_at", lambda run, now: run["wall0"])
ecs_models.Task.connectivity = _ecs_task_field(
    "connectivity", lambda run, now: "CONNECTED" if now >= run["events"].get("connectivityAt", now + 1) else None)
for _key in ("connectivityAt", "pullStartedAt", "pullStoppedAt", "startedAt", "stoppingAt", "executionStoppedAt",
             "stoppedAt"):
    setattr(ecs_models.Task, re.sub(r"([A-Z])", r"_\1", _key).lower(), _ecs_event_field(_key))


def _ecs_container_field(name, compute):
    def get(c):
        x = c.__dict__.get("_morket")
        if x is None:
            return c.__dict__.get(f"_moto_{name}")
        run, m = x
        now = time.monotonic()
        started = "startedAt" in run["events"]
        end = min(m["exit_at"], run["halt"]) if started else run["halt"]
        return compute(run, m, now, started, end)

    return property(get, lambda c, v: c.__dict__.__setitem__(f"_moto_{name}", v))


ecs_models.Container.last_status = _ecs_container_field(
    "last_status", lambda run, m, now, started, end:
    "STOPPED" if now >= end else "RUNNING" if started and now >= run["events"]["startedAt"] else "PENDING")
# A container still running when the task stops is sent SIGTERM: 143.
ecs_models.Container.exitCode = _ecs_container_field(
    "exitCode", lambda run, m, now, started, end:
    (m["code"] if m["exit_at"] <= run["halt"] else 143) if started and now >= end else None)
ecs_models.Container.reason = _ecs_container_field(
    "reason", lambda run, m, now, started, end: m["reason"] if now >= end else None)


def _ecs_settle(task):
    """Writes what the task's containers logged by now (AWS streams it as it runs); releases its ENI once STOPPED."""
    run = task.__dict__.get("_morket_run")
    if run is None or run.get("settled"):
        return
    now = time.monotonic()
    if "startedAt" in run["events"] and now >= run["events"]["startedAt"]:
        for m in run["containers"]:
            if m["log"] is None or m["written"] == len(m["lines"]):
                continue
            account, region, group, stream, create = m["log"]
            logs = logs_backends[account][region]
            try:
                if not m["stream"]:
                    if create and group not in logs.groups:
                        logs.create_log_group(group, {})
                    logs.ensure_log_stream(group, stream)
                    m["stream"] = True
                due = [ln for ln in m["lines"][m["written"]:] if ln[0] <= min(now, m["exit_at"], run["halt"])]
                if due:
                    logs.put_log_events(group, stream, [
                        {"timestamp": int(unix_time_millis(_ecs_wall(run, at))), "message": text} for at, text in due])
                    m["written"] += len(due)
            except Exception:
                m["written"] = len(m["lines"])  # the group went away meanwhile: the lines are lost
    if now >= run["stopped"]:
        for a in task.attachments:
            a["status"] = "DELETED"
        if run.get("eni"):
            try:
                ec2_backends[task._account_id][task.region_name].delete_network_interface(run["eni"])
            except Exception:
                pass
        run["settled"] = True


def _ecs_settle_backend(backend):
    with _ECS_LOCK:
        for tasks in backend.tasks.values():
            for task in tasks.values():
                _ecs_settle(task)


def _ecs_find_task(backend, cluster, ref):
    name = backend._get_cluster(cluster or "default").name  # ClusterNotFoundException as moto answers it
    ident = (ref or "").split("/")[-1]
    return next((t for arn, t in backend.tasks.get(name, {}).items() if ident and arn.split("/")[-1] == ident), None)


# Fargate containers may leave memory to the task: moto summed None and answered 500.
_ecs_requirements = ecs_models.EC2ContainerServiceBackend._calculate_task_resource_requirements


def _ecs_requirements_task_memory(task_definition):
    defs = [c if c.get("memory") or c.get("memoryReservation") or c.get("Memory") or c.get("MemoryReservation")
            else {**c, "memory": 0} for c in task_definition.container_definitions]
    return _ecs_requirements(type("TaskDefinition", (), {"container_definitions": defs})())


ecs_models.EC2ContainerServiceBackend._calculate_task_resource_requirements = staticmethod(
    _ecs_requirements_task_memory)
_ecs_run_task = EC2ContainerServiceResponse.run_task
_ecs_describe_tasks = EC2ContainerServiceResponse.describe_tasks
_ecs_list_tasks = EC2ContainerServiceResponse.list_tasks
_ecs_stop_task = EC2ContainerServiceResponse.stop_task


def _run_task(self):
    nc = self._get_param("networkConfiguration")
    if isinstance(nc, dict):
        c = nc.get("awsvpcConfiguration")
        if isinstance(c, dict):
            # AWS takes a missing securityGroups (the VPC's default group); moto answered 500.
            c.setdefault("securityGroups", [])
            c.setdefault("assignPublicIp", "DISABLED")
    result = _ecs_run_task(self)
    with _ECS_LOCK:
        for task in result.result["tasks"]:
            _ecs_task_start(self.ecs_backend, task, self._get_param("overrides"))
    return result


def _describe_tasks(self):
    _ecs_settle_backend(self.ecs_backend)
    result = _ecs_describe_tasks(self)
    # AWS answers a task it does not know as a failure, reason MISSING.
    found = {t.task_arn for t in result.result["tasks"]}
    found |= {a.split("/")[-1] for a in found}
    result.result["failures"] = [{"arn": ref, "reason": "MISSING"} for ref in self._get_param("tasks", [])
                                 if ref not in found and ref.split("/")[-1] not in found]
    return result


def _list_tasks(self):
    _ecs_settle_backend(self.ecs_backend)
    result = _ecs_list_tasks(self)
    if not self._get_param("desiredStatus"):
        # AWS lists the tasks whose desiredStatus is RUNNING unless told otherwise.
        running = {arn for tasks in self.ecs_backend.tasks.values() for arn, t in tasks.items()
                   if t.desired_status == "RUNNING"}
        result.result["taskArns"] = [a for a in result.result["taskArns"] if a in running]
    return result


def _stop_task(self):
    task = _ecs_find_task(self.ecs_backend, self._get_param("cluster"), self._get_param("task"))
    if task is None:
        raise EcsInvalidParameter("The referenced task was not found.")  # moto: 500
    with _ECS_LOCK:
        run = task.__dict__.get("_morket_run")
        now = time.monotonic()
        if run is not None and now < run["halt"]:
            run.update(stop_code="UserInitiated", reason=self._get_param("reason") or "Task stopped by user")
            _ecs_halt(run, now)
        _ecs_settle(task)
    return _ecs_stop_task(self)


EC2ContainerServiceResponse.run_task = _run_task
EC2ContainerServiceResponse.describe_tasks = _describe_tasks
EC2ContainerServiceResponse.list_tasks = _list_tasks
EC2ContainerServiceResponse.stop_task = _stop_task


def _logs_settling_tasks(read):
    # A task's lines reach its log stream by the time they are read, even if the task was not described since.
    def settled(self):
        for backend in dict.values(dict.get(ecs_models.ecs_backends, self.get_current_account()) or {}):
            _ecs_settle_backend(backend)
        return read(self)

    return settled


for _name in ("get_log_events", "filter_log_events", "describe_log_streams"):
    setattr(LogsResponse, _name, _logs_settling_tasks(getattr(LogsResponse, _name)))


# ---- AWS Backup selections and plan updates -----------------------------------
# moto 5.2 has backup plans and vaults but no selections and no
# UpdateBackupPlan (both answer 500), deletes a plan that still has selections
# and "deletes" a vault that does not exist. These follow the AWS Backup API
# reference; they live on moto's backend, so /moto-api/reset clears them.
from moto.backup.exceptions import (  # noqa: E402
    AlreadyExistsException as BackupAlreadyExists,
    BackupClientError,
    InvalidParameterValueException as BackupInvalidParameter,
    InvalidRequestException as BackupInvalidRequest,
    ResourceNotFoundException as BackupNotFound,
)
from moto.backup.models import Vault as BackupVault  # noqa: E402
from moto.backup.responses import BackupResponse  # noqa: E402
from moto.core.utils import unix_time  # noqa: E402


class BackupMissingParameter(BackupClientError):
    def __init__(self, msg):
        super().__init__("MissingParameterValueException", msg)


SELECTION_NAME = re.compile(r"^[a-zA-Z0-9\-_.]{1,50}$")
VAULT_NAME = re.compile(r"^[a-zA-Z0-9\-_]{2,50}$")
ROLE_ARN = re.compile(r"^arn:aws[\w-]*:iam::\d{12}:role/\S+$")
CONDITION_TYPES = ("StringEquals", "StringLike", "StringNotEquals", "StringNotLike")


def _selections(backend):
    # plan id -> {selection id -> selection}
    if not hasattr(backend, "_morket_selections"):
        backend._morket_selections = {}
    return backend._morket_selections


def _live_plan(backend, plan_id):
    plan = backend.plans.get(plan_id)
    if plan is None or plan.deletion_date is not None:
        raise BackupNotFound(f"Failed reading Backup plan with provided version (plan {plan_id})")
    return plan


def _path_ids(self):
    # /backup/plans/{backupPlanId}[/selections/[{selectionId}]]
    parts = [p for p in self.path.split("?")[0].split("/") if p]
    plan_id = parts[2] if len(parts) > 2 else ""
    selection_id = parts[4] if len(parts) > 4 else None
    return plan_id, selection_id


def _selection_body(sel):
    if not isinstance(sel, dict):
        raise BackupMissingParameter("BackupSelection is required.")
    for key in ("SelectionName", "IamRoleArn"):
        if not sel.get(key):
            raise BackupMissingParameter(f"{key} is required.")
    if not SELECTION_NAME.match(sel["SelectionName"]):
        raise BackupInvalidParameter(
            f"Invalid selection name {sel['SelectionName']}: 1 to 50 alphanumeric or '-_.' characters.")
    if not ROLE_ARN.match(sel["IamRoleArn"]):
        raise BackupInvalidParameter(f"Invalid ARN {sel['IamRoleArn']}")
    for t in sel.get("ListOfTags") or []:
        if t.get("ConditionType") != "STRINGEQUALS":
            raise BackupInvalidParameter(f"Invalid ConditionType {t.get('ConditionType')}: must be STRINGEQUALS.")
    if not (sel.get("Resources") or sel.get("ListOfTags")):
        raise BackupInvalidParameter("A backup selection needs Resources or ListOfTags.")
    conditions = sel.get("Conditions") or {}
    # AWS answers every list, empty where none was given.
    return {
        "SelectionName": sel["SelectionName"],
        "IamRoleArn": sel["IamRoleArn"],
        "Resources": list(sel.get("Resources") or []),
        "ListOfTags": list(sel.get("ListOfTags") or []),
        "NotResources": list(sel.get("NotResources") or []),
        "Conditions": {k: list(conditions.get(k) or []) for k in CONDITION_TYPES},
    }


def create_backup_selection(self):
    plan_id, _ = _path_ids(self)
    backend = self.backup_backend
    _live_plan(backend, plan_id)
    params = json.loads(self.body or "{}")
    token = params.get("CreatorRequestId")
    selection = _selection_body(params.get("BackupSelection"))
    plan_selections = _selections(backend).setdefault(plan_id, {})
    for s in plan_selections.values():
        if token and s["CreatorRequestId"] == token:
            if s["BackupSelection"] != selection:
                raise BackupAlreadyExists(f"A selection with CreatorRequestId {token} already exists.")
            # The same request again (a retry): the same selection.
            return json.dumps({k: s[k] for k in ("SelectionId", "BackupPlanId", "CreationDate")})
    selection_id = str(uuid.uuid4())
    plan_selections[selection_id] = {
        "SelectionId": selection_id,
        "BackupPlanId": plan_id,
        "CreationDate": unix_time(),
        "CreatorRequestId": token,
        "BackupSelection": selection,
    }
    return json.dumps({"SelectionId": selection_id, "BackupPlanId": plan_id,
                       "CreationDate": plan_selections[selection_id]["CreationDate"]})


def _selection(self):
    plan_id, selection_id = _path_ids(self)
    s = _selections(self.backup_backend).get(plan_id, {}).get(selection_id or "")
    if s is None:
        raise BackupNotFound(f"Failed reading backup selection {selection_id} of plan {plan_id}")
    return plan_id, selection_id, s


def get_backup_selection(self):
    _, _, s = _selection(self)
    return json.dumps({k: v for k, v in s.items() if v is not None})


def delete_backup_selection(self):
    plan_id, selection_id, _ = _selection(self)
    del _selections(self.backup_backend)[plan_id][selection_id]
    return "{}"


def list_backup_selections(self):
    plan_id, _ = _path_ids(self)
    _live_plan(self.backup_backend, plan_id)
    items = sorted(_selections(self.backup_backend).get(plan_id, {}).values(), key=lambda s: s["CreationDate"])
    size = int((self.querystring.get("maxResults") or ["1000"])[0])
    start = int((self.querystring.get("nextToken") or ["0"])[0] or 0)
    page = items[start:start + size]
    out = {"BackupSelectionsList": [
        {k: v for k, v in {
            "SelectionId": s["SelectionId"],
            "SelectionName": s["BackupSelection"]["SelectionName"],
            "BackupPlanId": plan_id,
            "CreationDate": s["CreationDate"],
            "CreatorRequestId": s["CreatorRequestId"],
            "IamRoleArn": s["BackupSelection"]["IamRoleArn"],
        }.items() if v is not None} for s in page]}
    if start + size < len(items):
        out["NextToken"] = str(start + size)
    return json.dumps(out)


def update_backup_plan(self):
    plan_id, _ = _path_ids(self)
    plan = _live_plan(self.backup_backend, plan_id)
    body = json.loads(self.body or "{}").get("BackupPlan")
    if not isinstance(body, dict) or not body.get("BackupPlanName") or not body.get("Rules"):
        raise BackupMissingParameter("BackupPlan with BackupPlanName and Rules is required.")
    old_ids = {r.get("RuleName"): r.get("RuleId") for r in plan.backup_plan.get("Rules", [])}
    for rule in body["Rules"]:
        rule.setdefault("ScheduleExpression", "cron(0 5 ? * * *)")
        rule.setdefault("StartWindowMinutes", 480)
        rule.setdefault("CompletionWindowMinutes", 10080)
        rule.setdefault("ScheduleExpressionTimezone", "Etc/UTC")
        rule["RuleId"] = old_ids.get(rule.get("RuleName")) or str(uuid.uuid4())
    plan.backup_plan = body
    plan.advanced_backup_settings = body.get("AdvancedBackupSettings") or []
    plan.version_id = uuid.uuid4().hex + uuid.uuid4().hex[:16]
    return json.dumps(plan.to_dict())


_delete_backup_plan = BackupResponse.delete_backup_plan


def _delete_backup_plan_without_selections(self):
    plan_id = self.path.split("?")[0].rstrip("/").split("/")[-1]
    if _selections(self.backup_backend).get(plan_id):
        raise BackupInvalidRequest("Related backup plan selections must be deleted prior to backup plan deletion.")
    return _delete_backup_plan(self)


_create_backup_vault = BackupResponse.create_backup_vault
_delete_backup_vault = BackupResponse.delete_backup_vault


def _create_backup_vault_checked(self):
    name = unquote(self.path.split("?")[0].rstrip("/").split("/")[-1])
    if not VAULT_NAME.match(name):
        raise BackupInvalidParameter(f"Invalid backup vault name {name}: 2 to 50 alphanumeric, '-' or '_' characters.")
    return _create_backup_vault(self)


def _delete_backup_vault_checked(self):
    name = unquote(self.path.split("?")[0].rstrip("/").split("/")[-1])
    if name not in self.backup_backend.vaults:
        raise BackupNotFound(f"Backup vault {name} not found")
    return _delete_backup_vault(self)


def list_recovery_points_by_backup_vault(self):
    # Backup jobs never run here: a vault holds no recovery points.
    name = unquote([p for p in self.path.split("?")[0].split("/") if p][1])
    if name not in self.backup_backend.vaults:
        raise BackupNotFound(f"Backup vault {name} not found")
    return json.dumps({"RecoveryPoints": []})


import moto.backup.urls as _backup_urls  # noqa: E402

# moto routes no path under a vault but its lock.
_backup_urls.url_paths["{0}/backup-vaults/(?P<name>[^/]+)/recovery-points/$"] = _backup_urls.response.dispatch

for f in [create_backup_selection, get_backup_selection, delete_backup_selection, list_backup_selections,
          update_backup_plan, list_recovery_points_by_backup_vault]:
    if not hasattr(BackupResponse, f.__name__):
        setattr(BackupResponse, f.__name__, f)
BackupResponse.delete_backup_plan = _delete_backup_plan_without_selections
# DescribeBackupVault's members moto leaves out.
BackupVault.number_of_recovery_points = property(lambda v: v.num_of_recovery_points)
BackupVault.vault_type = "BACKUP_VAULT"
BackupVault.vault_state = "AVAILABLE"
BackupResponse.create_backup_vault = _create_backup_vault_checked
BackupResponse.delete_backup_vault = _delete_backup_vault_checked


# CloudFront ListResponseHeadersPolicies, which moto lacks: AWS's managed
# policies (fixed ids, the same in every account), no custom ones.
MANAGED_HEADERS_POLICIES = [
    ("Managed-CORS-and-SecurityHeadersPolicy", "e61eb60c-9c35-4d20-a928-2b84e02af89c"),
    ("Managed-CORS-With-Preflight", "5cc3b908-e619-4b99-88e5-2cf7f45965bd"),
    ("Managed-CORS-with-preflight-and-SecurityHeadersPolicy", "eaab4381-ed33-4a86-88ca-d9558dc6cd63"),
    ("Managed-SecurityHeadersPolicy", "67f7725c-6f97-4210-82d7-5512b31e9d03"),
    ("Managed-SimpleCORS", "60669652-455b-4ae9-85a4-c4c02393f86c"),
]


def list_response_headers_policies(self):
    kind = self._get_param("Type")
    items = [] if kind == "custom" else [{
        "Type": "managed",
        "ResponseHeadersPolicy": {
            "Id": ident,
            "LastModifiedTime": "2021-11-02T18:00:00Z",
            "ResponseHeadersPolicyConfig": {"Name": name, "Comment": "AWS managed response headers policy"},
        },
    } for name, ident in MANAGED_HEADERS_POLICIES]
    return ActionResult({"ResponseHeadersPolicyList": {"MaxItems": 100, "Quantity": len(items), "Items": items}})


import moto.cloudfront.urls as _cloudfront_urls  # noqa: E402
from moto.cloudfront.responses import CloudFrontResponse  # noqa: E402

_cloudfront_urls.url_paths["{0}/2020-05-31/response-headers-policy$"] = CloudFrontResponse.dispatch
CloudFrontResponse.list_response_headers_policies = list_response_headers_policies


# CloudFront invalidations. moto answers Status "COMPLETED" at once; AWS answers
# "InProgress" and reads "Completed" minutes later (typically 60-300 s). moto
# also makes a new invalidation for a repeated CallerReference, where AWS answers
# the first one again (same batch) or 409 InvalidationBatchAlreadyExists (another
# batch), and lists a missing distribution's invalidations as none (AWS: 404
# NoSuchDistribution). The window runs on the ECS time scale (_ecs_seconds).
from moto.cloudfront.exceptions import CloudFrontException, NoSuchDistribution  # noqa: E402
from moto.cloudfront.models import Invalidation as _CfInvalidation  # noqa: E402

CF_INVALIDATION = 60  # AWS s: an invalidation InProgress
_cf_invalidation_init = _CfInvalidation.__init__


def _cf_invalidation_in_progress(self, *args, **kwargs):
    _cf_invalidation_init(self, *args, **kwargs)
    self.__dict__["_morket_done_at"] = time.monotonic() + _ecs_seconds(CF_INVALIDATION)


_CfInvalidation.__init__ = _cf_invalidation_in_progress
_CfInvalidation.status = property(
    lambda inv: "InProgress" if inv.__dict__.get("_morket_done_at", 0) > time.monotonic() else "Completed",
    lambda inv, v: None)
_cf_create_invalidation = CloudFrontResponse.create_invalidation
_cf_list_invalidations = CloudFrontResponse.list_invalidations


def _create_invalidation_once(self):
    paths = self._get_param("InvalidationBatch.Paths.Items", []) or []
    ref = self._get_param("InvalidationBatch.CallerReference")
    dist_id = self._get_param("DistributionId")
    for inv in self.backend.invalidations.get(dist_id, []) if dist_id in self.backend.distributions else []:
        if inv.caller_ref != ref:
            continue
        if sorted(inv.paths or []) == sorted(paths):
            return ActionResult({"Invalidation": inv, "Location": inv.location})
        status, headers, body = self.serialized(ActionResult(CloudFrontException(
            "InvalidationBatchAlreadyExists",
            f"The CallerReference {ref} is already in use by invalidation {inv.id} with other paths.")))
        headers["status"] = 409  # not in the service model, whose default would be 400
        return body, headers
    return _cf_create_invalidation(self)


def _list_invalidations_of_distribution(self):
    if self._get_param("DistributionId") not in self.backend.distributions:
        raise NoSuchDistribution
    return _cf_list_invalidations(self)


CloudFrontResponse.create_invalidation = _create_invalidation_once
CloudFrontResponse.list_invalidations = _list_invalidations_of_distribution


class FaultSwitch:
    """WSGI middleware in front of moto's dispatcher: the fault switch above."""

    PATH = "/morket-api/faults"
    FIELDS = {"action", "code", "message", "status", "times", "after", "service"}

    def __init__(self, app):
        self.app = app
        # werkzeug serves each request on its own thread.
        self.lock = threading.Lock()
        self.faults = []

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path.rstrip("/") == self.PATH:
            return self.control(environ, method, start_response)
        if path.rstrip("/") == "/moto-api/reset" and method == "POST":
            self.clear()
        elif self.faults:
            # Nothing is read or parsed while no fault is armed.
            fault = self.match(environ)
            if fault is not None:
                return self.fail(environ, fault, start_response)
        return self.app(environ, start_response)

    def clear(self):
        with self.lock:
            self.faults.clear()

    def control(self, environ, method, start_response):
        if method == "GET":
            return self.answer(start_response, 200, self.listing())
        if method == "DELETE":
            self.clear()
            return self.answer(start_response, 200, self.listing())
        if method != "POST":
            return self.answer(start_response, 405, {"error": f"{method} not allowed"})
        try:
            body = json.loads(_body(environ) or b"null")
            armed = [self.parse(f) for f in (body if isinstance(body, list) else [body])]
        except ValueError as e:
            return self.answer(start_response, 400, {"error": str(e)})
        with self.lock:
            self.faults.extend(armed)
        return self.answer(start_response, 200, self.listing())

    def parse(self, f):
        # Strict, so a misspelt field fails the test that arms it, not later.
        if not isinstance(f, dict):
            raise ValueError("a fault is a JSON object")
        unknown = set(f) - self.FIELDS
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)}")
        for key in ("action", "code"):
            if not isinstance(f.get(key), str) or not f[key]:
                raise ValueError(f'"{key}" must be a non-empty string')

        def number(key, default, low, high):
            v = f.get(key, default)
            if not isinstance(v, int) or isinstance(v, bool) or not low <= v <= high:
                raise ValueError(f'"{key}" must be an integer in {low}..{high}')
            return v

        return {
            "action": f["action"],
            "service": f["service"].lower() if f.get("service") else None,
            "code": f["code"],
            "message": str(f.get("message") or f"{f['action']} failed (fault injected by moto_server.py)"),
            "status": number("status", 400, 400, 599),
            "times": number("times", 1, 1, 1_000_000),
            "after": number("after", 0, 0, 1_000_000),
            "seen": 0,
            "fired": 0,
        }

    def listing(self):
        with self.lock:
            return {"faults": [dict(f) for f in self.faults]}

    def match(self, environ):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target:
            action = target.rpartition(".")[2]
        else:
            action = _query_params(environ).get("Action")
        if not action:
            return None
        service = _signing_service(environ)
        fired = None
        with self.lock:
            for f in self.faults:
                if f["action"] != action or f["service"] not in (None, service):
                    continue
                # Every armed fault counts the request; the oldest one due fires.
                f["seen"] += 1
                if fired is None and f["seen"] > f["after"] and f["fired"] < f["times"]:
                    f["fired"] += 1
                    fired = dict(f)
        return fired

    def fail(self, environ, fault, start_response):
        return fail(environ, fault, start_response)

    def answer(self, start_response, status, doc):
        return _respond(start_response, status, [("Content-Type", "application/json")], json.dumps(doc))


# ---- Fields moto drops that AWS returns -------------------------------------------
# Drift reads every object back and compares it with what was applied, so a
# field moto forgets would read as a change made outside morket-stack.

# DescribeSecurityGroupRules: the description of a rule whose source is
# another group (moto keeps it on the group pair and reports only CIDRs').
from moto.ec2.models.security_groups import SecurityGroupRule as _SgRule  # noqa: E402

_SgRule.description = property(
    lambda self: self.ip_range.get("Description") or self.source_group.get("Description")
)

# CreateReplicationGroup with NumCacheClusters (cluster mode disabled): moto
# makes one member whatever the number unless ReplicasPerNodeGroup is given.
from moto.elasticache.models import ReplicationGroup as _EcRg  # noqa: E402

_ec_members_disabled = _EcRg._set_node_members_clusters_disabled


def _ec_members_from_num_cache_clusters(self, *args, **kwargs):
    n = kwargs.get("num_cache_clusters") or 1
    if not kwargs.get("replicas_per_node_group") and n > 1:
        kwargs["replicas_per_node_group"] = n - 1
    return _ec_members_disabled(self, *args, **kwargs)


_EcRg._set_node_members_clusters_disabled = _ec_members_from_num_cache_clusters

# CloudFront origins: OriginAccessControlId (moto keeps only the OAI).
from moto.cloudfront.models import Origin as _CfOrigin  # noqa: E402

_cf_origin_init = _CfOrigin.__init__


def _cf_origin_with_oac(self, origin):
    _cf_origin_init(self, origin)
    self.origin_access_control_id = origin.get("OriginAccessControlId") or ""


_CfOrigin.__init__ = _cf_origin_with_oac

# WAFv2: a resource has one web ACL, and AssociateWebACL on a resource that has
# one moves it to the new ACL. moto 5.2 adds the resource to the new ACL and
# leaves it on the old one (GetWebACLForResource then answers the first found,
# and the old ACL reads as still associated); a repeated call adds it twice.
from moto.wafv2.models import WAFV2Backend as _Wafv2Backend  # noqa: E402

_wafv2_associate = _Wafv2Backend.associate_web_acl


def _wafv2_associate_moving(self, web_acl_arn, resource_arn):
    new = self.wacls.get(web_acl_arn)
    if new is not None:
        for acl in self.wacls.values():
            if acl is not new and resource_arn in acl.associated_resources:
                acl.associated_resources.remove(resource_arn)
        if resource_arn in new.associated_resources:
            return
    _wafv2_associate(self, web_acl_arn, resource_arn)


_Wafv2Backend.associate_web_acl = _wafv2_associate_moving


# ---- Request log -----------------------------------------------------------------

REQUEST_LOG_CAP = 100_000
READ_PREFIXES = ("Describe", "List", "Get", "Head", "BatchGet", "Search", "Lookup")
# Read-only operations whose names do not say so.
READ_ONLY_OPERATIONS = frozenset({
    "FilterLogEvents",  # CloudWatch Logs
    "BatchCheckLayerAvailability",  # ECR
    "DiscoverInstances", "DiscoverInstancesRevision",  # Cloud Map
    "SimulatePrincipalPolicy", "SimulateCustomPolicy",  # IAM
    "DecodeAuthorizationMessage",  # STS
})
# REST POSTs that only read, per the services' API references: (signing name,
# path). The other read-only POSTs of the REST services the engine uses
# (OpenSearch DescribePackages, DescribeVpcEndpoints, the connection searches;
# CloudFront's List* POSTs; Backup GetBackupPlanFromJSON; S3
# SelectObjectContent, told from CompleteMultipartUpload by its query only)
# are not called by the engine, and moto serves none of them but S3's, so
# they count as mutating.
READ_ONLY_REST_POSTS = (
    ("es", re.compile(r"^/2021-01-01/opensearch/domain-info/?$")),  # OpenSearch DescribeDomains
    ("es", re.compile(r"^/2015-01-01/es/domain-info/?$")),  # DescribeElasticsearchDomains
    # ListTagsForResources (ChangeTagsForResource has the resource id after the type).
    ("route53", re.compile(r"^/2013-04-01/tags/(healthcheck|hostedzone)/?$")),
)


class RequestLog:
    """WSGI middleware, outermost: the request log above."""

    PATH = "/morket-api/requests"

    def __init__(self, app, cap=REQUEST_LOG_CAP):
        self.app = app
        # werkzeug serves each request on its own thread.
        self.lock = threading.Lock()
        self.requests = collections.deque(maxlen=cap)
        self.dropped = 0

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path.rstrip("/") == self.PATH:
            return self.control(method, start_response)
        if path.rstrip("/") == "/moto-api/reset" and method == "POST":
            self.clear()
        elif path.split("/")[1:2] not in (["moto-api"], ["morket-api"]):
            self.record(request_entry(environ))
        return self.app(environ, start_response)

    def record(self, entry):
        with self.lock:
            if len(self.requests) == self.requests.maxlen:
                self.dropped += 1
            self.requests.append(entry)

    def clear(self):
        with self.lock:
            self.requests.clear()
            self.dropped = 0

    def listing(self):
        with self.lock:
            return {"requests": list(self.requests), "dropped": self.dropped}

    def control(self, method, start_response):
        if method == "DELETE":
            self.clear()
        elif method != "GET":
            return _respond(start_response, 405, [("Content-Type", "application/json")],
                            json.dumps({"error": f"{method} not allowed"}))
        return _respond(start_response, 200, [("Content-Type", "application/json")], json.dumps(self.listing()))


def request_entry(environ):
    """{"service", "operation", "method", "path", "mutating"} of one AWS request.

    Reads the body only as _query_params does (form-encoded), and puts it back.
    """
    method = environ.get("REQUEST_METHOD", "GET").upper()
    path = environ.get("PATH_INFO", "")
    service = _signing_service(environ)
    if service is None:
        # A presigned URL carries the credential scope in the query string.
        cred = parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Credential", [""])[0]
        parts = cred.split("/")
        service = parts[3].lower() if len(parts) >= 5 else ""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    cbor = CBOR_PATH.match(path)
    if target:
        operation = target.rpartition(".")[2]
    elif cbor:
        operation = cbor.group(2)
    else:
        operation = _query_params(environ).get("Action") or ""
    if operation:
        mutating = not (operation.startswith(READ_PREFIXES) or operation in READ_ONLY_OPERATIONS)
    else:
        operation = f"{method} {path}"
        if method in ("GET", "HEAD"):
            mutating = False
        elif method == "POST":
            mutating = not any(s == service and p.match(path) for s, p in READ_ONLY_REST_POSTS)
        else:
            mutating = True
    return {"service": service, "operation": operation, "method": method, "path": path, "mutating": mutating}


def fail(environ, fault, start_response):
    """The error as the service's protocol shapes it, so the SDK parses the code.

    fault: "action", "code", "message", "status"; the AWS-like mode adds
    "source" (for the log line) and "rest" (a REST-JSON service: MQ, OpenSearch).
    """
    print(f"moto_server.py: {fault.get('source', 'fault')} {fault['action']} -> {fault['code']}",
          file=sys.stderr, flush=True)
    request_id = str(uuid.uuid4())
    code, message = fault["code"], fault["message"]
    headers = [("x-amzn-RequestId", request_id)]
    if fault.get("rest"):
        headers += [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)]
        body = json.dumps({"__type": code, "message": message})
    elif environ.get("HTTP_X_AMZ_TARGET"):
        content_type = environ.get("CONTENT_TYPE", "")
        if not content_type.startswith("application/x-amz-json"):
            content_type = "application/x-amz-json-1.1"
        headers += [("Content-Type", content_type), ("x-amzn-ErrorType", code)]
        body = json.dumps({"__type": code, "message": message})
    elif _signing_service(environ) == "ec2" or _query_params(environ).get("Version") == "2016-11-15":
        headers.append(("Content-Type", "text/xml"))
        body = (
            f"<Response><Errors><Error><Code>{escape(code)}</Code>"
            f"<Message>{escape(message)}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        )
    else:
        headers.append(("Content-Type", "text/xml"))
        kind = "Sender" if fault["status"] < 500 else "Receiver"
        body = (
            f"<ErrorResponse><Error><Type>{kind}</Type><Code>{escape(code)}</Code>"
            f"<Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    return _respond(start_response, fault["status"], headers, body)


def _respond(start_response, status, headers, body):
    data = body if isinstance(body, bytes) else body.encode("utf-8")
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    start_response(f"{status} {reason}", headers + [("Content-Length", str(len(data)))])
    return [data]


def _body(environ):
    """The request body, put back as a fresh stream so moto can read it again."""
    if "morket.body" in environ:
        return environ["morket.body"]
    stream = environ["wsgi.input"]
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 0:
        data = stream.read(length)
    elif environ.get("wsgi.input_terminated"):
        # Chunked: werkzeug ends the stream at the last chunk.
        data = stream.read()
    else:
        data = b""
    environ["wsgi.input"] = io.BytesIO(data)
    environ["morket.body"] = data
    return data


def _query_params(environ):
    """Query-protocol parameters: the query string, then a form-encoded body."""
    params = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        form = parse_qs(_body(environ).decode("utf-8", "replace"))
        params.update({k: v[0] for k, v in form.items()})
    return params


def _signing_service(environ):
    # AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request, ...
    m = re.search(r"Credential=[^/,]*/[^/,]*/[^/,]*/([^/,]*)/", environ.get("HTTP_AUTHORIZATION", ""))
    return m.group(1).lower() if m else None


# Canonical's public SSM parameters (the Ubuntu AMI of each region), which
# moto does not ship (it has Amazon Linux's and ECS's). The ids stand in for
# Canonical's: one per region and parameter, stable across resets.
from moto.ssm.models import Parameter as SsmParameter, ParameterDict  # noqa: E402

CANONICAL_PREFIX = "/aws/service/canonical/ubuntu/server/"
CANONICAL_AMIS = [
    "24.04/stable/current/amd64/hvm/ebs-gp3/ami-id",
    "24.04/stable/current/arm64/hvm/ebs-gp3/ami-id",
    "22.04/stable/current/amd64/hvm/ebs-gp2/ami-id",
]
_moto_loading_status = ParameterDict._check_loading_status


def _check_loading_status(self, key):
    _moto_loading_status(self, key)
    if str(key or "").startswith(CANONICAL_PREFIX) and not getattr(self, "canonical_loaded", False):
        self.canonical_loaded = True
        for tail in CANONICAL_AMIS:
            name = CANONICAL_PREFIX + tail
            digest = uuid.uuid5(uuid.NAMESPACE_URL, f"{self.region_name}/{name}").hex[:17]
            dict.setdefault(self, name, []).append(
                SsmParameter(
                    account_id=self.account_id,
                    name=name,
                    value=f"ami-{digest}",
                    parameter_type="String",
                    description=None,
                    allowed_pattern=None,
                    keyid=None,
                    last_modified_date=1767225600.0,
                    version=1,
                    data_type="aws:ec2:image",
                )
            )


ParameterDict._check_loading_status = _check_loading_status


# ---- Smithy RPC v2 CBOR -> AWS JSON ------------------------------------------------
# The AWS SDK for Rust speaks Smithy RPC v2 CBOR to CloudWatch (POST
# /service/GraniteServiceVersion20100801/operation/<Op>, smithy-protocol:
# rpc-v2-cbor); moto 5.2 speaks CloudWatch's JSON protocol only and answered
# 404. The bridge below turns such a request into the JSON one (X-Amz-Target
# <service>.<Op>, so the fault switch and the AWS-like mode see the operation)
# and moto's JSON answer, errors included, back into CBOR shaped by the
# service's botocore model (timestamps as tag 1, integers and doubles as
# their CBOR types).
import base64  # noqa: E402
import struct  # noqa: E402
from datetime import datetime  # noqa: E402

CBOR_PATH = re.compile(r"^/service/([^/]+)/operation/([^/]+)/?$")
CBOR_SERVICES = {"monitoring": "cloudwatch"}  # SigV4 signing name -> botocore service
_cbor_models = {}


class _Timestamp(float):
    """An epoch-seconds value to encode as CBOR tag 1."""


def cbor_decode(data):
    value, end = _cbor_item(data, 0)
    return value


def _cbor_length(data, i, info):
    if info < 24:
        return info, i
    size = {24: 1, 25: 2, 26: 4, 27: 8}.get(info)
    if size is None:
        raise ValueError(f"bad CBOR length {info}")
    return int.from_bytes(data[i:i + size], "big"), i + size


def _cbor_item(data, i):
    head = data[i]
    major, info = head >> 5, head & 0x1F
    i += 1
    if major == 7:
        if info == 20:
            return False, i
        if info == 21:
            return True, i
        if info in (22, 23):
            return None, i
        if info == 25:
            return struct.unpack(">e", data[i:i + 2])[0], i + 2
        if info == 26:
            return struct.unpack(">f", data[i:i + 4])[0], i + 4
        if info == 27:
            return struct.unpack(">d", data[i:i + 8])[0], i + 8
        raise ValueError(f"unsupported CBOR simple value {info}")
    if info == 31 and major in (2, 3, 4, 5):  # indefinite length, up to a break (0xff)
        items = []
        while data[i] != 0xFF:
            item, i = _cbor_item(data, i)
            items.append(item)
        i += 1
        if major == 2:
            return b"".join(items), i
        if major == 3:
            return "".join(items), i
        if major == 4:
            return items, i
        return dict(zip(items[::2], items[1::2])), i
    n, i = _cbor_length(data, i, info)
    if major == 0:
        return n, i
    if major == 1:
        return -1 - n, i
    if major == 2:
        return bytes(data[i:i + n]), i + n
    if major == 3:
        return bytes(data[i:i + n]).decode("utf-8"), i + n
    if major == 4:
        items = []
        for _ in range(n):
            item, i = _cbor_item(data, i)
            items.append(item)
        return items, i
    if major == 5:
        out = {}
        for _ in range(n):
            k, i = _cbor_item(data, i)
            out[k], i = _cbor_item(data, i)
        return out, i
    # major 6: a tag; tag 1 (epoch seconds) stays a number, as JSON has it
    return _cbor_item(data, i)


def _cbor_head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | info]) + n.to_bytes(size, "big")
    raise ValueError("CBOR length too large")


def cbor_encode(v):
    if isinstance(v, _Timestamp):
        return b"\xc1\xfb" + struct.pack(">d", float(v))
    if v is None:
        return b"\xf6"
    if v is True:
        return b"\xf5"
    if v is False:
        return b"\xf4"
    if isinstance(v, int):
        return _cbor_head(0, v) if v >= 0 else _cbor_head(1, -1 - v)
    if isinstance(v, float):
        return b"\xfb" + struct.pack(">d", v)
    if isinstance(v, (bytes, bytearray)):
        return _cbor_head(2, len(v)) + bytes(v)
    if isinstance(v, str):
        raw = v.encode("utf-8")
        return _cbor_head(3, len(raw)) + raw
    if isinstance(v, (list, tuple)):
        return _cbor_head(4, len(v)) + b"".join(cbor_encode(x) for x in v)
    if isinstance(v, dict):
        return _cbor_head(5, len(v)) + b"".join(cbor_encode(k) + cbor_encode(x) for k, x in v.items())
    raise TypeError(f"cannot encode {type(v).__name__} as CBOR")


def _jsonable(v):
    """A decoded CBOR request as the JSON protocol has it (blobs base64)."""
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items() if x is not None}
    return v


def _typed(shape, v):
    """moto's JSON value as the CBOR the SDK expects for the shape."""
    if v is None or shape is None:
        return v
    t = shape.type_name
    if t == "structure" and isinstance(v, dict):
        return {k: _typed(shape.members.get(k), x) for k, x in v.items() if x is not None}
    if t == "list" and isinstance(v, list):
        return [_typed(shape.member, x) for x in v]
    if t == "map" and isinstance(v, dict):
        return {k: _typed(shape.value, x) for k, x in v.items() if x is not None}
    if t == "timestamp":
        if isinstance(v, str):
            try:
                return _Timestamp(float(v))
            except ValueError:
                return _Timestamp(datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp())
        return _Timestamp(float(v))
    if t == "blob" and isinstance(v, str):
        return base64.b64decode(v)
    if t in ("double", "float"):
        return float(v)
    if t in ("integer", "long", "short", "byte"):
        return int(v)
    return v


def _cbor_model(service):
    if service not in _cbor_models:
        import botocore.session

        _cbor_models[service] = botocore.session.get_session().get_service_model(service)
    return _cbor_models[service]


class CborBridge:
    """WSGI middleware, outermost: Smithy RPC v2 CBOR requests as AWS JSON ones."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        m = CBOR_PATH.match(environ.get("PATH_INFO", ""))
        service = CBOR_SERVICES.get(_signing_service(environ) or "")
        if not m or service is None or "cbor" not in environ.get("HTTP_SMITHY_PROTOCOL", "cbor"):
            return self.app(environ, start_response)
        target, op = m.group(1), m.group(2)
        raw = _body(environ)
        try:
            doc = cbor_decode(raw) if raw else {}
        except (ValueError, IndexError, UnicodeDecodeError) as e:
            return self.error(start_response, 400, "SerializationException", f"bad CBOR body: {e}")
        data = json.dumps(_jsonable(doc or {})).encode()
        environ["wsgi.input"] = io.BytesIO(data)
        environ["morket.body"] = data
        environ["CONTENT_LENGTH"] = str(len(data))
        environ["CONTENT_TYPE"] = "application/x-amz-json-1.0"
        environ["HTTP_X_AMZ_TARGET"] = f"{target}.{op}"
        environ["PATH_INFO"] = "/"
        head = {}
        chunks = []

        def capture(status, headers, exc_info=None):
            head["status"], head["headers"] = status, list(headers)
            return chunks.append

        result = self.app(environ, capture)
        try:
            chunks.extend(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        body = b"".join(chunks)
        status = int(head["status"].split()[0])
        try:
            answer = json.loads(body or b"{}")
        except ValueError:
            answer = None
        if status >= 300 or not isinstance(answer, dict):
            headers = {k.lower(): v for k, v in head["headers"]}
            doc = answer if isinstance(answer, dict) else {}
            code = (doc.get("__type") or headers.get("x-amzn-errortype") or "InternalFailure")
            code = code.split(":")[0].rpartition("#")[2]
            message = doc.get("message") or doc.get("Message")
            return self.error(start_response, status if status >= 300 else 500, code,
                              message or body.decode("utf-8", "replace")[:200])
        try:
            shape = _cbor_model(service).operation_model(op).output_shape
        except Exception:
            shape = None
        out = cbor_encode(_typed(shape, answer) if shape is not None else answer)
        return self.cbor(start_response, status, out, head["headers"])

    def error(self, start_response, status, code, message):
        # Query-compatible services (CloudWatch) read the code from x-amzn-query-error.
        kind = "Sender" if status < 500 else "Receiver"
        out = cbor_encode({"__type": code, "message": message})
        return self.cbor(start_response, status, out, [("x-amzn-query-error", f"{code};{kind}")])

    def cbor(self, start_response, status, out, headers):
        keep = [(k, v) for k, v in headers if k.lower() in ("x-amzn-requestid", "x-amzn-query-error")]
        if not any(k.lower() == "x-amzn-requestid" for k, _ in keep):
            keep.append(("x-amzn-RequestId", str(uuid.uuid4())))
        return _respond(start_response, status, keep + [("Content-Type", "application/cbor"),
                                                       ("smithy-protocol", "rpc-v2-cbor")], out)


if __name__ == "__main__":
    import moto.server
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    # moto.server.main builds its app from this name at call time: serve the
    # dispatcher behind the AWS-like mode, behind the fault switch (an armed
    # fault answers first; a reset clears both), behind the CBOR bridge,
    # behind the request log (which sees every request as it arrived).
    moto.server.DomainDispatcherApplication = lambda create_app: RequestLog(CborBridge(FaultSwitch(
        aws_like.AwsLike(
            DomainDispatcherApplication(create_app),
            fail=fail,
            body=_body,
            params=_query_params,
            service=_signing_service,
        )
    )))
    moto.server.main(sys.argv[1:])
