"""moto_server, plus the ElastiCache calls moto 5.2 does not implement.

The Morket stack needs an ElastiCache parameter group (R7.4) and must be
destroyable; moto has neither parameter groups nor DeleteCacheSubnetGroup /
ModifyCacheSubnetGroup, and never removes a deleted replication group. This adds them, in memory, in moto's own backend, so
`scripts/local-up` and the stack tests can apply the whole stack. The provider
code for these calls is tested separately against recorded AWS-shaped
responses (aws-smithy-mocks, tests/aws_elasticache.rs); this emulation only
lets the rest of the stack run end to end. It also gives moto's ENIs the
private DNS name ECS RunTask (awsvpc) needs. Usage: python moto_server.py -H HOST -p PORT

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

Behind the fault switch sits an AWS-like mode (scripts/aws_like.py), off
unless a test asks for it: eventual consistency, IAM propagation,
service-linked roles, lingering network interfaces, state transitions and
conflicts, throttling bursts. POST/GET/DELETE /morket-api/aws-like; see
aws_like.py for the behaviours and scripts/check_aws_like.py.
"""

import io
import json
import re
import sys
import threading
import uuid
from http import HTTPStatus
from urllib.parse import parse_qs
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
    data = body.encode("utf-8")
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


if __name__ == "__main__":
    import moto.server
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    # moto.server.main builds its app from this name at call time: serve the
    # dispatcher behind the AWS-like mode, behind the fault switch (an armed
    # fault answers first; a reset clears both).
    moto.server.DomainDispatcherApplication = lambda create_app: FaultSwitch(
        aws_like.AwsLike(
            DomainDispatcherApplication(create_app),
            fail=fail,
            body=_body,
            params=_query_params,
            service=_signing_service,
        )
    )
    moto.server.main(sys.argv[1:])
