"""moto_server, plus the ElastiCache calls moto 5.2 does not implement.

The Morket stack needs an ElastiCache parameter group (R7.4) and must be
destroyable; moto has neither parameter groups nor DeleteCacheSubnetGroup /
ModifyCacheSubnetGroup, and never removes a deleted replication group. This adds them, in memory, in moto's own backend, so
`scripts/local-up` and the stack tests can apply the whole stack. The provider
code for these calls is tested separately against recorded AWS-shaped
responses (aws-smithy-mocks, tests/aws_elasticache.rs); this emulation only
lets the rest of the stack run end to end. Usage: python moto_server.py -H HOST -p PORT
"""

import re
import sys

import moto
from moto.core.responses import ActionResult, EmptyResult, PaginatedResult
from moto.elasticache.exceptions import ElastiCacheException
from moto.elasticache.responses import ElastiCacheResponse
from moto.elasticache.exceptions import CacheSubnetGroupNotFound
from moto.elasticache.models import ElastiCacheBackend


# Built against moto 5.2 internals (scripts/moto.sh pins the version).
if not moto.__version__.startswith("5.2."):
    sys.exit(f"moto_server.py expects moto 5.2.x, found {moto.__version__}")


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
    # finds nothing.
    for rg_id in [k for k, rg in self.replication_groups.items() if rg.status == "deleting"]:
        del self.replication_groups[rg_id]
    return _describe_replication_groups(self, *args, **kwargs)


ElastiCacheBackend.describe_replication_groups = _describe_replication_groups_forgetting_deleted

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

if __name__ == "__main__":
    from moto.server import main

    main(sys.argv[1:])
