"""AWS-like mode for moto_server.py: the AWS behaviours moto leaves out.

moto answers at once, is always consistent, propagates IAM instantly, leaves no
network interfaces behind and never refuses a call because of a resource's
state. Real AWS does all of that, and the engine has to cope. This WSGI
middleware sits between moto_server.py's fault switch and moto and, while
switched on, answers like AWS would:

    POST   /morket-api/aws-like  {"on": ["consistency", "iam", "slr", "eni", "transitions",
                                         "conflicts", "throttle"] or "all", "scale": 0.01}
    GET    /morket-api/aws-like  {"on": [...], "scale": s,
                                  "fired": {"consistency": {"DescribeVpcs": 3}, ...}}
    DELETE /morket-api/aws-like  (everything off, state and counts cleared;
                                  POST /moto-api/reset does the same)

"scale" multiplies every window below (default 1.0, so 0.01 turns 10 s into
0.1 s). "fired" counts, per behaviour and operation, the requests answered
differently from moto (refused, or with a rewritten answer). A POST replaces
the set of behaviours and the scale; windows already started keep their end.
Refused requests never reach moto; errors are shaped per protocol by
moto_server.py's fault switch, so the SDK parses the code. Windows are in AWS
seconds, times "scale":

| behaviour | operations affected | error code or state shown | window (s) |
|---|---|---|---|
| consistency | any EC2 call naming, in a parameter other than a filter value or tag, an id returned by CreateVpc, CreateSubnet, CreateInternetGateway, AllocateAddress, CreateNatGateway, CreateRouteTable, CreateSecurityGroup, RunInstances, CreateVolume, CreateLaunchTemplate, CreateFlowLogs, AssociateRouteTable | 400 InvalidVpcID.NotFound, InvalidSubnetID.NotFound, InvalidInternetGatewayID.NotFound, InvalidAllocationID.NotFound, NatGatewayNotFound, InvalidRouteTableID.NotFound, InvalidGroup.NotFound, InvalidInstanceID.NotFound, InvalidVolume.NotFound, InvalidLaunchTemplateId.NotFound, InvalidFlowLogId.NotFound, InvalidAssociationID.NotFound (by id prefix) | 10 after the create |
| consistency | EC2 Describe* without those ids (tag, vpc-id ... filters) | the young objects (and whatever lives in a young VPC, such as its default security group) are left out of the answer; a filter whose values are all young ids matches nothing | 10 |
| consistency | WAFv2 AssociateWebACL whose WebACLArn is a web ACL returned by CreateWebACL (Summary.ARN) within the window | 400 WAFUnavailableEntityException "AWS WAF couldn’t retrieve the resource that you requested. Retry your request." | 10 after CreateWebACL |
| iam | EC2 CreateFlowLogs whose DeliverLogsPermissionArn is a role created (CreateRole) within the window | 400 InvalidParameter "Unable to assume given IAM role: <arn>" | 10 after CreateRole |
| iam | RDS CreateDBCluster / CreateDBInstance / ModifyDBInstance whose MonitoringRoleArn is such a role | 400 InvalidParameterValue "IAM role ARN value is invalid or does not include the required permissions for: ENHANCED_MONITORING" | 10 |
| iam | IAM CreateRole / UpdateAssumeRolePolicy with such a role as an AWS principal (ECS RegisterTaskDefinition, CreateService, RunTask: never) | 400 MalformedPolicyDocument "Invalid principal in policy: ..." | 10 |
| iam | AWS Backup CreateBackupSelection whose IamRoleArn is such a role | 400 InvalidParameterValueException "IAM Role <arn> cannot be assumed by AWS Backup" | 10 |
| iam | OpenSearch CreateDomain / UpdateDomainConfig whose LogPublishingOptions enable (Enabled true) publishing to a CloudWatchLogsLogGroupArn that no CloudWatch Logs resource policy (PutResourcePolicy) older than the window lets principal service es.amazonaws.com (or Principal "*") logs:CreateLogStream and logs:PutLogEvents on (Resource the ARN, the ARN + ":*", or a * / ? pattern matching the ARN + ":*"; Action globs such as logs:* count; Allow statements only, Conditions not evaluated) | 400 ValidationException "The Resource Access Policy specified for the CloudWatch Logs log group <group name> does not grant sufficient permissions for Amazon OpenSearch Service to create a log stream. Please check the Resource Access Policy." | 10 after PutResourcePolicy (per policy name; a put again restarts it) |
| iam | EC2 RunInstances naming an instance profile created (CreateInstanceProfile) within the window, in IamInstanceProfile.Name / .Arn or in the launch template version it launches from | 400 InvalidParameterValue "Value (<name>) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name" (by ARN: "... iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN") | 10 after CreateInstanceProfile |
| slr | OpenSearch CreateDomain with VPCOptions while role AWSServiceRoleForAmazonOpenSearchService (path /aws-service-role/opensearchservice.amazonaws.com/) is missing or new | 400 ValidationException "Before you can proceed, you must enable a service-linked role ..." | 10 after the role's creation |
| slr | ECS CreateService, and CreateCluster with capacityProviders or defaultCapacityProviderStrategy, while AWSServiceRoleForECS (/aws-service-role/ecs.amazonaws.com/) is missing or new | 400 InvalidParameterException "Unable to assume the service linked role. Please verify that the ECS service linked role exists." | 10 |
| eni | EC2 DeleteSecurityGroup / DeleteSubnet / DeleteVpc of a group / subnet / VPC used by something deleted within the window: RDS DeleteDBInstance, DeleteDBCluster; ElastiCache DeleteReplicationGroup, DeleteCacheCluster; MQ DeleteBroker; OpenSearch DeleteDomain; ECS DeleteService (awsvpc), StopTask; ELBv2 DeleteLoadBalancer (its subnets and security groups) | 400 DependencyViolation "resource sg-… has a dependent object" / "The subnet 'subnet-…' has dependencies and cannot be deleted." / "The vpc 'vpc-…' has dependencies and cannot be deleted." | 300 after the delete |
| eni | EC2 DetachInternetGateway from a VPC one of whose NAT gateways was deleted (DeleteNatGateway) within the window | 400 DependencyViolation "Network vpc-… has some mapped public address(es). Please unmap those public address(es) before detaching the gateway." | 60 |
| transitions | every answer describing an RDS DB cluster / DB instance, ElastiCache replication group, MQ broker or OpenSearch domain after its create | Status creating (no Endpoint, ReaderEndpoint) / DBInstanceStatus creating (no Endpoint) / Status creating (no ConfigurationEndpoint, PrimaryEndpoint, ReaderEndpoint, ReadEndpoint) / BrokerState CREATION_IN_PROGRESS (no BrokerInstances) / Processing true (no Endpoint, Endpoints) | 60 after the create |
| transitions | the same after ModifyDBCluster, ModifyDBInstance, ModifyReplicationGroup, RebootBroker (UpdateBroker alone changes nothing, as in AWS), UpdateDomainConfig, UpgradeDomain | unchanged (available / RUNNING / Processing false), then modifying / modifying / modifying / REBOOT_IN_PROGRESS / Processing true | 3, then 30 |
| transitions | after DeleteDBCluster, DeleteDBInstance, DeleteReplicationGroup | deleting (still described, endpoints kept), then gone: DBClusterNotFoundFault / DBInstanceNotFound / ReplicationGroupNotFoundFault (with the mode off a deleted replication group is gone at once, as before) | 30 after the delete |
| transitions | ELBv2 DescribeLoadBalancers after CreateLoadBalancer (moto reads active from the first describe on) | State.Code provisioning, then active; listeners, rules and DeleteLoadBalancer are taken meanwhile, as in AWS | 60 after the create |
| transitions | WAFv2 AssociateWebACL whose ResourceArn is an ELBv2 load balancer inside that provisioning window | 400 WAFUnavailableEntityException "AWS WAF couldn’t retrieve the resource that you requested. Retry your request." | the 60 above |
| transitions | ECS services and RunTask tasks, CloudFront invalidations (moto_server.py's, always on): the windows run in AWS time × "scale" instead of × 0.01 | a new deployment IN_PROGRESS (0 running), then COMPLETED with every task running; a failing one FAILED, then the circuit breaker's rollback; a deleted service DRAINING; a task PROVISIONING, PENDING, RUNNING, DEPROVISIONING, STOPPED; an invalidation InProgress, then Completed (see moto_server.py) | 60 rollout, 30 FAILED before the rollback starts, 30 for a scale-out's tasks, 30 DRAINING after DeleteService; a task 8 + 12 before RUNNING, its command's run, 10 before STOPPED; 60 InProgress |
| conflicts | RDS ModifyDBCluster, DeleteDBCluster, RebootDBCluster; ModifyDBInstance, DeleteDBInstance, RebootDBInstance; ElastiCache ModifyReplicationGroup, DeleteReplicationGroup; MQ UpdateBroker, DeleteBroker, RebootBroker; OpenSearch UpdateDomainConfig, UpgradeDomain, DeleteDomain, on a resource inside one of the transitions windows (the creating, modifying or deleting part; a Delete of a resource already deleting goes on to moto) | 400 InvalidDBClusterStateFault / 400 InvalidDBInstanceState / 400 InvalidReplicationGroupState / 409 ConflictException / OpenSearch UpdateDomainConfig and UpgradeDomain 400 ValidationException "A change/update is in progress. ...", DeleteDomain 409 ConflictException | the transitions windows |
| conflicts | ELBv2 DeleteTargetGroup of a group that a listener or rule forwarded to until a DeleteListener, DeleteRule, DeleteLoadBalancer, ModifyListener or ModifyRule within the window (while one still forwards to it, moto itself refuses, mode on or off) | 400 ResourceInUse "The target group '<arn>' is currently in use by a listener or a rule" | 20 after the listener / rule change |
| conflicts | ACM DeleteCertificate of a certificate an ELBv2 listener serves (or, in us-east-1, a CloudFront distribution), or served until a DeleteListener, DeleteLoadBalancer, ModifyListener or RemoveListenerCertificates within the window | 400 ResourceInUseException "Certificate <arn> in use." | 60 after the listener change |
| conflicts | WAFv2 DeleteWebACL of a web ACL still associated with a resource (moto keeps AssociateWebACL's associations but never checks them; a deleted load balancer's no longer counts), or whose association was removed within the window by DisassociateWebACL or by the ELBv2 DeleteLoadBalancer of its load balancer | 400 WAFAssociatedItemException "AWS WAF couldn’t perform the operation because your resource is being used by another resource or it’s associated with another resource." | 30 after the disassociate |
| throttle | per service (SigV4 signing name) every 25th mutating call (Create*, Modify*, Delete*, Put*, Attach*, Associate*, Authorize*, Revoke*, Run*, Register*, Update*, Add*, Set*, Remove*, Request*, Import*; for WAFv2 also Tag*, Untag*, Disassociate*) starts a burst: it and the next 4 calls of the same operation are refused (calls in a burst do not count towards the next 25th) | EC2 503 RequestLimitExceeded; IAM, RDS, ElastiCache, ELBv2, SNS, CloudWatch 400 Throttling; ECS, Logs, ACM, Secrets Manager, ECR, Application Auto Scaling, WAFv2 (JSON protocols) 400 ThrottlingException; MQ, OpenSearch, AWS Backup (REST, routes below) 400 ThrottlingException | 5 calls |

The windows follow AWS: new EC2 ids, IAM roles and CloudWatch Logs resource
policies are usually visible within seconds, and a new web ACL is usable for
associations within seconds; an RDS cluster or instance takes minutes to create (60 s keeps tests
short yet outlasts any single poll); a deleted data store's requester-managed
ENIs are released minutes after it is gone; a deleted NAT gateway keeps its
Elastic IP mapped until it reaches "deleted", about a minute; an ALB provisions
for a minute or more (WAF cannot associate a web ACL with it meanwhile); ELB,
ACM and WAF let go of a target group, certificate or web ACL a while after the
listener or association that used it (terraform-provider-aws retries those
deletes for minutes, and AssociateWebACL for 10). The windows are
fixed, not random, so a test can reason about them. "conflicts" keeps the
transitions windows even while "transitions" is off (the answers then do not
show them). Mind moto's own latency when scaling down: the first two calls
after a reset take over a second (moto builds its IAM backends lazily), longer
than a 10 s window at scale 0.01; make a call first, or scale less.

moto has CreateServiceLinkedRole, GetRole and DeleteServiceLinkedRole, but
names the roles AWSServiceRoleForopensearchservice and AWSServiceRoleForecs;
this module teaches it the AWS names (AWSServiceRoleForAmazonOpenSearchService,
AWSServiceRoleForECS), always, since nothing depends on the wrong ones.

Only what the engine uses is modelled: MQ, OpenSearch and AWS Backup REST paths
are matched by method and path; other REST services (S3, Route 53, CloudFront)
pass through untouched. Smithy RPC v2 CBOR requests (the Rust SDK's
CloudWatch) arrive here as JSON ones, translated by moto_server.py's bridge.
moto 5.2 has no UpgradeDomain (it answers 404), so only its conflict shows. A
deleted RDS cluster or instance stays in moto's backend, as "deleting", until
its window ends (checked at the start of every request while "transitions" is
on, and at once when it is switched off). See scripts/check_aws_like.py.
"""

import json
import os
import re
import threading
import time
import xml.etree.ElementTree as ET
from collections import defaultdict

from moto.backends import get_backend
from moto.iam import models as iam_models
from moto.logs.models import logs_backends
from moto.rds.models import DBCluster
from moto.utilities.utils import get_partition
from moto.wafv2.models import GLOBAL_REGION as WAF_GLOBAL_REGION

BEHAVIOURS = ("consistency", "iam", "slr", "eni", "transitions", "conflicts", "throttle")

# Windows in AWS seconds (multiplied by "scale").
CONSISTENCY = 10
PROPAGATION = 10  # IAM roles, service-linked roles included; instance profiles to EC2; logs resource policies
ENI_LINGER = 300
NAT_UNMAP = 60
CREATING = 60
LB_PROVISIONING = 60  # an ALB "provisioning" after its create
TG_RELEASE = 20  # ELB still counts a target group in use after its listener or rule went
CERT_RELEASE = 60  # ACM still counts a certificate in use after its listener went
WEB_ACL_RELEASE = 30  # WAF still counts a web ACL associated after its association went
MODIFY_LAG = 3
MODIFYING = 30
DELETING = 30
THROTTLE_EVERY = 25
THROTTLE_BURST = 5

# moto's service-linked role names are built from the service principal;
# these two differ from AWS.
iam_models.SERVICE_NAME_CONVERSION.setdefault("opensearchservice", "AmazonOpenSearchService")
iam_models.SERVICE_NAME_CONVERSION.setdefault("ecs", "ECS")


def _members_not_deleting(cluster):
    # A cluster member kept as "deleting" by this module no longer blocks
    # DeleteDBCluster, as in AWS. Stock moto never keeps one, so no change there.
    return [db for db in _cluster_members(cluster) if db.status != "deleting"]


_cluster_members = DBCluster._members.fget
DBCluster._members = property(_members_not_deleting)


_current = None  # the AwsLike in front of moto, for moto_server.py's patches


def scale_of(behaviour):
    """The scale while the behaviour is on, else None."""
    mw = _current
    if mw is None or behaviour not in mw.on:
        return None
    return mw.scale


def lingers(obj):
    """Whether a deleted object is still inside its "deleting" window."""
    return getattr(obj, "_morket_deleting_until", 0) > time.monotonic()


# EC2 create call -> (response element holding the new id, id prefix).
CREATED = {
    "CreateVpc": ("vpcId", "vpc"),
    "CreateSubnet": ("subnetId", "subnet"),
    "CreateInternetGateway": ("internetGatewayId", "igw"),
    "AllocateAddress": ("allocationId", "eipalloc"),
    "CreateNatGateway": ("natGatewayId", "nat"),
    "CreateRouteTable": ("routeTableId", "rtb"),
    "CreateSecurityGroup": ("groupId", "sg"),
    "RunInstances": ("instanceId", "i"),
    "CreateVolume": ("volumeId", "vol"),
    "CreateLaunchTemplate": ("launchTemplateId", "lt"),
    "CreateFlowLogs": ("item", "fl"),
    "AssociateRouteTable": ("associationId", "rtbassoc"),
}

# Id prefix -> the code and message EC2 answers for an id it does not know.
NOT_FOUND = {
    "vpc": ("InvalidVpcID.NotFound", "The vpc ID '{}' does not exist"),
    "subnet": ("InvalidSubnetID.NotFound", "The subnet ID '{}' does not exist"),
    "igw": ("InvalidInternetGatewayID.NotFound", "The internetGateway ID '{}' does not exist"),
    "eipalloc": ("InvalidAllocationID.NotFound", "The allocation ID '{}' does not exist"),
    "nat": ("NatGatewayNotFound", "The Nat Gateway {} was not found"),
    "rtb": ("InvalidRouteTableID.NotFound", "The routeTable ID '{}' does not exist"),
    "sg": ("InvalidGroup.NotFound", "The security group '{}' does not exist"),
    "i": ("InvalidInstanceID.NotFound", "The instance ID '{}' does not exist"),
    "vol": ("InvalidVolume.NotFound", "The volume '{}' does not exist."),
    "lt": ("InvalidLaunchTemplateId.NotFound", "The specified launch template, with template ID {}, does not exist."),
    "fl": ("InvalidFlowLogId.NotFound", "These flow logs do not exist: [{}]"),
    "rtbassoc": ("InvalidAssociationID.NotFound", "The association ID '{}' does not exist"),
}

# EC2 describe answers: list element -> the element naming each item's own id.
LISTS = {
    "vpcSet": "vpcId",
    "subnetSet": "subnetId",
    "internetGatewaySet": "internetGatewayId",
    "addressesSet": "allocationId",
    "natGatewaySet": "natGatewayId",
    "routeTableSet": "routeTableId",
    "associationSet": "routeTableAssociationId",
    "securityGroupInfo": "groupId",
    "securityGroupRuleSet": "groupId",
    "instancesSet": "instanceId",
    "volumeSet": "volumeId",
    "launchTemplates": "launchTemplateId",
    "flowLogSet": "flowLogId",
}

# Parameters that name ids without AWS looking them up (filters match
# nothing instead; tags are opaque strings).
UNCHECKED = re.compile(r"^Filter\.\d+\.Value\.\d+$|(^|\.)Tag\.\d+\.(Key|Value)$")

MUTATING = ("Create", "Modify", "Delete", "Put", "Attach", "Associate", "Authorize", "Revoke",
            "Run", "Register", "Update", "Add", "Set", "Remove", "Request", "Import")

# Services whose mutating calls go by more names than MUTATING's.
MUTATING_BY_SERVICE = {"wafv2": ("Tag", "Untag", "Disassociate")}

THROTTLED = {  # protocol -> (status, code, message)
    "ec2": (503, "RequestLimitExceeded", "Request limit exceeded."),
    "query": (400, "Throttling", "Rate exceeded"),
    "json": (400, "ThrottlingException", "Rate exceeded"),
    "rest": (400, "ThrottlingException", "Rate exceeded"),
}
# Query-compatible JSON services answer their query code (CloudWatch, reached
# through moto_server.py's CBOR bridge).
THROTTLED_BY_SERVICE = {"monitoring": (400, "Throttling", "Rate exceeded")}

# REST-JSON services: (method, path pattern, operation); "id" names the resource.
ROUTES = {
    "mq": [
        ("POST", r"/v1/brokers", "CreateBroker"),
        ("GET", r"/v1/brokers", "ListBrokers"),
        ("GET", r"/v1/brokers/(?P<id>[^/]+)", "DescribeBroker"),
        ("PUT", r"/v1/brokers/(?P<id>[^/]+)", "UpdateBroker"),
        ("DELETE", r"/v1/brokers/(?P<id>[^/]+)", "DeleteBroker"),
        ("POST", r"/v1/brokers/(?P<id>[^/]+)/reboot", "RebootBroker"),
        ("POST", r"/v1/brokers/(?P<id>[^/]+)/users/[^/]+", "CreateUser"),
        ("PUT", r"/v1/brokers/(?P<id>[^/]+)/users/[^/]+", "UpdateUser"),
        ("DELETE", r"/v1/brokers/(?P<id>[^/]+)/users/[^/]+", "DeleteUser"),
        ("POST", r"/v1/configurations", "CreateConfiguration"),
        ("PUT", r"/v1/configurations/[^/]+", "UpdateConfiguration"),
        ("POST", r"/v1/tags/[^/]+", "CreateTags"),
        ("DELETE", r"/v1/tags/[^/]+", "DeleteTags"),
    ],
    "backup": [
        ("PUT", r"/backup/plans", "CreateBackupPlan"),
        ("GET", r"/backup/plans/(?P<id>[^/]+)", "GetBackupPlan"),
        ("POST", r"/backup/plans/(?P<id>[^/]+)", "UpdateBackupPlan"),
        ("DELETE", r"/backup/plans/(?P<id>[^/]+)", "DeleteBackupPlan"),
        ("PUT", r"/backup/plans/(?P<id>[^/]+)/selections", "CreateBackupSelection"),
        ("GET", r"/backup/plans/(?P<id>[^/]+)/selections", "ListBackupSelections"),
        ("GET", r"/backup/plans/(?P<id>[^/]+)/selections/[^/]+", "GetBackupSelection"),
        ("DELETE", r"/backup/plans/(?P<id>[^/]+)/selections/[^/]+", "DeleteBackupSelection"),
        ("PUT", r"/backup-vaults/(?P<id>[^/]+)", "CreateBackupVault"),
        ("GET", r"/backup-vaults/(?P<id>[^/]+)", "DescribeBackupVault"),
        ("DELETE", r"/backup-vaults/(?P<id>[^/]+)", "DeleteBackupVault"),
        ("POST", r"/tags/.+", "TagResource"),
        ("POST", r"/untag/.+", "UntagResource"),
    ],
    "es": [
        ("POST", r"/2021-01-01/opensearch/domain", "CreateDomain"),
        ("GET", r"/2021-01-01/opensearch/domain/(?P<id>[^/]+)", "DescribeDomain"),
        ("DELETE", r"/2021-01-01/opensearch/domain/(?P<id>[^/]+)", "DeleteDomain"),
        ("POST", r"/2021-01-01/opensearch/domain/(?P<id>[^/]+)/config", "UpdateDomainConfig"),
        ("GET", r"/2021-01-01/opensearch/domain/(?P<id>[^/]+)/config", "DescribeDomainConfig"),
        ("POST", r"/2021-01-01/opensearch/upgradeDomain", "UpgradeDomain"),
        ("POST", r"/2021-01-01/opensearch/domain-info", "DescribeDomains"),
        ("POST", r"/2021-01-01/tags/?", "AddTags"),
        ("POST", r"/2021-01-01/tags-removal/?", "RemoveTags"),
    ],
}

# Calls that change a resource with a lifecycle: (service, operation) -> (kind, what it does).
LIFECYCLE = {
    ("rds", "CreateDBCluster"): ("db-cluster", "create"),
    ("rds", "ModifyDBCluster"): ("db-cluster", "modify"),
    ("rds", "RebootDBCluster"): ("db-cluster", "reboot"),
    ("rds", "DeleteDBCluster"): ("db-cluster", "delete"),
    ("rds", "CreateDBInstance"): ("db-instance", "create"),
    ("rds", "ModifyDBInstance"): ("db-instance", "modify"),
    ("rds", "RebootDBInstance"): ("db-instance", "reboot"),
    ("rds", "DeleteDBInstance"): ("db-instance", "delete"),
    ("elasticache", "CreateReplicationGroup"): ("replication-group", "create"),
    ("elasticache", "ModifyReplicationGroup"): ("replication-group", "modify"),
    ("elasticache", "DeleteReplicationGroup"): ("replication-group", "delete"),
    ("mq", "CreateBroker"): ("broker", "create"),
    ("mq", "UpdateBroker"): ("broker", "update"),  # pending until a reboot
    ("mq", "RebootBroker"): ("broker", "modify"),
    ("mq", "DeleteBroker"): ("broker", "delete"),
    ("es", "CreateDomain"): ("domain", "create"),
    ("es", "UpdateDomainConfig"): ("domain", "modify"),
    ("es", "UpgradeDomain"): ("domain", "modify"),
    ("es", "DeleteDomain"): ("domain", "delete"),
    ("elasticloadbalancing", "CreateLoadBalancer"): ("load-balancer", "create"),
    ("elasticloadbalancing", "DeleteLoadBalancer"): ("load-balancer", "delete"),
}

# Kinds that read "deleting" for a while after their delete.
DELETABLE = {"db-cluster", "db-instance", "replication-group"}

CONFLICT = {  # kind -> (status, code, message)
    "db-cluster": (400, "InvalidDBClusterStateFault", "DB cluster is not in available state"),
    "db-instance": (400, "InvalidDBInstanceState", "DB instance {} is not in available state."),
    "replication-group": (400, "InvalidReplicationGroupState", "Replication group {} is not in available state."),
    "broker": (409, "ConflictException", "Broker {} is not in RUNNING state; try again when it is."),
    "domain": (409, "ConflictException", "Domain {} is being created or changed; try again when Processing is false."),
    # What OpenSearch really answers a config change or upgrade while Processing.
    ("domain", "modify"): (400, "ValidationException",
                           "A change/update is in progress. Please wait for it to complete before requesting another change."),
}

# Deleting these releases network interfaces some time later.
ENI_HOLDERS = {
    ("rds", "DeleteDBInstance"), ("rds", "DeleteDBCluster"),
    ("elasticache", "DeleteReplicationGroup"), ("elasticache", "DeleteCacheCluster"),
    ("mq", "DeleteBroker"), ("es", "DeleteDomain"),
    ("ecs", "DeleteService"), ("ecs", "StopTask"),
    ("elasticloadbalancing", "DeleteLoadBalancer"),
}

# ELBv2 calls that take listeners or rules away: the target groups they
# forwarded to and the certificates they served stay "in use" a while.
RELEASING = {"DeleteLoadBalancer", "DeleteListener", "DeleteRule", "ModifyListener", "ModifyRule",
             "RemoveListenerCertificates"}

# What WAFv2 answers for a web ACL or resource it cannot use yet, and for a
# web ACL still associated.
WAF_UNAVAILABLE = (400, "WAFUnavailableEntityException",
                   "AWS WAF couldn’t retrieve the resource that you requested. Retry your request.")
WAF_ASSOCIATED = (400, "WAFAssociatedItemException",
                  "AWS WAF couldn’t perform the operation because your resource is being used by another "
                  "resource or it’s associated with another resource.")
LOAD_BALANCER_ARN = re.compile(r"arn:aws[\w-]*:elasticloadbalancing:([^:]+):(\d+):loadbalancer/.+")

# Calls that end a web ACL's association with a resource.
WEB_ACL_RELEASING = {("wafv2", "DisassociateWebACL"), ("elasticloadbalancing", "DeleteLoadBalancer")}

OPENSEARCH_SLR = ("AWSServiceRoleForAmazonOpenSearchService", "opensearchservice.amazonaws.com")
ECS_SLR = ("AWSServiceRoleForECS", "ecs.amazonaws.com")


class Call:
    """One AWS request as the behaviours see it."""

    def __init__(self, environ, service, protocol, op, params, body, ident):
        self.environ = environ
        self.service = service  # SigV4 signing name: ec2, rds, es, ...
        self.protocol = protocol  # ec2, query, json or rest
        self.op = op
        self.params = params  # query protocols
        self.body = body  # JSON protocols
        self.ident = ident  # REST: the resource id in the path
        m = re.search(r"Credential=([^/,\s]*)/[^/,]*/([^/,]*)/", environ.get("HTTP_AUTHORIZATION", ""))
        self.access_key, self.region = (m.group(1), m.group(2)) if m else ("", "us-east-1")
        self._account = None

    @property
    def account(self):
        # As moto picks it: env, header, then the access key. Only looked up
        # when needed: the first lookup after a reset makes moto load IAM.
        if self._account is None:
            self._account = (os.environ.get("MOTO_ACCOUNT_ID") or self.environ.get("HTTP_X_MOTO_ACCOUNT_ID")
                             or iam_models.get_account_id_from(self.access_key))
        return self._account

    def backend(self, name):
        return get_backend(name)[self.account][self.region]

    def key(self, kind, ident):
        return (kind, self.account, self.region, ident)


class AwsLike:
    """WSGI middleware in front of moto's dispatcher: the behaviours above."""

    PATH = "/morket-api/aws-like"
    FIELDS = {"on", "scale"}

    def __init__(self, app, fail, body, params, service):
        self.app = app
        # moto_server.py's helpers, so both middlewares read requests and shape errors alike.
        self.fail = fail
        self.read_body = body
        self.query_params = params
        self.signing_service = service
        # werkzeug serves each request on its own thread.
        self.lock = threading.RLock()
        self.on = frozenset()
        self.scale = 1.0
        self.zombies = []
        self.forget()
        global _current
        _current = self

    def forget(self):
        with self.lock:
            self.bury(everything=True)
            self.fired = defaultdict(lambda: defaultdict(int))
            self.young = {}  # EC2 id -> (visible from, prefix)
            self.roles = {}  # (account, role name) -> propagated from
            self.profiles = {}  # (account, instance profile name) -> usable by EC2 from
            self.log_policies = {}  # (account, region, logs resource policy name) -> propagated from
            self.held_groups, self.held_subnets, self.held_vpcs = {}, {}, {}  # id -> released at
            self.nat_deleted = {}  # VPC id -> Elastic IPs unmapped at
            self.windows = {}  # resource key -> [(state, start, end)]
            self.mutations = defaultdict(int)  # service -> mutating calls counted
            self.bursts = {}  # (service, operation) -> refusals left
            self.held_target_groups, self.held_certificates = {}, {}  # ARN -> released at
            self.young_web_acls = {}  # web ACL ARN -> associable from
            self.held_web_acls = {}  # web ACL ARN -> released at

    # -- control -------------------------------------------------------------

    def __call__(self, environ, start_response):
        arrived = time.monotonic()
        path = environ.get("PATH_INFO", "").rstrip("/")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == self.PATH:
            return self.control(environ, method, start_response)
        if path == "/moto-api/reset" and method == "POST":
            with self.lock:
                self.on, self.scale = frozenset(), 1.0
                self.forget()
            return self.app(environ, start_response)
        on = self.on
        if not on:
            # Nothing is read or parsed while the mode is off.
            return self.app(environ, start_response)
        call = self.parse(environ)
        if call is None:
            return self.app(environ, start_response)
        if "transitions" in on:
            self.bury()
        refusal = self.refuse(call, on, arrived)
        if refusal is not None:
            behaviour, status, code, message = refusal
            self.count(behaviour, call.op)
            fault = {"action": call.op, "code": code, "message": message, "status": status,
                     "rest": call.protocol == "rest", "source": f"aws-like {behaviour}"}
            return self.fail(environ, fault, start_response)
        before = self.prepare(call, on)
        status, headers, body = self.forward(environ)
        if 200 <= int(status.split()[0]) < 300:
            rewritten = self.after(call, on, before, body, time.monotonic())
            if rewritten is not None:
                body = rewritten
                headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
                headers.append(("Content-Length", str(len(body))))
        start_response(status, headers)
        return [body]

    def control(self, environ, method, start_response):
        if method == "GET":
            return self.answer(start_response, 200, self.listing())
        if method == "DELETE":
            with self.lock:
                self.on, self.scale = frozenset(), 1.0
                self.forget()
            return self.answer(start_response, 200, self.listing())
        if method != "POST":
            return self.answer(start_response, 405, {"error": f"{method} not allowed"})
        try:
            on, scale = self.parse_config(json.loads(self.read_body(environ) or b"null"))
        except ValueError as e:
            return self.answer(start_response, 400, {"error": str(e)})
        with self.lock:
            self.on, self.scale = on, scale
            if "transitions" not in on:
                self.bury(everything=True)
        return self.answer(start_response, 200, self.listing())

    def parse_config(self, doc):
        # Strict, so a misspelt behaviour fails the test that asks for it.
        if not isinstance(doc, dict):
            raise ValueError("the body must be a JSON object")
        unknown = set(doc) - self.FIELDS
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)}; known: {sorted(self.FIELDS)}")
        if "on" not in doc:
            raise ValueError('"on" is required: a list of behaviours, or "all"')
        on = doc["on"]
        if on == "all":
            on = list(BEHAVIOURS)
        if not isinstance(on, list) or not all(isinstance(b, str) for b in on):
            raise ValueError('"on" must be a list of behaviour names, or "all"')
        bad = [b for b in on if b not in BEHAVIOURS]
        if bad:
            raise ValueError(f"unknown behaviours {bad}; known: {list(BEHAVIOURS)}")
        scale = doc.get("scale", 1.0)
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale <= 100:
            raise ValueError('"scale" must be a number in (0, 100]')
        return frozenset(on), float(scale)

    def listing(self):
        with self.lock:
            return {
                "on": [b for b in BEHAVIOURS if b in self.on],
                "scale": self.scale,
                "fired": {b: dict(ops) for b, ops in self.fired.items() if ops},
            }

    def answer(self, start_response, status, doc):
        data = json.dumps(doc).encode()
        reason = {200: "OK", 400: "Bad Request", 405: "Method Not Allowed"}[status]
        start_response(f"{status} {reason}", [("Content-Type", "application/json"),
                                              ("Content-Length", str(len(data)))])
        return [data]

    def count(self, behaviour, op):
        with self.lock:
            self.fired[behaviour][op] += 1

    def seconds(self, aws_seconds):
        return aws_seconds * self.scale

    # -- requests ------------------------------------------------------------

    def parse(self, environ):
        service = self.signing_service(environ)
        if not service:
            return None
        method = environ.get("REQUEST_METHOD", "GET")
        params, body, ident = {}, {}, None
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target:
            protocol, op = "json", target.rpartition(".")[2]
            body = _json(self.read_body(environ))
        elif service in ROUTES:
            route = _route(service, method, environ.get("PATH_INFO", ""))
            if route is None:
                return None
            protocol, (op, ident) = "rest", route
            if method in ("POST", "PUT", "PATCH"):
                body = _json(self.read_body(environ))
        else:
            params = self.query_params(environ)
            op = params.get("Action")
            if not op:
                return None  # other REST services pass through
            protocol = "ec2" if service == "ec2" else "query"
        return Call(environ, service, protocol, op, params, body, ident)

    def forward(self, environ):
        """moto's whole answer, so it can be read and rewritten."""
        head = {}
        chunks = []

        def start_response(status, headers, exc_info=None):
            head["status"], head["headers"] = status, list(headers)
            return chunks.append

        result = self.app(environ, start_response)
        try:
            chunks.extend(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        return head["status"], head["headers"], b"".join(chunks)

    # -- before moto ---------------------------------------------------------

    def refuse(self, call, on, now):
        """(behaviour, status, code, message) if AWS would refuse the call now."""
        checks = [
            ("throttle", self.throttled),
            ("consistency", self.unseen),
            ("consistency", self.unseen_web_acl),
            ("iam", self.unpropagated),
            ("slr", self.no_service_role),
            ("eni", self.dependent),
            ("transitions", self.provisioning),
            ("conflicts", self.conflicting),
            ("conflicts", self.in_use),
        ]
        for behaviour, check in checks:
            if behaviour in on:
                refusal = check(call, now)
                if refusal is not None:
                    return (behaviour,) + refusal
        return None

    def throttled(self, call, now):
        if not call.op.startswith(MUTATING + MUTATING_BY_SERVICE.get(call.service, ())):
            return None
        key = (call.service, call.op)
        with self.lock:
            left = self.bursts.get(key, 0)
            if left:
                self.bursts[key] = left - 1
            else:
                self.mutations[call.service] += 1
                if self.mutations[call.service] % THROTTLE_EVERY:
                    return None
                self.bursts[key] = THROTTLE_BURST - 1
        return THROTTLED_BY_SERVICE.get(call.service) or THROTTLED[call.protocol]

    def unseen(self, call, now):
        if call.service != "ec2":
            return None
        with self.lock:
            young = {k: v for k, v in self.young.items() if v[0] > now}
            self.young = young
        if not young:
            return None
        for name, value in call.params.items():
            if value in young and not UNCHECKED.search(name):
                code, message = NOT_FOUND[young[value][1]]
                return 400, code, message.format(value)
        return None

    def unseen_web_acl(self, call, now):
        # WAF cannot associate a web ACL moments old.
        if call.service != "wafv2" or call.op != "AssociateWebACL":
            return None
        arn = call.body.get("WebACLArn")
        with self.lock:
            young = isinstance(arn, str) and self.young_web_acls.get(arn, 0) > now
        return WAF_UNAVAILABLE if young else None

    def provisioning(self, call, now):
        # Nor with a load balancer still provisioning.
        if call.service != "wafv2" or call.op != "AssociateWebACL":
            return None
        arn = call.body.get("ResourceArn")
        m = LOAD_BALANCER_ARN.fullmatch(arn) if isinstance(arn, str) else None
        if m and self.state(("load-balancer", m.group(2), m.group(1), arn), now) == "creating":
            return WAF_UNAVAILABLE
        return None

    def unpropagated(self, call, now):
        if call.service == "ec2" and call.op == "CreateFlowLogs":
            arn = call.params.get("DeliverLogsPermissionArn")
            if arn and self.young_role(arn, now):
                return 400, "InvalidParameter", f"Unable to assume given IAM role: {arn}"
        if call.service == "rds" and call.op in ("CreateDBCluster", "CreateDBInstance", "ModifyDBInstance"):
            arn = call.params.get("MonitoringRoleArn")
            if arn and self.young_role(arn, now):
                return (400, "InvalidParameterValue", "IAM role ARN value is invalid or does not include "
                        "the required permissions for: ENHANCED_MONITORING")
        if call.service == "backup" and call.op == "CreateBackupSelection":
            arn = (call.body.get("BackupSelection") or {}).get("IamRoleArn")
            if arn and self.young_role(arn, now):
                return 400, "InvalidParameterValueException", f"IAM Role {arn} cannot be assumed by AWS Backup"
        if call.service == "ec2" and call.op == "RunInstances":
            kind, value = self.launch_profile(call)
            if value and self.young_profile(call, kind, value, now):
                return (400, "InvalidParameterValue", f"Value ({value}) for parameter iamInstanceProfile.{kind} is "
                        f"invalid. Invalid IAM Instance Profile {'name' if kind == 'name' else 'ARN'}")
        if call.service == "iam" and call.op in ("CreateRole", "UpdateAssumeRolePolicy"):
            doc = call.params.get("AssumeRolePolicyDocument" if call.op == "CreateRole" else "PolicyDocument")
            for arn in _aws_principals(doc):
                if self.young_role(arn, now):
                    return 400, "MalformedPolicyDocument", f'Invalid principal in policy: "AWS":"{arn}"'
        if call.service == "es" and call.op in ("CreateDomain", "UpdateDomainConfig"):
            options = call.body.get("LogPublishingOptions")
            for option in (options.values() if isinstance(options, dict) else ()):
                if not isinstance(option, dict) or option.get("Enabled") is not True:
                    continue
                arn = option.get("CloudWatchLogsLogGroupArn")
                group = _log_group(arn)
                if group and not self.logs_deliverable(group, now):
                    return (400, "ValidationException", "The Resource Access Policy specified for the CloudWatch "
                            f"Logs log group {group[3]} does not grant sufficient permissions for Amazon OpenSearch "
                            "Service to create a log stream. Please check the Resource Access Policy.")
        return None

    def logs_deliverable(self, group, now):
        """Whether the propagated logs resource policies let OpenSearch write to the log group."""
        partition, region, account, name = group
        arn = f"arn:{partition}:logs:{region}:{account}:log-group:{name}"
        try:
            policies = list(logs_backends[account][region].resource_policies.items())
        except Exception:  # no such region: moto answers the call
            return True
        with self.lock:
            policies = [p for n, p in policies if self.log_policies.get((account, region, n), 0) <= now]
        needed = {"logs:createlogstream", "logs:putlogevents"}
        for policy in policies:
            for st in _statements(getattr(policy, "policy_document", None)):
                if st.get("Effect") != "Allow" or not _grants_service(st.get("Principal"), "es.amazonaws.com"):
                    continue
                if not any(r in (arn, arn + ":*") or _glob(r, arn + ":*") for r in _strings(st.get("Resource"))):
                    continue
                needed = {a for a in needed if not any(_glob(p.lower(), a) for p in _strings(st.get("Action")))}
                if not needed:
                    return True
        return False

    def young_role(self, arn, now):
        m = re.fullmatch(r"arn:aws[\w-]*:iam::(\d+):role/(?:[^/]*/)*([^/]+)", arn.strip())
        with self.lock:
            return bool(m) and self.roles.get((m.group(1), m.group(2)), 0) > now

    def launch_profile(self, call):
        """("name" or "arn", value) of the instance profile RunInstances launches with, or (None, None)."""
        p = call.params
        for kind, param in (("name", "IamInstanceProfile.Name"), ("arn", "IamInstanceProfile.Arn")):
            if p.get(param):
                return kind, p[param]
        template = {k: p[f"LaunchTemplate.{k}"] for k in ("LaunchTemplateId", "LaunchTemplateName", "Version")
                    if p.get(f"LaunchTemplate.{k}")}
        if "LaunchTemplateId" not in template and "LaunchTemplateName" not in template:
            return None, None
        try:
            spec = call.backend("ec2")._get_template_from_args(template).data.get("IamInstanceProfile") or {}
        except Exception:  # no such template or version: moto answers the call
            return None, None
        if spec.get("Name"):
            return "name", spec["Name"]
        if spec.get("Arn"):
            return "arn", spec["Arn"]
        return None, None

    def young_profile(self, call, kind, value, now):
        if kind == "arn":
            m = re.fullmatch(r"arn:aws[\w-]*:iam::(\d+):instance-profile/(?:[^/]*/)*([^/]+)", value.strip())
            if not m:
                return False
            key = (m.group(1), m.group(2))
        else:
            key = (call.account, value)
        with self.lock:
            return self.profiles.get(key, 0) > now

    def no_service_role(self, call, now):
        if call.service == "es" and call.op == "CreateDomain" and call.body.get("VPCOptions"):
            if not self.service_role_ready(call, OPENSEARCH_SLR, now):
                return (400, "ValidationException", "Before you can proceed, you must enable a service-linked "
                        "role to give Amazon OpenSearch Service permissions to access your VPC.")
        if call.service == "ecs" and (
            call.op == "CreateService"
            or call.op == "CreateCluster"
            and (call.body.get("capacityProviders") or call.body.get("defaultCapacityProviderStrategy"))
        ):
            if not self.service_role_ready(call, ECS_SLR, now):
                return (400, "InvalidParameterException", "Unable to assume the service linked role. "
                        "Please verify that the ECS service linked role exists.")
        return None

    def service_role_ready(self, call, slr, now):
        name, principal = slr
        try:
            role = iam_models.iam_backends[call.account][get_partition(call.region)].get_role(name)
        except Exception:  # moto's NoSuchEntity
            return False
        with self.lock:
            young = self.roles.get((call.account, name), 0) > now
        return role.path == f"/aws-service-role/{principal}/" and not young

    def dependent(self, call, now):
        if call.service != "ec2":
            return None
        p = call.params
        with self.lock:
            if call.op == "DeleteSecurityGroup" and self.held_groups.get(p.get("GroupId"), 0) > now:
                return 400, "DependencyViolation", f"resource {p['GroupId']} has a dependent object"
            if call.op == "DeleteSubnet" and self.held_subnets.get(p.get("SubnetId"), 0) > now:
                return (400, "DependencyViolation",
                        f"The subnet '{p['SubnetId']}' has dependencies and cannot be deleted.")
            if call.op == "DeleteVpc" and self.held_vpcs.get(p.get("VpcId"), 0) > now:
                return 400, "DependencyViolation", f"The vpc '{p['VpcId']}' has dependencies and cannot be deleted."
            if call.op == "DetachInternetGateway" and self.nat_deleted.get(p.get("VpcId"), 0) > now:
                return (400, "DependencyViolation", f"Network {p['VpcId']} has some mapped public address(es). "
                        "Please unmap those public address(es) before detaching the gateway.")
        return None

    def in_use(self, call, now):
        if call.service == "elasticloadbalancing" and call.op == "DeleteTargetGroup":
            arn = call.params.get("TargetGroupArn", "")
            with self.lock:
                held = self.held_target_groups.get(arn, 0) > now
            if held:
                return 400, "ResourceInUse", f"The target group '{arn}' is currently in use by a listener or a rule"
        if call.service == "acm" and call.op == "DeleteCertificate":
            arn = call.body.get("CertificateArn", "")
            with self.lock:
                held = self.held_certificates.get(arn, 0) > now
            if held or arn in self.certificates_in_use(call):
                return 400, "ResourceInUseException", f"Certificate {arn} in use."
        if call.service == "wafv2" and call.op == "DeleteWebACL":
            acl = self.web_acl(call)
            if acl is not None:
                with self.lock:
                    held = self.held_web_acls.get(acl.arn, 0) > now
                if held or self.associations(acl):
                    return WAF_ASSOCIATED
        return None

    def web_acl(self, call):
        """moto's web ACL a DeleteWebACL names, or None."""
        b = call.body
        # moto keeps CLOUDFRONT-scoped web ACLs in a region of their own.
        region = WAF_GLOBAL_REGION if b.get("Scope") == "CLOUDFRONT" else call.region
        try:
            acls = list(get_backend("wafv2")[call.account][region].wacls.values())
        except Exception:  # no such region: moto answers the call
            return None
        return next((a for a in acls if a.id == b.get("Id") and a.name == b.get("Name")), None)

    def associations(self, acl):
        """The resources a web ACL is associated with. moto keeps a deleted
        load balancer's association; AWS drops it with the load balancer."""
        live = []
        for arn in list(acl.associated_resources):
            m = LOAD_BALANCER_ARN.fullmatch(arn)
            if m:
                try:
                    if arn not in get_backend("elbv2")[m.group(2)][m.group(1)].load_balancers:
                        continue
                except Exception:
                    continue
            live.append(arn)
        return live

    def certificates_in_use(self, call):
        """Certificate ARNs served by the region's load balancers (and CloudFront's, in us-east-1)."""
        used = set()
        try:
            for lb in call.backend("elbv2").load_balancers.values():
                for listener in lb.listeners.values():
                    used.update(_listener_refs(call, listener)[1])
        except Exception:
            pass
        if call.region == "us-east-1":
            try:
                from moto.cloudfront.models import cloudfront_backends
                for d in cloudfront_backends[call.account][get_partition(call.region)].distributions.values():
                    used.add(d.distribution_config.ViewerCertificate.acm_certificate_arn)
            except Exception:
                pass
        return used

    def conflicting(self, call, now):
        target = self.target(call)
        if target is None:
            return None
        key, what = target
        if what == "create" or key[0] == "load-balancer":
            # ELB takes listeners, rules and a delete while an ALB provisions.
            return None
        state = self.state(key, now)
        if state is None or (what == "delete" and state == "deleting"):
            return None
        status, code, message = CONFLICT.get((key[0], what), CONFLICT[key[0]])
        return status, code, message.format(key[3])

    def target(self, call):
        """(resource key, what the call does) for calls on a resource with a lifecycle."""
        kind, what = LIFECYCLE.get((call.service, call.op), (None, None))
        if kind is None:
            return None
        if kind == "db-cluster":
            ident = call.params.get("DBClusterIdentifier", "").lower()
        elif kind == "db-instance":
            ident = call.params.get("DBInstanceIdentifier", "").lower()
        elif kind == "replication-group":
            ident = call.params.get("ReplicationGroupId", "").lower()
        elif kind == "load-balancer":
            ident = call.params.get("LoadBalancerArn")  # CreateLoadBalancer: none yet
        elif call.op == "CreateDomain" or call.op == "UpgradeDomain":
            ident = call.body.get("DomainName")
        else:
            ident = call.ident  # a broker id or domain name from the path; CreateBroker: none yet
        return call.key(kind, ident), what

    def state(self, key, now):
        with self.lock:
            for state, start, end in reversed(self.windows.get(key, [])):
                if start <= now < end:
                    return state
        return None

    # -- around moto ---------------------------------------------------------

    def prepare(self, call, on):
        """What must be read from moto before the call changes it."""
        before = {}
        try:
            if "conflicts" in on and call.service == "elasticloadbalancing" and call.op in RELEASING:
                before["released"] = self.released_by(call)
            if "conflicts" in on and (call.service, call.op) in WEB_ACL_RELEASING:
                # The web ACL the resource is associated with, before the call ends that.
                p, b = call.params, call.body
                resource = b.get("ResourceArn") if call.service == "wafv2" else p.get("LoadBalancerArn")
                acl = call.backend("wafv2").get_web_acl_for_resource(resource) if isinstance(resource, str) else None
                before["web_acl"] = acl.arn if acl else None
            if "eni" in on and (call.service, call.op) in ENI_HOLDERS:
                before["eni"] = self.network_of(call)
            if "eni" in on and call.op == "DeleteNatGateway" and call.service == "ec2":
                nat = call.backend("ec2").nat_gateways.get(call.params.get("NatGatewayId"))
                before["nat_vpc"] = nat.vpc_id if nat else None
            if "transitions" in on and call.service == "rds" and call.op in ("DeleteDBInstance", "DeleteDBCluster"):
                rds = call.backend("rds")
                if call.op == "DeleteDBInstance":
                    ident = call.params.get("DBInstanceIdentifier", "").lower()
                    before["zombie"] = (rds.databases, ident, rds.databases.get(ident))
                else:
                    ident = call.params.get("DBClusterIdentifier", "").lower()
                    before["zombie"] = (rds.clusters, ident, rds.clusters.get(ident))
        except Exception:
            # Whatever moto cannot resolve does not exist: moto answers the call.
            pass
        return before

    def released_by(self, call):
        """(target group ARNs, certificate ARNs) the ELBv2 call may stop using."""
        elbv2 = call.backend("elbv2")
        p = call.params
        listeners = [l for lb in elbv2.load_balancers.values() for l in lb.listeners.values()]
        if call.op == "DeleteLoadBalancer":
            lb = elbv2.load_balancers.get(p.get("LoadBalancerArn", ""))
            listeners = list(lb.listeners.values()) if lb else []
        elif call.op in ("DeleteListener", "ModifyListener", "RemoveListenerCertificates"):
            listeners = [l for l in listeners if l.arn == p.get("ListenerArn")]
        else:  # DeleteRule, ModifyRule
            rules = [r for l in listeners for r in l.rules.values() if r.arn == p.get("RuleArn")]
            groups = set()
            for rule in rules:
                for action in rule.actions:
                    groups.update(elbv2._get_target_group_arns_from(action_data=action.data))
            return groups, set()
        groups, certificates = set(), set()
        for listener in listeners:
            g, c = _listener_refs(call, listener)
            groups |= g
            certificates |= c
        return groups, certificates

    def network_of(self, call):
        """(subnet ids, security group ids) the deleted resource has network interfaces in."""
        subnets, groups = [], []
        p, b = call.params, call.body
        if call.service == "rds":
            rds = call.backend("rds")
            if call.op == "DeleteDBInstance":
                thing = rds.databases.get(p.get("DBInstanceIdentifier", "").lower())
                group = getattr(thing, "_db_subnet_group_name", None)
                if not group and getattr(thing, "db_cluster_identifier", None):
                    group = rds.clusters[thing.db_cluster_identifier].db_subnet_group_name
            else:
                thing = rds.clusters.get(p.get("DBClusterIdentifier", "").lower())
                group = getattr(thing, "db_subnet_group_name", None)
            if thing is None:
                return None
            if group and group in rds.subnet_groups:
                subnets = [s["SubnetIdentifier"] for s in rds.subnet_groups[group].subnets]
            groups = list(thing.vpc_security_group_ids or [])
        elif call.service == "elasticache":
            cache = call.backend("elasticache")
            if call.op == "DeleteReplicationGroup":
                thing = cache.replication_groups.get(p.get("ReplicationGroupId"))
            else:
                thing = cache.cache_clusters.get(p.get("CacheClusterId"))
            if thing is None:
                return None
            group = cache.cache_subnet_groups.get(thing.cache_subnet_group_name or "")
            subnets = list(group.subnet_ids) if group else []
            groups = list(thing.security_group_ids or [])
        elif call.service == "mq":
            broker = call.backend("mq").brokers.get(call.ident)
            if broker is None:
                return None
            subnets, groups = list(broker.subnet_ids or []), list(broker.security_groups or [])
        elif call.service == "es":
            domain = call.backend("opensearch").domains.get(call.ident)
            if domain is None or not domain.vpc_options:
                return None
            subnets = list(domain.vpc_options.get("SubnetIds") or [])
            groups = list(domain.vpc_options.get("SecurityGroupIds") or [])
        elif call.service == "elasticloadbalancing":
            lb = call.backend("elbv2").load_balancers.get(p.get("LoadBalancerArn", ""))
            if lb is None:
                return None
            subnets = [getattr(s, "id", s) for s in lb.subnets or []]
            groups = list(lb.security_groups or [])
        elif call.service == "ecs":
            ecs = call.backend("ecs")
            cluster = ecs._get_cluster(b.get("cluster") or "default")
            if call.op == "DeleteService":
                network = ecs._get_service(cluster.name, b.get("service", "")).network_configuration
            else:
                task_id = (b.get("task") or "").split("/")[-1]
                tasks = [t for arn, t in ecs.tasks.get(cluster.name, {}).items() if task_id and arn.endswith(task_id)]
                network = getattr(tasks[0], "network_configuration", None) if tasks else None
            awsvpc = (network or {}).get("awsvpcConfiguration") or {}
            subnets, groups = list(awsvpc.get("subnets") or []), list(awsvpc.get("securityGroups") or [])
        ec2 = call.backend("ec2")
        vpcs = set()
        for s in subnets:
            try:
                vpcs.add(ec2.get_subnet(s).vpc_id)
            except Exception:
                pass
        for g in groups:
            group = ec2.get_security_group_from_id(g)
            if group is not None and group.vpc_id:
                vpcs.add(group.vpc_id)
        return subnets, groups, sorted(vpcs)

    def after(self, call, on, before, body, now):
        """Records what the successful call did; returns the rewritten answer, or None."""
        rewritten = None
        if call.service == "ec2":
            if "consistency" in on and call.op in CREATED:
                tag, prefix = CREATED[call.op]
                born = re.findall(rf"<{tag}>({prefix}-[0-9A-Za-z]+)</{tag}>".encode(), body)
                with self.lock:
                    for ident in born:
                        self.young[ident.decode()] = (now + self.seconds(CONSISTENCY), prefix)
            if "consistency" in on and call.op.startswith("Describe") and self.young:
                rewritten = self.hide_young(call, body, now)
            if "eni" in on and call.op == "DeleteNatGateway" and before.get("nat_vpc"):
                with self.lock:
                    self.nat_deleted[before["nat_vpc"]] = now + self.seconds(NAT_UNMAP)
        if call.service == "iam" and call.op in ("CreateRole", "CreateServiceLinkedRole") and on & {"iam", "slr"}:
            m = re.search(rb"<Arn>arn:aws[\w-]*:iam::(\d+):role/(?:[^/<]*/)*([^/<]+)</Arn>", body)
            if m:
                with self.lock:
                    self.roles[(m.group(1).decode(), m.group(2).decode())] = now + self.seconds(PROPAGATION)
        if call.service == "logs" and call.op == "PutResourcePolicy" and "iam" in on:
            name = call.body.get("policyName")
            if isinstance(name, str):
                with self.lock:
                    self.log_policies[(call.account, call.region, name)] = now + self.seconds(PROPAGATION)
        if call.service == "iam" and call.op == "CreateInstanceProfile" and "iam" in on:
            m = re.search(rb"<Arn>arn:aws[\w-]*:iam::(\d+):instance-profile/(?:[^/<]*/)*([^/<]+)</Arn>", body)
            if m:
                with self.lock:
                    self.profiles[(m.group(1).decode(), m.group(2).decode())] = now + self.seconds(PROPAGATION)
        if "eni" in on and before.get("eni"):
            subnets, groups, vpcs = before["eni"]
            until = now + self.seconds(ENI_LINGER)
            with self.lock:
                for held, ids in ((self.held_subnets, subnets), (self.held_groups, groups), (self.held_vpcs, vpcs)):
                    for ident in ids:
                        held[ident] = max(held.get(ident, 0), until)
        if on & {"transitions", "conflicts"} and (call.service, call.op) in LIFECYCLE:
            self.record(call, on, before, body, now)
        if call.service == "wafv2" and call.op == "CreateWebACL" and "consistency" in on:
            arn = (_json(body).get("Summary") or {}).get("ARN")
            if isinstance(arn, str):
                with self.lock:
                    self.young_web_acls[arn] = now + self.seconds(CONSISTENCY)
        if before.get("web_acl"):
            arn = before["web_acl"]
            with self.lock:
                self.held_web_acls[arn] = max(self.held_web_acls.get(arn, 0), now + self.seconds(WEB_ACL_RELEASE))
        if "released" in before:
            target_groups, certificates = before["released"]
            with self.lock:
                for held, arns, window in ((self.held_target_groups, target_groups, TG_RELEASE),
                                           (self.held_certificates, certificates, CERT_RELEASE)):
                    for arn in arns:
                        held[arn] = max(held.get(arn, 0), now + self.seconds(window))
        if "transitions" in on and self.windows and (
            call.service in ("rds", "elasticache", "mq", "es")
            or call.service == "elasticloadbalancing" and call.op == "DescribeLoadBalancers"
        ):
            rewritten = self.show_state(call, body, now)
        return rewritten

    def record(self, call, on, before, body, now):
        key, what = self.target(call)
        if what == "create" and call.service == "mq":
            key = call.key("broker", _json(body).get("brokerId"))
        if what == "create" and call.service == "elasticloadbalancing":
            m = re.search(rb"<LoadBalancerArn>([^<]+)</LoadBalancerArn>", body)
            key = call.key("load-balancer", m.group(1).decode() if m else None)
        with self.lock:
            windows = self.windows.setdefault(key, [])
            if what == "create":
                span = LB_PROVISIONING if key[0] == "load-balancer" else CREATING
                windows[:] = [("creating", now, now + self.seconds(span))]
            elif what == "modify":
                start = now + self.seconds(MODIFY_LAG)
                windows.append(("modifying", start, start + self.seconds(MODIFYING)))
            elif what == "delete" and key[0] not in DELETABLE:
                del self.windows[key]
            elif what == "delete" and self.state(key, now) != "deleting":
                until = now + self.seconds(DELETING)
                windows[:] = [("deleting", now, until)]
                if "transitions" in on:
                    self.keep_deleting(call, before, key, until)
            elif what == "delete" and "zombie" in before:
                # A second delete while deleting: moto let go of it again.
                container, ident, obj = before["zombie"]
                if obj is not None and ident not in container:
                    container[ident] = obj

    def keep_deleting(self, call, before, key, until):
        """Keeps a deleted data store in moto, as "deleting", until its window ends."""
        if key[0] == "replication-group":
            cache = call.backend("elasticache")
            container, ident = cache.replication_groups, call.params.get("ReplicationGroupId")
            obj = container.get(ident)  # moto keeps it; moto_server.py drops it unless it lingers
        else:
            container, ident, obj = before.get("zombie", (None, None, None))
            if obj is None:
                return
            container[ident] = obj
            obj.status = "deleting"
        if obj is not None:
            obj._morket_deleting_until = until
            self.zombies.append((until, container, ident, obj))

    def bury(self, everything=False):
        """Lets moto forget the deleted data stores whose window has ended."""
        now = time.monotonic()
        keep, due = [], []
        with self.lock:
            for zombie in self.zombies:
                (due if everything or zombie[0] <= now else keep).append(zombie)
            self.zombies = keep
        for _, container, ident, obj in due:
            obj._morket_deleting_until = 0
            if container.get(ident) is obj:
                container.pop(ident, None)

    # -- answers -------------------------------------------------------------

    def hide_young(self, call, body, now):
        with self.lock:
            young = {k for k, v in self.young.items() if v[0] > now}
        # A filter on ids AWS does not know yet matches nothing.
        filters = defaultdict(list)
        for name, value in call.params.items():
            m = re.fullmatch(r"Filter\.(\d+)\.Value\.\d+", name)
            if m:
                filters[m.group(1)].append(value)
        nothing = any(values and all(v in young for v in values) for values in filters.values())

        def edit(root):
            changed = False
            top = next((c for c in root if _local(c.tag) in LISTS or _local(c.tag) == "reservationSet"), None)
            if nothing and top is not None and len(top):
                for item in list(top):
                    top.remove(item)
                changed = True
            for parent in list(root.iter()):
                own_id = LISTS.get(_local(parent.tag))
                for item in list(parent) if own_id else []:
                    # What a new VPC brings along (default group, main route table) is as new.
                    if _text(item, own_id) in young or _text(item, "vpcId") in young:
                        parent.remove(item)
                        changed = True
            if top is not None and _local(top.tag) == "reservationSet":
                for reservation in list(top):
                    instances = _child(reservation, "instancesSet")
                    if instances is not None and not len(instances):
                        top.remove(reservation)
            return changed

        rewritten = _edit_xml(body, edit)
        if rewritten is not None:
            self.count("consistency", call.op)
        return rewritten

    def show_state(self, call, body, now):
        def state(kind, ident):
            return self.state(call.key(kind, ident), now) if ident else None

        if call.service == "rds":
            rewritten = _edit_xml(body, lambda root: _rds_states(root, state))
        elif call.service == "elasticache":
            rewritten = _edit_xml(body, lambda root: _cache_states(root, state))
        elif call.service == "mq":
            rewritten = _edit_json(body, lambda doc: _broker_states(doc, state))
        elif call.service == "elasticloadbalancing":
            rewritten = _edit_xml(body, lambda root: _load_balancer_states(root, state))
        else:
            rewritten = _edit_json(body, lambda doc: _domain_states(doc, state))
        if rewritten is not None:
            self.count("transitions", call.op)
        return rewritten


# -- answer rewriting ---------------------------------------------------------


def _rds_states(root, state):
    changed = False
    for el in [e for e in root.iter() if _local(e.tag) in ("DBCluster", "DBInstance")]:
        if _local(el.tag) == "DBCluster":
            now = state("db-cluster", (_text(el, "DBClusterIdentifier") or "").lower())
            status_tag, endpoints = "Status", ("Endpoint", "ReaderEndpoint")
        else:
            now = state("db-instance", (_text(el, "DBInstanceIdentifier") or "").lower())
            status_tag, endpoints = "DBInstanceStatus", ("Endpoint",)
        if now is None:
            continue
        # Inside a window the answer is this module's, even where moto agrees.
        changed = True
        _set_text(el, status_tag, now)
        if now == "creating":
            _drop(el, endpoints)
    return changed


def _load_balancer_states(root, state):
    changed = False
    for el in [e for e in root.iter() if _child(e, "LoadBalancerArn") is not None and _child(e, "State") is not None]:
        if state("load-balancer", _text(el, "LoadBalancerArn")) != "creating":
            continue
        changed = True
        _set_text(_child(el, "State"), "Code", "provisioning")
    return changed


def _listener_refs(call, listener):
    """(target group ARNs, certificate ARNs) an ELBv2 listener's rules forward to and it serves."""
    elbv2 = call.backend("elbv2")
    groups = set()
    for rule in listener.rules.values():
        for action in rule.actions:
            groups.update(elbv2._get_target_group_arns_from(action_data=action.data))
    certificates = {c if isinstance(c, str) else (c or {}).get("CertificateArn") for c in listener.certificates or []}
    return groups, {c for c in certificates if c}


def _cache_states(root, state):
    changed = False
    for el in [e for e in root.iter() if _local(e.tag) == "ReplicationGroup"]:
        now = state("replication-group", (_text(el, "ReplicationGroupId") or "").lower())
        if now is None:
            continue
        changed = True
        _set_text(el, "Status", now)
        for group in [e for e in el.iter() if _local(e.tag) == "NodeGroup"]:
            _set_text(group, "Status", now)
        if now == "creating":
            # No node has an address until the group is available.
            for parent in list(el.iter()):
                _drop(parent, ("ConfigurationEndpoint", "PrimaryEndpoint", "ReaderEndpoint", "ReadEndpoint"))
    return changed


def _broker_states(doc, state):
    shown = {"creating": "CREATION_IN_PROGRESS", "modifying": "REBOOT_IN_PROGRESS"}
    changed = False
    for broker in [doc] + list(doc.get("brokerSummaries") or []):
        now = shown.get(state("broker", broker.get("brokerId")))
        if now is None or "brokerState" not in broker:
            continue
        changed = True
        broker["brokerState"] = now
        if now == "CREATION_IN_PROGRESS" and "brokerInstances" in broker:
            broker["brokerInstances"] = []
    return changed


def _domain_states(doc, state):
    changed = False
    domains = list(doc.get("DomainStatusList") or [])
    if isinstance(doc.get("DomainStatus"), dict):
        domains.append(doc["DomainStatus"])
    for domain in domains:
        now = state("domain", domain.get("DomainName"))
        if now is None:
            continue
        changed = True
        domain["Processing"] = True
        if now == "creating":
            for key in ("Endpoint", "Endpoints", "EndpointV2"):
                domain.pop(key, None)
    return changed


def _edit_xml(body, edit):
    """body after edit(root), or None if edit changed nothing."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    if not edit(root):
        return None
    ns = root.tag[1:].partition("}")[0] if root.tag.startswith("{") else None
    text = ET.tostring(root, encoding="unicode", default_namespace=ns)
    head = '<?xml version="1.0" encoding="utf-8"?>\n' if body.lstrip().startswith(b"<?xml") else ""
    return (head + text).encode("utf-8")


def _edit_json(body, edit):
    doc = _json(body)
    if not doc or not edit(doc):
        return None
    return json.dumps(doc).encode("utf-8")


def _local(tag):
    return tag.rpartition("}")[2]


def _child(el, name):
    return next((c for c in el if _local(c.tag) == name), None)


def _text(el, name):
    c = _child(el, name)
    return None if c is None else (c.text or "").strip()


def _set_text(el, name, text):
    c = _child(el, name)
    if c is not None:
        c.text = text


def _drop(el, names):
    for c in [c for c in el if _local(c.tag) in names]:
        el.remove(c)


def _json(data):
    try:
        doc = json.loads(data or b"{}")
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _route(service, method, path):
    for m, pattern, op in ROUTES[service]:
        match = re.fullmatch(pattern, path.rstrip("/") or "/")
        if m == method and match:
            return op, match.groupdict().get("id")
    return None


def _aws_principals(doc):
    """The AWS principals (ARNs) of a trust policy document."""
    try:
        policy = json.loads(doc or "{}")
    except ValueError:
        return []
    statements = policy.get("Statement", []) if isinstance(policy, dict) else []
    if isinstance(statements, dict):
        statements = [statements]
    found = []
    for st in statements:
        principal = st.get("Principal") if isinstance(st, dict) else None
        aws = principal.get("AWS") if isinstance(principal, dict) else None
        found += [aws] if isinstance(aws, str) else [a for a in aws or [] if isinstance(a, str)]
    return found


def _log_group(arn):
    """(partition, region, account, group name) of a CloudWatch Logs log group ARN, or None."""
    if not isinstance(arn, str):
        return None
    m = re.fullmatch(r"arn:(aws[\w-]*):logs:([^:]+):(\d+):log-group:(.+?)(?::\*)?", arn.strip())
    return m.groups() if m else None


def _statements(doc):
    try:
        policy = json.loads(doc or "{}")
    except (TypeError, ValueError):
        return []
    statements = policy.get("Statement", []) if isinstance(policy, dict) else []
    if isinstance(statements, dict):
        statements = [statements]
    return [st for st in statements if isinstance(st, dict)] if isinstance(statements, list) else []


def _strings(value):
    """A policy element that may be a string or a list of strings, as a list."""
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _grants_service(principal, service):
    if principal == "*":
        return True
    return isinstance(principal, dict) and service in _strings(principal.get("Service"))


def _glob(pattern, value):
    """IAM wildcard match: * any run of characters, ? one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None
