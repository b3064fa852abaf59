"""Checks moto_server.py's AWS-like mode (scripts/aws_like.py) against a running server, with boto3.

Usage: venv/bin/python scripts/check_aws_like.py http://127.0.0.1:PORT
Exits non-zero on the first failed check. It resets the server (POST
/moto-api/reset) before and after, so do not point it at a server in use.
Each behaviour is checked inside its window and after it, with the windows
scaled down ("scale") so the whole run takes about forty-five seconds.
"""

import json
import sys
import time
import urllib.error
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

if len(sys.argv) != 2:
    sys.exit(__doc__)
URL = sys.argv[1].rstrip("/")


def control(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(URL + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


def reset():
    control("POST", "/moto-api/reset")
    # moto builds its IAM backends lazily: the first two calls after a reset
    # take over a second, longer than the scaled windows below.
    for _ in range(2):
        ec2.describe_vpcs()


def aws_like(on, scale=1.0):
    return control("POST", "/morket-api/aws-like", {"on": on, "scale": scale})


def fired():
    return control("GET", "/morket-api/aws-like")["fired"]


def check(what, ok):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        sys.exit(1)


def error_of(call):
    """(code, HTTP status, message) of the call's error, or None if it succeeded."""
    try:
        call()
    except ClientError as e:
        err = e.response["Error"]
        return err.get("Code"), e.response["ResponseMetadata"]["HTTPStatusCode"], err.get("Message", "")
    return None


def fails_with(what, code, call, status=None, message=None):
    got = error_of(call)
    if got is None:
        check(f"{what} fails with {code} (it succeeded)", False)
    codes = code if isinstance(code, tuple) else (code,)
    ok = got[0] in codes and (status is None or got[1] == status) and (message is None or message in got[2])
    check(f"{what} fails with {'/'.join(codes)} (got {got[1]} {got[0]}: {got[2]})", ok)


def works(what, call):
    try:
        result = call()
    except ClientError as e:
        check(f"{what} succeeds (got {e.response['Error']['Code']}: {e.response['Error'].get('Message')})", False)
    check(f"{what} succeeds", True)
    return result


def client(service, attempts=1):
    # No retries unless asked: a retried call would hide what the server answered.
    return boto3.client(
        service,
        endpoint_url=URL,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": attempts, "mode": "standard"}),
    )


ec2, iam, rds, cache, mq, search, ecs, logs, elbv2, acm, backup, cloudfront, waf = (
    client(s) for s in ("ec2", "iam", "rds", "elasticache", "mq", "opensearch", "ecs", "logs", "elbv2", "acm",
                        "backup", "cloudfront", "wafv2")
)
TRUST_EC2 = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "vpc-flow-logs.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
URN = [{"Name": "tag:morket:urn", "Values": ["urn:check"]}]


def trust_aws(arn):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": arn}, "Action": "sts:AssumeRole"}]})


def tagged(kind):
    return [{"ResourceType": kind, "Tags": [{"Key": "morket:urn", "Value": "urn:check"}]}]


def ids(items, key):
    return [i[key] for i in items]


def network(vpc_cidr="10.0.0.0/16"):
    """A VPC with two subnets and a security group, made while the mode is off."""
    vpc = ec2.create_vpc(CidrBlock=vpc_cidr)["Vpc"]["VpcId"]
    base = vpc_cidr.rsplit(".", 2)[0]
    a = ec2.create_subnet(VpcId=vpc, CidrBlock=f"{base}.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    b = ec2.create_subnet(VpcId=vpc, CidrBlock=f"{base}.2.0/24", AvailabilityZone="us-east-1b")["Subnet"]["SubnetId"]
    return vpc, a, b


def group(vpc, name):
    return ec2.create_security_group(VpcId=vpc, GroupName=name, Description=name)["GroupId"]


def task_definition(family):
    return ecs.register_task_definition(
        family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{"name": "app", "image": "nginx", "memory": 128, "essential": True}],
    )["taskDefinition"]["taskDefinitionArn"]


def awsvpc(subnet, sg):
    return {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [sg]}}


def broker(name, subnet=None, sg=None):
    net = {"SubnetIds": [subnet], "SecurityGroups": [sg]} if subnet else {}
    return mq.create_broker(
        BrokerName=name, DeploymentMode="SINGLE_INSTANCE", EngineType="RABBITMQ", EngineVersion="3.13",
        HostInstanceType="mq.t3.micro", PubliclyAccessible=False, AutoMinorVersionUpgrade=True,
        Users=[{"Username": "admin", "Password": "password12345"}], **net,
    )["BrokerId"]


reset()

# -- the control endpoint -----------------------------------------------------

for body, why in [
    ({"on": ["consistency", "bogus"]}, "an unknown behaviour"),
    ({"on": [], "scael": 1}, "an unknown field"),
    ({"scale": 1}, 'no "on"'),
    ({"on": "all", "scale": 0}, "a zero scale"),
    ({"on": "consistency"}, '"on" neither a list nor "all"'),
]:
    try:
        control("POST", "/morket-api/aws-like", body)
        check(f"a POST with {why} is refused", False)
    except urllib.error.HTTPError as e:
        check(f"a POST with {why} is refused ({e.code} {e.read().decode()})", e.code == 400)
got = aws_like("all", 0.5)
check(f'"all" switches every behaviour on ({got})', len(got["on"]) == 7 and got["scale"] == 0.5)
got = control("DELETE", "/morket-api/aws-like")
check(f"DELETE switches everything off ({got})", got == {"on": [], "scale": 1.0, "fired": {}})
aws_like(["consistency"], 0.5)
young = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
fails_with("DescribeVpcs of a new VPC", "InvalidVpcID.NotFound", lambda: ec2.describe_vpcs(VpcIds=[young]))
check("GET counts it", fired() == {"consistency": {"DescribeVpcs": 1}})
reset()
got = control("GET", "/morket-api/aws-like")
check(f"POST /moto-api/reset switches it off too ({got})", got == {"on": [], "scale": 1.0, "fired": {}})

# -- consistency: 10 s -> 1 s -------------------------------------------------

WINDOW = 1.0
aws_like(["consistency"], WINDOW / 10)
vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=tagged("vpc"))["Vpc"]["VpcId"]
fails_with("ModifyVpcAttribute on a new VPC", "InvalidVpcID.NotFound",
           lambda: ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True}), status=400,
           message=vpc)
fails_with("DescribeVpcs of a new VPC by id", "InvalidVpcID.NotFound", lambda: ec2.describe_vpcs(VpcIds=[vpc]))
check("DescribeVpcs by tag filter leaves the new VPC out",
      vpc not in ids(ec2.describe_vpcs(Filters=URN)["Vpcs"], "VpcId"))
fails_with("CreateSubnet in a new VPC", "InvalidVpcID.NotFound",
           lambda: ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.9.0/24"))
check("DescribeSecurityGroups filtered on a new VPC's id matches nothing",
      ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"] == [])
listed_young = ids(ec2.describe_security_groups()["SecurityGroups"], "GroupId")
time.sleep(WINDOW + 0.2)
works("ModifyVpcAttribute after the window", lambda: ec2.modify_vpc_attribute(
    VpcId=vpc, EnableDnsHostnames={"Value": True}))
check("DescribeVpcs by tag filter lists the VPC after the window",
      vpc in ids(ec2.describe_vpcs(Filters=URN)["Vpcs"], "VpcId"))
default_sg = ec2.describe_security_groups(
    Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
)["SecurityGroups"][0]["GroupId"]
check("DescribeSecurityGroups left a new VPC's default group out, and lists it after the window",
      default_sg not in listed_young and default_sg in ids(ec2.describe_security_groups()["SecurityGroups"], "GroupId"))

# Objects that need only the (now visible) VPC.
sub = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1a",
                        TagSpecifications=tagged("subnet"))["Subnet"]["SubnetId"]
sg = ec2.create_security_group(VpcId=vpc, GroupName="web", Description="web")["GroupId"]
igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
vol = ec2.create_volume(AvailabilityZone="us-east-1a", Size=10)["VolumeId"]
lt = ec2.create_launch_template(LaunchTemplateName="lt", LaunchTemplateData={"ImageId": "ami-12c6146b"})[
    "LaunchTemplate"]["LaunchTemplateId"]
ingress = [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]
from_web = [{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": sg}]}]
fails_with("DescribeSubnets of a new subnet by id", "InvalidSubnetID.NotFound",
           lambda: ec2.describe_subnets(SubnetIds=[sub]))
check("DescribeSubnets by vpc-id filter leaves the new subnet out",
      sub not in ids(ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"], "SubnetId"))
fails_with("CreateTags on a new subnet", "InvalidSubnetID.NotFound",
           lambda: ec2.create_tags(Resources=[sub], Tags=[{"Key": "k", "Value": "v"}]))
fails_with("AuthorizeSecurityGroupIngress on a new group", "InvalidGroup.NotFound",
           lambda: ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=ingress))
fails_with("AuthorizeSecurityGroupIngress naming a new group as source", "InvalidGroup.NotFound",
           lambda: ec2.authorize_security_group_ingress(GroupId=default_sg, IpPermissions=from_web))
check("DescribeSecurityGroups by vpc-id filter leaves the new group out",
      sg not in ids(ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"],
                    "GroupId"))
fails_with("AttachInternetGateway of a new gateway", "InvalidInternetGatewayID.NotFound",
           lambda: ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc))
check("DescribeInternetGateways leaves the new gateway out",
      igw not in ids(ec2.describe_internet_gateways()["InternetGateways"], "InternetGatewayId"))
fails_with("DescribeAddresses of a new allocation", "InvalidAllocationID.NotFound",
           lambda: ec2.describe_addresses(AllocationIds=[eip]))
check("DescribeAddresses leaves the new address out",
      eip not in ids(ec2.describe_addresses()["Addresses"], "AllocationId"))
fails_with("CreateNatGateway in a new subnet with a new address",
           ("InvalidAllocationID.NotFound", "InvalidSubnetID.NotFound"),
           lambda: ec2.create_nat_gateway(SubnetId=sub, AllocationId=eip))
fails_with("CreateRoute in a new route table", "InvalidRouteTableID.NotFound",
           lambda: ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw))
check("DescribeRouteTables by vpc-id filter leaves the new table out",
      rtb not in ids(ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"],
                     "RouteTableId"))
fails_with("DescribeVolumes of a new volume", "InvalidVolume.NotFound", lambda: ec2.describe_volumes(VolumeIds=[vol]))
check("DescribeVolumes leaves the new volume out", vol not in ids(ec2.describe_volumes()["Volumes"], "VolumeId"))
fails_with("DescribeLaunchTemplates of a new template", "InvalidLaunchTemplateId.NotFound",
           lambda: ec2.describe_launch_templates(LaunchTemplateIds=[lt]))
check("DescribeLaunchTemplates leaves the new template out",
      lt not in ids(ec2.describe_launch_templates()["LaunchTemplates"], "LaunchTemplateId"))
time.sleep(WINDOW + 0.2)
works("DescribeSubnets by id after the window", lambda: ec2.describe_subnets(SubnetIds=[sub]))
check("DescribeSubnets by tag filter lists the subnet after the window",
      sub in ids(ec2.describe_subnets(Filters=URN)["Subnets"], "SubnetId"))
works("AuthorizeSecurityGroupIngress after the window",
      lambda: ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=ingress))
works("AuthorizeSecurityGroupIngress naming the group after the window",
      lambda: ec2.authorize_security_group_ingress(GroupId=default_sg, IpPermissions=from_web))
works("AttachInternetGateway after the window", lambda: ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc))
works("DescribeAddresses after the window", lambda: ec2.describe_addresses(AllocationIds=[eip]))
works("CreateRoute after the window", lambda: ec2.create_route(
    RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw))
works("DescribeVolumes after the window", lambda: ec2.describe_volumes(VolumeIds=[vol]))
works("DescribeLaunchTemplates after the window", lambda: ec2.describe_launch_templates(LaunchTemplateIds=[lt]))

# Objects that need the ones above.
logs.create_log_group(logGroupName="flow")
flow_role = iam.create_role(RoleName="flow", AssumeRolePolicyDocument=TRUST_EC2)["Role"]["Arn"]
nat = ec2.create_nat_gateway(SubnetId=sub, AllocationId=eip)["NatGateway"]["NatGatewayId"]
assoc = ec2.associate_route_table(RouteTableId=rtb, SubnetId=sub)["AssociationId"]
instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=sub,
                             SecurityGroupIds=[sg])["Instances"][0]["InstanceId"]
flow = ec2.create_flow_logs(ResourceIds=[vpc], ResourceType="VPC", TrafficType="ALL", LogGroupName="flow",
                            DeliverLogsPermissionArn=flow_role)["FlowLogIds"][0]
fails_with("DescribeNatGateways of a new gateway", "NatGatewayNotFound",
           lambda: ec2.describe_nat_gateways(NatGatewayIds=[nat]))
check("DescribeNatGateways by vpc-id filter leaves the new gateway out",
      nat not in ids(ec2.describe_nat_gateways(Filter=[{"Name": "vpc-id", "Values": [vpc]}])["NatGateways"],
                     "NatGatewayId"))
fails_with("DisassociateRouteTable of a new association", "InvalidAssociationID.NotFound",
           lambda: ec2.disassociate_route_table(AssociationId=assoc))
by_assoc = [{"Name": "association.route-table-association-id", "Values": [assoc]}]
check("DescribeRouteTables filtered on a new association matches nothing",
      ec2.describe_route_tables(Filters=by_assoc)["RouteTables"] == [])
assocs = ec2.describe_route_tables(RouteTableIds=[rtb])["RouteTables"][0]["Associations"]
check("DescribeRouteTables leaves the new association out of its table", assoc not in ids(assocs, "RouteTableAssociationId"))
fails_with("DescribeInstances of a new instance", "InvalidInstanceID.NotFound",
           lambda: ec2.describe_instances(InstanceIds=[instance]))
check("DescribeInstances by subnet-id filter leaves the new instance (and its reservation) out",
      ec2.describe_instances(Filters=[{"Name": "subnet-id", "Values": [sub]}])["Reservations"] == [])
fails_with("DeleteFlowLogs of a new flow log", "InvalidFlowLogId.NotFound", lambda: ec2.delete_flow_logs(FlowLogIds=[flow]))
check("DescribeFlowLogs leaves the new flow log out", flow not in ids(ec2.describe_flow_logs()["FlowLogs"], "FlowLogId"))
time.sleep(WINDOW + 0.2)
works("DescribeNatGateways after the window", lambda: ec2.describe_nat_gateways(NatGatewayIds=[nat]))
check("DescribeRouteTables filtered on the association finds its table after the window",
      ids(ec2.describe_route_tables(Filters=by_assoc)["RouteTables"], "RouteTableId") == [rtb])
works("DescribeInstances after the window", lambda: ec2.describe_instances(InstanceIds=[instance]))
check("DescribeFlowLogs lists the flow log after the window",
      flow in ids(ec2.describe_flow_logs()["FlowLogs"], "FlowLogId"))
works("DisassociateRouteTable after the window", lambda: ec2.disassociate_route_table(AssociationId=assoc))
got = fired()
print("     GET /morket-api/aws-like fired:", json.dumps(got))
check("fired counts the consistency refusals and rewrites",
      got["consistency"].get("ModifyVpcAttribute") == 1 and got["consistency"].get("DescribeVpcs") == 2
      and got["consistency"].get("DescribeSecurityGroups") == 3
      and got["consistency"].get("DescribeRouteTables") == 3 and set(got) == {"consistency"})

# -- iam: 10 s -> 1 s ---------------------------------------------------------

control("DELETE", "/morket-api/aws-like")
vpc, a, b = network("10.1.0.0/16")
old_role = iam.create_role(RoleName="old", AssumeRolePolicyDocument=TRUST_EC2)["Role"]["RoleName"]
rds.create_db_subnet_group(DBSubnetGroupName="iam-db", DBSubnetGroupDescription="d", SubnetIds=[a, b])
for log_group in ("search-app", "search-slow", "/aws/opensearch/audit"):
    logs.create_log_group(logGroupName=log_group)
search.create_domain(DomainName="logged-old")  # made while the mode is off
aws_like(["iam"], WINDOW / 10)
role = iam.create_role(RoleName="new", AssumeRolePolicyDocument=TRUST_EC2)["Role"]["Arn"]
ACCOUNT = role.split(":")[4]


def log_arn(name):
    return f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{name}"


def logs_policy(name, resource, action, service="es.amazonaws.com"):
    logs.put_resource_policy(policyName=name, policyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": action, "Resource": resource}]}))


def publishing(name, enabled=True, kind="ES_APPLICATION_LOGS"):
    return {kind: {"CloudWatchLogsLogGroupArn": log_arn(name), "Enabled": enabled}}


def logged_domain(name, group):
    return lambda: search.create_domain(DomainName=name, LogPublishingOptions=publishing(group))


def audit_logs():
    return search.update_domain_config(DomainName="logged-old",
                                       LogPublishingOptions=publishing("/aws/opensearch/audit", kind="AUDIT_LOGS"))


def no_log_policy(group):
    return (f"The Resource Access Policy specified for the CloudWatch Logs log group {group} does not grant "
            "sufficient permissions for Amazon OpenSearch Service to create a log stream. "
            "Please check the Resource Access Policy.")


def flow_logs():
    return ec2.create_flow_logs(ResourceIds=[vpc], ResourceType="VPC", TrafficType="ALL", LogGroupName="flow",
                                DeliverLogsPermissionArn=role)


def monitored_instance():
    return rds.create_db_instance(
        DBInstanceIdentifier="monitored", DBInstanceClass="db.t3.micro", Engine="postgres", AllocatedStorage=20,
        MasterUsername="admin", MasterUserPassword="password1", DBSubnetGroupName="iam-db",
        MonitoringInterval=60, MonitoringRoleArn=role)


def monitored_cluster():
    return rds.create_db_cluster(
        DBClusterIdentifier="monitored", Engine="aurora-postgresql", MasterUsername="admin",
        MasterUserPassword="password1", DBSubnetGroupName="iam-db", MonitoringInterval=60, MonitoringRoleArn=role)


fails_with("CreateFlowLogs with a new role", "InvalidParameter", flow_logs, status=400,
           message=f"Unable to assume given IAM role: {role}")
fails_with("CreateDBInstance monitored by a new role", "InvalidParameterValue", monitored_instance,
           message="ENHANCED_MONITORING")
fails_with("CreateDBCluster monitored by a new role", "InvalidParameterValue", monitored_cluster)
rds.create_db_instance(DBInstanceIdentifier="plain", DBInstanceClass="db.t3.micro", Engine="postgres",
                       AllocatedStorage=20, MasterUsername="admin", MasterUserPassword="password1",
                       DBSubnetGroupName="iam-db")


def monitor_plain():
    return rds.modify_db_instance(DBInstanceIdentifier="plain", MonitoringInterval=60, MonitoringRoleArn=role,
                                  ApplyImmediately=True)


fails_with("ModifyDBInstance monitored by a new role", "InvalidParameterValue", monitor_plain,
           message="ENHANCED_MONITORING")
fails_with("CreateRole trusting a new role", "MalformedPolicyDocument",
           lambda: iam.create_role(RoleName="assumer", AssumeRolePolicyDocument=trust_aws(role)),
           message="Invalid principal in policy")
fails_with("UpdateAssumeRolePolicy trusting a new role", "MalformedPolicyDocument",
           lambda: iam.update_assume_role_policy(RoleName=old_role, PolicyDocument=trust_aws(role)))
works("ECS RegisterTaskDefinition naming a new role (not affected)", lambda: ecs.register_task_definition(
    family="app", executionRoleArn=role, taskRoleArn=role,
    containerDefinitions=[{"name": "app", "image": "nginx", "memory": 128}]))
fails_with("OpenSearch CreateDomain publishing to a log group no resource policy opens", "ValidationException",
           logged_domain("logged", "search-app"), status=400, message=no_log_policy("search-app"))
works("OpenSearch CreateDomain with a disabled log publishing option (not checked)", lambda: search.create_domain(
    DomainName="unlogged", LogPublishingOptions=publishing("search-app", enabled=False)))
fails_with("OpenSearch UpdateDomainConfig publishing to a log group no resource policy opens", "ValidationException",
           audit_logs, status=400, message=no_log_policy("/aws/opensearch/audit"))
# One policy per log group: exact ARN + ":*" with both actions; a wildcard with logs:*;
# one granting only PutLogEvents (never enough); one granting another service.
logs_policy("es-app", log_arn("search-app") + ":*", ["logs:PutLogEvents", "logs:CreateLogStream"])
logs_policy("es-opensearch", [f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/opensearch/*"], "logs:*",
            service=["es.amazonaws.com", "delivery.logs.amazonaws.com"])
logs_policy("es-slow-partial", log_arn("search-slow"), "logs:PutLogEvents")
logs_policy("other-slow", log_arn("search-slow") + ":*", "logs:*", service="events.amazonaws.com")
fails_with("OpenSearch CreateDomain with a new logs resource policy", "ValidationException",
           logged_domain("logged", "search-app"), message=no_log_policy("search-app"))
fails_with("OpenSearch UpdateDomainConfig with a new logs resource policy", "ValidationException", audit_logs)
time.sleep(WINDOW + 0.2)
check("CreateFlowLogs succeeds after the window", flow_logs()["Unsuccessful"] == [])
works("CreateDBInstance monitored by the role after the window", monitored_instance)
works("CreateDBCluster monitored by the role after the window", monitored_cluster)
works("ModifyDBInstance monitored by the role after the window", monitor_plain)
works("CreateRole trusting the role after the window",
      lambda: iam.create_role(RoleName="assumer", AssumeRolePolicyDocument=trust_aws(role)))
works("UpdateAssumeRolePolicy trusting the role after the window",
      lambda: iam.update_assume_role_policy(RoleName=old_role, PolicyDocument=trust_aws(role)))
works("OpenSearch CreateDomain publishing to the log group after the window", logged_domain("logged", "search-app"))
works("OpenSearch UpdateDomainConfig publishing to a log group a wildcard policy opens, after the window",
      audit_logs)
fails_with("OpenSearch CreateDomain publishing where policies grant too little or another service",
           "ValidationException", logged_domain("slow", "search-slow"), message=no_log_policy("search-slow"))
logs_policy("es-slow-partial", log_arn("search-slow"), ["logs:CreateLogStream", "logs:PutLogEvents"])
fails_with("OpenSearch CreateDomain once that policy is put again, within the window", "ValidationException",
           logged_domain("slow", "search-slow"))
time.sleep(WINDOW + 0.2)
works("OpenSearch CreateDomain publishing to it after that window", logged_domain("slow", "search-slow"))
got = fired()
print("     GET /morket-api/aws-like fired:", json.dumps(got))
check("fired counts the iam refusals", got == {"iam": {
    "CreateFlowLogs": 1, "CreateDBInstance": 1, "CreateDBCluster": 1, "ModifyDBInstance": 1, "CreateRole": 1,
    "UpdateAssumeRolePolicy": 1, "CreateDomain": 4, "UpdateDomainConfig": 2}})

# -- slr: 10 s -> 1 s ---------------------------------------------------------

control("DELETE", "/morket-api/aws-like")
sg = group(vpc, "search")
td = task_definition("web")
ecs.create_cluster(clusterName="plain")
aws_like(["slr"], WINDOW / 10)
vpc_options = {"SubnetIds": [a], "SecurityGroupIds": [sg]}


def vpc_domain(name):
    return lambda: search.create_domain(DomainName=name, VPCOptions=vpc_options)


def service(name):
    return lambda: ecs.create_service(cluster="plain", serviceName=name, taskDefinition=td, desiredCount=0,
                                      launchType="FARGATE", networkConfiguration=awsvpc(a, sg))


def capacity_cluster(name):
    return lambda: ecs.create_cluster(clusterName=name, capacityProviders=["FARGATE"])


fails_with("OpenSearch CreateDomain in a VPC without the service-linked role", "ValidationException",
           vpc_domain("in-vpc"), status=400, message="service-linked role")
works("OpenSearch CreateDomain outside a VPC (not affected)", lambda: search.create_domain(DomainName="public"))
fails_with("ECS CreateService without the service-linked role", "InvalidParameterException", service("web"),
           message="Unable to assume the service linked role")
fails_with("ECS CreateCluster with capacity providers without the role", "InvalidParameterException",
           capacity_cluster("capacity"))
works("ECS CreateCluster without capacity providers (not affected)", lambda: ecs.create_cluster(clusterName="other"))
slr = iam.create_service_linked_role(AWSServiceName="opensearchservice.amazonaws.com")["Role"]
check(f"CreateServiceLinkedRole names the OpenSearch role as AWS does ({slr['RoleName']} {slr['Path']})",
      slr["RoleName"] == "AWSServiceRoleForAmazonOpenSearchService"
      and slr["Path"] == "/aws-service-role/opensearchservice.amazonaws.com/")
slr = iam.create_service_linked_role(AWSServiceName="ecs.amazonaws.com")["Role"]
check(f"CreateServiceLinkedRole names the ECS role as AWS does ({slr['RoleName']} {slr['Path']})",
      slr["RoleName"] == "AWSServiceRoleForECS" and slr["Path"] == "/aws-service-role/ecs.amazonaws.com/"
      and slr["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"] == ["ecs.amazonaws.com"])
fails_with("OpenSearch CreateDomain with a new service-linked role", "ValidationException", vpc_domain("in-vpc"))
fails_with("ECS CreateService with a new service-linked role", "InvalidParameterException", service("web"))
time.sleep(WINDOW + 0.2)
works("OpenSearch CreateDomain in a VPC after the window", vpc_domain("in-vpc"))
works("ECS CreateService after the window", service("web"))
works("ECS CreateCluster with capacity providers after the window", capacity_cluster("capacity"))
works("GetRole AWSServiceRoleForECS", lambda: iam.get_role(RoleName="AWSServiceRoleForECS"))
works("DeleteServiceLinkedRole AWSServiceRoleForECS",
      lambda: iam.delete_service_linked_role(RoleName="AWSServiceRoleForECS"))
fails_with("ECS CreateService once the role is deleted", "InvalidParameterException", service("api"))
got = fired()
print("     GET /morket-api/aws-like fired:", json.dumps(got))
check("fired counts the slr refusals",
      got == {"slr": {"CreateDomain": 2, "CreateService": 3, "CreateCluster": 1}})

# -- eni: 300 s -> 3 s, NAT 60 s -> 0.6 s ------------------------------------

control("DELETE", "/morket-api/aws-like")
vpc, a, b = network("10.2.0.0/16")
spare = ec2.create_subnet(VpcId=vpc, CidrBlock="10.2.3.0/24")["Subnet"]["SubnetId"]
held = {name: group(vpc, name) for name in ("db", "cluster", "rg", "cc", "broker", "domain", "service", "task")}
free_sg = group(vpc, "free")
rds.create_db_subnet_group(DBSubnetGroupName="eni-db", DBSubnetGroupDescription="d", SubnetIds=[a, b])
rds.create_db_instance(DBInstanceIdentifier="eni-db", DBInstanceClass="db.t3.micro", Engine="postgres",
                       AllocatedStorage=20, MasterUsername="admin", MasterUserPassword="password1",
                       DBSubnetGroupName="eni-db", VpcSecurityGroupIds=[held["db"]])
rds.create_db_cluster(DBClusterIdentifier="eni-cluster", Engine="aurora-postgresql", MasterUsername="admin",
                      MasterUserPassword="password1", DBSubnetGroupName="eni-db", VpcSecurityGroupIds=[held["cluster"]])
cache.create_cache_subnet_group(CacheSubnetGroupName="eni", CacheSubnetGroupDescription="d", SubnetIds=[a, b])
cache.create_replication_group(ReplicationGroupId="eni-rg", ReplicationGroupDescription="d", Engine="redis",
                               CacheNodeType="cache.t3.micro", NumCacheClusters=1, CacheSubnetGroupName="eni",
                               SecurityGroupIds=[held["rg"]])
cache.create_cache_cluster(CacheClusterId="eni-cc", Engine="redis", CacheNodeType="cache.t3.micro", NumCacheNodes=1,
                           CacheSubnetGroupName="eni", SecurityGroupIds=[held["cc"]])
broker_id = broker("eni", a, held["broker"])
search.create_domain(DomainName="eni-domain", VPCOptions={"SubnetIds": [a], "SecurityGroupIds": [held["domain"]]})
ecs.create_cluster(clusterName="eni")
td = task_definition("eni")
ecs.create_service(cluster="eni", serviceName="eni", taskDefinition=td, desiredCount=1, launchType="FARGATE",
                   networkConfiguration=awsvpc(a, held["service"]))
task = ecs.run_task(cluster="eni", taskDefinition=td, launchType="FARGATE",
                    networkConfiguration=awsvpc(a, held["task"]))["tasks"][0]["taskArn"]
igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
nat = ec2.create_nat_gateway(SubnetId=spare, AllocationId=ec2.allocate_address(Domain="vpc")["AllocationId"])[
    "NatGateway"]["NatGatewayId"]
ENI, NAT = 3.0, 0.6
aws_like(["eni"], ENI / 300)
works("DeleteSecurityGroup of an unused group (not affected)", lambda: ec2.delete_security_group(GroupId=free_sg))
rds.delete_db_instance(DBInstanceIdentifier="eni-db", SkipFinalSnapshot=True)
rds.delete_db_cluster(DBClusterIdentifier="eni-cluster", SkipFinalSnapshot=True)
cache.delete_replication_group(ReplicationGroupId="eni-rg")
cache.delete_cache_cluster(CacheClusterId="eni-cc")
mq.delete_broker(BrokerId=broker_id)
search.delete_domain(DomainName="eni-domain")
ecs.delete_service(cluster="eni", service="eni", force=True)
ecs.stop_task(cluster="eni", task=task)
deleted = time.monotonic()
ec2.delete_nat_gateway(NatGatewayId=nat)
for name, g in held.items():
    fails_with(f"DeleteSecurityGroup of the {name}'s group", "DependencyViolation",
               lambda: ec2.delete_security_group(GroupId=g), status=400, message=f"resource {g} has a dependent object")
for s in (a, b):
    fails_with(f"DeleteSubnet of {s}", "DependencyViolation", lambda: ec2.delete_subnet(SubnetId=s),
               message=f"The subnet '{s}' has dependencies and cannot be deleted.")
fails_with("DeleteVpc", "DependencyViolation", lambda: ec2.delete_vpc(VpcId=vpc),
           message=f"The vpc '{vpc}' has dependencies and cannot be deleted.")
fails_with("DetachInternetGateway just after DeleteNatGateway", "DependencyViolation",
           lambda: ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc),
           message=f"Network {vpc} has some mapped public address(es)")
time.sleep(NAT + 0.2)
works("DetachInternetGateway after the NAT window", lambda: ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc))
fails_with("DeleteSubnet still inside the ENI window", "DependencyViolation", lambda: ec2.delete_subnet(SubnetId=a))
time.sleep(max(0.0, deleted + ENI + 0.2 - time.monotonic()))
for name, g in held.items():
    works(f"DeleteSecurityGroup of the {name}'s group after the window", lambda: ec2.delete_security_group(GroupId=g))
for s in (a, b, spare):
    works(f"DeleteSubnet of {s} after the window", lambda: ec2.delete_subnet(SubnetId=s))
works("DeleteVpc after the window", lambda: ec2.delete_vpc(VpcId=vpc))
got = fired()
print("     GET /morket-api/aws-like fired:", json.dumps(got))
check("fired counts the eni refusals (DeleteVpc answered here, not by moto)", got == {"eni": {
    "DeleteSecurityGroup": 8, "DeleteSubnet": 3, "DeleteVpc": 1, "DetachInternetGateway": 1}})

# -- transitions and conflicts: create 60 s -> 3 s, modify 3 s + 30 s -> 0.15 s + 1.5 s, delete 30 s -> 1.5 s

control("DELETE", "/morket-api/aws-like")
vpc, a, b = network("10.3.0.0/16")
rds.create_db_subnet_group(DBSubnetGroupName="tr", DBSubnetGroupDescription="d", SubnetIds=[a, b])
cache.create_cache_subnet_group(CacheSubnetGroupName="tr", CacheSubnetGroupDescription="d", SubnetIds=[a, b])
SCALE = 0.05
CREATE, LAG, MODIFY, DELETE = 60 * SCALE, 3 * SCALE, 30 * SCALE, 30 * SCALE
aws_like(["transitions", "conflicts"], SCALE)
rds.create_db_cluster(DBClusterIdentifier="tc", Engine="aurora-postgresql", MasterUsername="admin",
                      MasterUserPassword="password1", DBSubnetGroupName="tr")
rds.create_db_instance(DBInstanceIdentifier="ti", DBClusterIdentifier="tc", Engine="aurora-postgresql",
                       DBInstanceClass="db.r6g.large")
cache.create_replication_group(ReplicationGroupId="trg", ReplicationGroupDescription="d", Engine="redis",
                               CacheNodeType="cache.t3.micro", NumCacheClusters=1, CacheSubnetGroupName="tr")
broker_id = broker("tb")
search.create_domain(DomainName="tdom")
created = time.monotonic()


def db_cluster():
    return rds.describe_db_clusters(DBClusterIdentifier="tc")["DBClusters"][0]


def db_instance():
    return rds.describe_db_instances(DBInstanceIdentifier="ti")["DBInstances"][0]


def replication_group():
    return cache.describe_replication_groups(ReplicationGroupId="trg")["ReplicationGroups"][0]


def mq_broker():
    return mq.describe_broker(BrokerId=broker_id)


def domain():
    return search.describe_domain(DomainName="tdom")["DomainStatus"]


def states():
    return (db_cluster()["Status"], db_instance()["DBInstanceStatus"], replication_group()["Status"],
            mq_broker()["BrokerState"], domain()["Processing"])


c, i, g, m, d = db_cluster(), db_instance(), replication_group(), mq_broker(), domain()
check(f"a new DB cluster reads creating, without endpoints ({c['Status']})",
      c["Status"] == "creating" and "Endpoint" not in c and "ReaderEndpoint" not in c)
check(f"a new DB instance reads creating, without endpoint ({i['DBInstanceStatus']})",
      i["DBInstanceStatus"] == "creating" and "Endpoint" not in i)
check(f"a new replication group reads creating, without endpoints ({g['Status']})",
      g["Status"] == "creating" and "ConfigurationEndpoint" not in g
      and all("PrimaryEndpoint" not in n and "ReaderEndpoint" not in n for n in g["NodeGroups"])
      and all("ReadEndpoint" not in mm for n in g["NodeGroups"] for mm in n.get("NodeGroupMembers", [])))
check(f"a new broker reads CREATION_IN_PROGRESS, without instances ({m['BrokerState']})",
      m["BrokerState"] == "CREATION_IN_PROGRESS" and m.get("BrokerInstances", []) == [])
check("ListBrokers shows it CREATION_IN_PROGRESS too",
      [x["BrokerState"] for x in mq.list_brokers()["BrokerSummaries"]] == ["CREATION_IN_PROGRESS"])
check(f"a new domain reads Processing, without endpoints ({d['Processing']})",
      d["Processing"] is True and "Endpoint" not in d and "Endpoints" not in d)
check("DescribeDomains shows it Processing too",
      search.describe_domains(DomainNames=["tdom"])["DomainStatusList"][0]["Processing"] is True)
fails_with("ModifyDBCluster while creating", "InvalidDBClusterStateFault",
           lambda: rds.modify_db_cluster(DBClusterIdentifier="tc", BackupRetentionPeriod=7), status=400)
fails_with("ModifyDBInstance while creating", "InvalidDBInstanceState",
           lambda: rds.modify_db_instance(DBInstanceIdentifier="ti", PromotionTier=2))
fails_with("DeleteDBInstance while creating", "InvalidDBInstanceState",
           lambda: rds.delete_db_instance(DBInstanceIdentifier="ti"))
fails_with("ModifyReplicationGroup while creating", "InvalidReplicationGroupState",
           lambda: cache.modify_replication_group(ReplicationGroupId="trg", SnapshotRetentionLimit=3))
fails_with("MQ UpdateBroker while creating", "ConflictException",
           lambda: mq.update_broker(BrokerId=broker_id, AutoMinorVersionUpgrade=False), status=409)
fails_with("MQ RebootBroker while creating", "ConflictException", lambda: mq.reboot_broker(BrokerId=broker_id),
           status=409)
fails_with("OpenSearch UpdateDomainConfig while creating", "ValidationException",
           lambda: search.update_domain_config(DomainName="tdom", SnapshotOptions={"AutomatedSnapshotStartHour": 3}),
           status=400)
fails_with("OpenSearch UpgradeDomain while creating", "ValidationException",
           lambda: search.upgrade_domain(DomainName="tdom", TargetVersion="OpenSearch_2.11"), status=400)
check("all of them still creating", time.monotonic() < created + CREATE)
time.sleep(max(0.0, created + CREATE + 0.2 - time.monotonic()))
c, i, g, m, d = db_cluster(), db_instance(), replication_group(), mq_broker(), domain()
check(f"after the window: the DB cluster is available with endpoints ({c['Status']})",
      c["Status"] == "available" and c.get("Endpoint") and c.get("ReaderEndpoint"))
check(f"the DB instance is available with its endpoint ({i['DBInstanceStatus']})",
      i["DBInstanceStatus"] == "available" and i.get("Endpoint", {}).get("Address"))
check(f"the replication group is available with its primary endpoint ({g['Status']})",
      g["Status"] == "available" and g["NodeGroups"][0].get("PrimaryEndpoint"))
check(f"the broker is RUNNING with its instances ({m['BrokerState']})",
      m["BrokerState"] == "RUNNING" and m["BrokerInstances"])
check(f"the domain is not Processing and has its endpoint ({d['Processing']} {d.get('Endpoint')})",
      d["Processing"] is False and d.get("Endpoint"))

works("ModifyDBCluster once available", lambda: rds.modify_db_cluster(DBClusterIdentifier="tc", BackupRetentionPeriod=7))
works("ModifyDBInstance once available", lambda: rds.modify_db_instance(DBInstanceIdentifier="ti", PromotionTier=2))
works("ModifyReplicationGroup once available",
      lambda: cache.modify_replication_group(ReplicationGroupId="trg", SnapshotRetentionLimit=3))
works("MQ UpdateBroker once RUNNING", lambda: mq.update_broker(BrokerId=broker_id, AutoMinorVersionUpgrade=False))
check("MQ UpdateBroker alone leaves the broker RUNNING", mq_broker()["BrokerState"] == "RUNNING")
works("MQ RebootBroker once RUNNING", lambda: mq.reboot_broker(BrokerId=broker_id))
works("OpenSearch UpdateDomainConfig once not Processing", lambda: search.update_domain_config(
    DomainName="tdom", SnapshotOptions={"AutomatedSnapshotStartHour": 3}))
modified = time.monotonic()
now = states()
check(f"just after the modifies they still read available / RUNNING / not Processing ({now})",
      time.monotonic() < modified + LAG and now == ("available", "available", "available", "RUNNING", False))
time.sleep(max(0.0, modified + LAG + 0.1 - time.monotonic()))
now = states()
check(f"then modifying / REBOOT_IN_PROGRESS / Processing ({now})",
      now == ("modifying", "modifying", "modifying", "REBOOT_IN_PROGRESS", True))
check("a modifying cluster and domain keep their endpoints", db_cluster().get("Endpoint") and domain().get("Endpoint"))
fails_with("ModifyDBCluster while modifying", "InvalidDBClusterStateFault",
           lambda: rds.modify_db_cluster(DBClusterIdentifier="tc", BackupRetentionPeriod=8))
fails_with("DeleteReplicationGroup while modifying", "InvalidReplicationGroupState",
           lambda: cache.delete_replication_group(ReplicationGroupId="trg"))
fails_with("MQ DeleteBroker while rebooting", "ConflictException", lambda: mq.delete_broker(BrokerId=broker_id))
fails_with("OpenSearch DeleteDomain while Processing", "ConflictException",
           lambda: search.delete_domain(DomainName="tdom"))
check("all of them still modifying", time.monotonic() < modified + LAG + MODIFY)
time.sleep(max(0.0, modified + LAG + MODIFY + 0.2 - time.monotonic()))
now = states()
check(f"after the window: available / RUNNING / not Processing again ({now})",
      now == ("available", "available", "available", "RUNNING", False))

works("DeleteDBInstance once available", lambda: rds.delete_db_instance(DBInstanceIdentifier="ti"))
deleted = time.monotonic()
check("a deleted DB instance reads deleting", db_instance()["DBInstanceStatus"] == "deleting")
works("DeleteDBCluster while its instance is deleting",
      lambda: rds.delete_db_cluster(DBClusterIdentifier="tc", SkipFinalSnapshot=True))
check("a deleted DB cluster reads deleting", db_cluster()["Status"] == "deleting")
works("DeleteReplicationGroup once available", lambda: cache.delete_replication_group(ReplicationGroupId="trg"))
check("a deleted replication group reads deleting", replication_group()["Status"] == "deleting")
fails_with("ModifyDBInstance while deleting", "InvalidDBInstanceState",
           lambda: rds.modify_db_instance(DBInstanceIdentifier="ti", PromotionTier=3))
works("DeleteDBInstance while deleting (goes on to moto)", lambda: rds.delete_db_instance(DBInstanceIdentifier="ti"))
works("MQ DeleteBroker once RUNNING", lambda: mq.delete_broker(BrokerId=broker_id))
works("OpenSearch DeleteDomain once not Processing", lambda: search.delete_domain(DomainName="tdom"))
check("still inside the deleting window", time.monotonic() < deleted + DELETE)
time.sleep(max(0.0, deleted + DELETE + 0.2 - time.monotonic()))
fails_with("DescribeDBInstances after the deleting window", "DBInstanceNotFound", db_instance, status=404)
fails_with("DescribeDBClusters after the deleting window", "DBClusterNotFoundFault", db_cluster)
fails_with("DescribeReplicationGroups after the deleting window", "ReplicationGroupNotFoundFault", replication_group)
got = fired()
print("     GET /morket-api/aws-like fired:", json.dumps(got))
check("fired counts the conflicts", got["conflicts"] == {
    "ModifyDBCluster": 2, "ModifyDBInstance": 2, "DeleteDBInstance": 1, "ModifyReplicationGroup": 1,
    "DeleteReplicationGroup": 1, "UpdateBroker": 1, "RebootBroker": 1, "DeleteBroker": 1,
    "UpdateDomainConfig": 1, "UpgradeDomain": 1, "DeleteDomain": 1})
check("fired counts the rewritten describes",
      got["transitions"].get("DescribeDBClusters") == 4 and got["transitions"].get("DescribeBroker") == 2
      and got["transitions"].get("DescribeDomains") == 1 and got["transitions"].get("ListBrokers") == 1
      and got["transitions"].get("DeleteDBCluster") == 1)

# Without "conflicts" a call inside a window goes through; with the mode off a
# deleted replication group is gone at once (moto_server.py's default).
aws_like(["transitions"], SCALE)
cache.create_replication_group(ReplicationGroupId="quick", ReplicationGroupDescription="d", Engine="redis",
                               CacheNodeType="cache.t3.micro", NumCacheClusters=1, CacheSubnetGroupName="tr")
works("ModifyReplicationGroup while creating, conflicts off",
      lambda: cache.modify_replication_group(ReplicationGroupId="quick", SnapshotRetentionLimit=3))
control("DELETE", "/morket-api/aws-like")
cache.delete_replication_group(ReplicationGroupId="quick")
fails_with("DescribeReplicationGroups just after delete, mode off", "ReplicationGroupNotFoundFault",
           lambda: cache.describe_replication_groups(ReplicationGroupId="quick"))

# -- load balancers: ALB provisioning 60 s, target groups 20 s, certificates 60 s,
# ENIs 300 s -> at scale 0.02: 1.2 s, 0.4 s, 1.2 s, 6 s --------------------------

control("DELETE", "/morket-api/aws-like")
LB_SCALE = 0.02
vpc, a, b = network("10.6.0.0/16")
alb_sg = group(vpc, "alb")
cert = acm.request_certificate(DomainName="app.example.com", ValidationMethod="DNS")["CertificateArn"]
other_cert = acm.request_certificate(DomainName="other.example.com", ValidationMethod="DNS")["CertificateArn"]
blue = elbv2.create_target_group(Name="blue", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip")[
    "TargetGroups"][0]["TargetGroupArn"]
green = elbv2.create_target_group(Name="green", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip")[
    "TargetGroups"][0]["TargetGroupArn"]
aws_like(["transitions", "conflicts", "eni"], LB_SCALE)
alb = elbv2.create_load_balancer(Name="alb", Subnets=[a, b], SecurityGroups=[alb_sg], Type="application")[
    "LoadBalancers"][0]
alb_created = time.monotonic()
alb_arn = alb["LoadBalancerArn"]


def alb_state():
    return elbv2.describe_load_balancers(LoadBalancerArns=[alb_arn])["LoadBalancers"][0]["State"]["Code"]


check(f"CreateLoadBalancer answers provisioning ({alb['State']})", alb["State"]["Code"] == "provisioning")
check("DescribeLoadBalancers reads provisioning inside the window (moto: active at once)",
      alb_state() == "provisioning"
      and elbv2.describe_load_balancers()["LoadBalancers"][0]["State"]["Code"] == "provisioning")
https = works("CreateListener while provisioning (AWS takes it)", lambda: elbv2.create_listener(
    LoadBalancerArn=alb_arn, Protocol="HTTPS", Port=443, SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
    Certificates=[{"CertificateArn": cert}], DefaultActions=[{"Type": "forward", "TargetGroupArn": blue}]))[
    "Listeners"][0]["ListenerArn"]
rule = elbv2.create_rule(ListenerArn=https, Priority=10, Conditions=[
    {"Field": "path-pattern", "Values": ["/api/*"]}], Actions=[{"Type": "forward", "TargetGroupArn": green}])[
    "Rules"][0]["RuleArn"]
fails_with("DeleteTargetGroup while the listener forwards to it (moto)", "ResourceInUse",
           lambda: elbv2.delete_target_group(TargetGroupArn=blue), status=400, message="currently in use")
fails_with("DeleteTargetGroup while a rule forwards to it (moto)", "ResourceInUse",
           lambda: elbv2.delete_target_group(TargetGroupArn=green))
fails_with("ACM DeleteCertificate while a listener serves it", "ResourceInUseException",
           lambda: acm.delete_certificate(CertificateArn=cert), status=400, message=f"Certificate {cert} in use")
works("ACM DeleteCertificate of a certificate nothing serves", lambda: acm.delete_certificate(
    CertificateArn=other_cert))
time.sleep(max(0.0, alb_created + 60 * LB_SCALE + 0.1 - time.monotonic()))
check("DescribeLoadBalancers reads active after the window", alb_state() == "active")

works("DeleteRule", lambda: elbv2.delete_rule(RuleArn=rule))
released = time.monotonic()
fails_with("DeleteTargetGroup just after its rule went", "ResourceInUse",
           lambda: elbv2.delete_target_group(TargetGroupArn=green), message="currently in use by a listener or a rule")
time.sleep(max(0.0, released + 20 * LB_SCALE + 0.1 - time.monotonic()))
works("DeleteTargetGroup after the window", lambda: elbv2.delete_target_group(TargetGroupArn=green))
works("DeleteLoadBalancer (its listener with it)", lambda: elbv2.delete_load_balancer(LoadBalancerArn=alb_arn))
released = time.monotonic()
fails_with("DeleteTargetGroup just after its load balancer went", "ResourceInUse",
           lambda: elbv2.delete_target_group(TargetGroupArn=blue))
fails_with("ACM DeleteCertificate just after its load balancer went", "ResourceInUseException",
           lambda: acm.delete_certificate(CertificateArn=cert))
fails_with("DeleteSecurityGroup of the deleted ALB's group", "DependencyViolation",
           lambda: ec2.delete_security_group(GroupId=alb_sg), message=alb_sg)
fails_with("DeleteSubnet of the deleted ALB's subnet", "DependencyViolation", lambda: ec2.delete_subnet(SubnetId=a))
time.sleep(max(0.0, released + 20 * LB_SCALE + 0.1 - time.monotonic()))
works("DeleteTargetGroup after the window", lambda: elbv2.delete_target_group(TargetGroupArn=blue))
fails_with("ACM DeleteCertificate still inside its window", "ResourceInUseException",
           lambda: acm.delete_certificate(CertificateArn=cert))
time.sleep(max(0.0, released + 60 * LB_SCALE + 0.1 - time.monotonic()))
works("ACM DeleteCertificate after the window", lambda: acm.delete_certificate(CertificateArn=cert))
time.sleep(max(0.0, released + 300 * LB_SCALE + 0.1 - time.monotonic()))
works("DeleteSecurityGroup after the ENI window", lambda: ec2.delete_security_group(GroupId=alb_sg))
works("DeleteSubnet after the ENI window", lambda: ec2.delete_subnet(SubnetId=a))
cdn_cert = acm.request_certificate(DomainName="cdn.example.com", ValidationMethod="DNS")["CertificateArn"]
cloudfront.create_distribution(DistributionConfig={
    "CallerReference": "check", "Comment": "", "Enabled": True,
    "Origins": {"Quantity": 1, "Items": [{"Id": "s3", "DomainName": "b.s3.amazonaws.com",
                                          "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
    "DefaultCacheBehavior": {"TargetOriginId": "s3", "ViewerProtocolPolicy": "redirect-to-https",
                             "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"},
    "ViewerCertificate": {"ACMCertificateArn": cdn_cert, "SSLSupportMethod": "sni-only",
                          "MinimumProtocolVersion": "TLSv1.2_2021"}})
fails_with("ACM DeleteCertificate while a CloudFront distribution serves it", "ResourceInUseException",
           lambda: acm.delete_certificate(CertificateArn=cdn_cert))
got = fired()
print("     GET /morket-api/aws-like fired:", json.dumps(got))
check("fired counts the load balancer behaviours", got == {
    "transitions": {"DescribeLoadBalancers": 2},
    "conflicts": {"DeleteCertificate": 4, "DeleteTargetGroup": 2},
    "eni": {"DeleteSecurityGroup": 1, "DeleteSubnet": 1}})

# -- WAFv2: a new web ACL cannot be associated yet (consistency, 10 s -> 1 s), nor an
# ALB still provisioning (transitions, 60 s -> 1.2 s); a web ACL associated, or
# disassociated within 30 s (-> 0.6 s), cannot be deleted (conflicts) ------------

control("DELETE", "/morket-api/aws-like")
vpc, a, b = network("10.7.0.0/16")
waf_sg = group(vpc, "waf")
UNAVAILABLE = "AWS WAF couldn’t retrieve the resource that you requested. Retry your request."
ASSOCIATED = ("AWS WAF couldn’t perform the operation because your resource is being used by another resource "
              "or it’s associated with another resource.")


def load_balancer(name):
    return elbv2.create_load_balancer(Name=name, Subnets=[a, b], SecurityGroups=[waf_sg], Type="application")[
        "LoadBalancers"][0]["LoadBalancerArn"]


def web_acl(name):
    return waf.create_web_acl(Name=name, Scope="REGIONAL", DefaultAction={"Allow": {}}, VisibilityConfig={
        "SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False, "MetricName": name})["Summary"]


def associate(acl, lb):
    return lambda: waf.associate_web_acl(WebACLArn=acl["ARN"], ResourceArn=lb)


def disassociate(lb):
    return lambda: waf.disassociate_web_acl(ResourceArn=lb)


def delete_web_acl(acl):
    def call():
        token = waf.get_web_acl(Name=acl["Name"], Scope="REGIONAL", Id=acl["Id"])["LockToken"]
        return waf.delete_web_acl(Name=acl["Name"], Scope="REGIONAL", Id=acl["Id"], LockToken=token)
    return call


def web_acl_of(lb):
    return (waf.get_web_acl_for_resource(ResourceArn=lb).get("WebACL") or {}).get("ARN")


lbs = [load_balancer(f"waf-{n}") for n in range(4)]  # active: made while the mode is off
aws_like(["consistency"], WINDOW / 10)
fresh = web_acl("fresh")
born = time.monotonic()
fails_with("WAFv2 AssociateWebACL of a new web ACL", "WAFUnavailableEntityException", associate(fresh, lbs[0]),
           status=400, message=UNAVAILABLE)
check("the refused association never reached moto", web_acl_of(lbs[0]) is None)
check("fired counts it", fired() == {"consistency": {"AssociateWebACL": 1}})
time.sleep(max(0.0, born + WINDOW + 0.2 - time.monotonic()))
works("AssociateWebACL of the web ACL after the window", associate(fresh, lbs[0]))
check("and moto has the association", web_acl_of(lbs[0]) == fresh["ARN"])
forgotten = web_acl("forgotten")
born = time.monotonic()
fails_with("AssociateWebACL of another new web ACL", "WAFUnavailableEntityException", associate(forgotten, lbs[1]))
control("DELETE", "/morket-api/aws-like")
aws_like(["consistency"], WINDOW / 10)
works("AssociateWebACL of it once DELETE /morket-api/aws-like forgot it, inside its window",
      associate(forgotten, lbs[1]))
check("still inside that window", time.monotonic() < born + WINDOW)

control("DELETE", "/morket-api/aws-like")
aws_like(["transitions"], LB_SCALE)
guard = web_acl("guard")
works("AssociateWebACL of a new web ACL, consistency off", associate(guard, lbs[2]))
young_lbs = [load_balancer(f"waf-new-{n}") for n in range(2)]
lb_created = time.monotonic()
fails_with("WAFv2 AssociateWebACL with an ALB still provisioning", "WAFUnavailableEntityException",
           associate(guard, young_lbs[0]), status=400, message=UNAVAILABLE)
check("the refused association never reached moto", web_acl_of(young_lbs[0]) is None)
aws_like(["conflicts"], LB_SCALE)  # keeps the provisioning window, but does not act on it
works("AssociateWebACL with an ALB still provisioning, transitions off", associate(guard, young_lbs[1]))
check("still inside the provisioning window", time.monotonic() < lb_created + 60 * LB_SCALE)
aws_like(["transitions"], LB_SCALE)
time.sleep(max(0.0, lb_created + 60 * LB_SCALE + 0.1 - time.monotonic()))
works("AssociateWebACL with the ALB after the window", associate(guard, young_lbs[0]))
check("fired counts it", fired() == {"transitions": {"AssociateWebACL": 1}})

control("DELETE", "/morket-api/aws-like")
aws_like(["conflicts"], LB_SCALE)
fails_with("WAFv2 DeleteWebACL of a web ACL still associated (moto would delete it)", "WAFAssociatedItemException",
           delete_web_acl(fresh), status=400, message=ASSOCIATED)
works("DisassociateWebACL", disassociate(lbs[0]))
released = time.monotonic()
fails_with("DeleteWebACL just after its last association went", "WAFAssociatedItemException", delete_web_acl(fresh),
           message=ASSOCIATED)
# guard is associated with three load balancers: two disassociated, one deleted.
works("DisassociateWebACL of one of three", disassociate(lbs[2]))
works("DisassociateWebACL of two of three", disassociate(young_lbs[1]))
fails_with("DeleteWebACL while one association is left", "WAFAssociatedItemException", delete_web_acl(guard))
check("inside the window", time.monotonic() < released + 30 * LB_SCALE)
time.sleep(max(0.0, released + 30 * LB_SCALE + 0.1 - time.monotonic()))
works("DeleteWebACL after the window", delete_web_acl(fresh))
fails_with("DeleteWebACL, its window over, while one association is left", "WAFAssociatedItemException",
           delete_web_acl(guard))
works("ELBv2 DeleteLoadBalancer of the last one", lambda: elbv2.delete_load_balancer(LoadBalancerArn=young_lbs[0]))
released = time.monotonic()
fails_with("DeleteWebACL just after its load balancer went (moto keeps the association)",
           "WAFAssociatedItemException", delete_web_acl(guard))
time.sleep(max(0.0, released + 30 * LB_SCALE + 0.1 - time.monotonic()))
works("DeleteWebACL after that window", delete_web_acl(guard))
works("DisassociateWebACL of another web ACL", disassociate(lbs[1]))
released = time.monotonic()
fails_with("DeleteWebACL of it just after", "WAFAssociatedItemException", delete_web_acl(forgotten))
got = fired()
print("     GET /morket-api/aws-like fired:", json.dumps(got))
check("fired counts the DeleteWebACL refusals", got == {"conflicts": {"DeleteWebACL": 6}})
control("DELETE", "/morket-api/aws-like")
aws_like(["conflicts"], LB_SCALE)
works("DeleteWebACL once DELETE /morket-api/aws-like forgot the disassociation, inside its window",
      delete_web_acl(forgotten))
check("still inside that window", time.monotonic() < released + 30 * LB_SCALE)
control("DELETE", "/morket-api/aws-like")
plain = web_acl("plain")
works("AssociateWebACL, the mode off", associate(plain, lbs[3]))
works("DeleteWebACL of an associated web ACL, the mode off (moto does not check)", delete_web_acl(plain))

# -- AWS Backup: a new role cannot be assumed yet (iam, 10 s -> 1 s) ----------

control("DELETE", "/morket-api/aws-like")
backup.create_backup_vault(BackupVaultName="vault")
plan_id = backup.create_backup_plan(BackupPlan={"BackupPlanName": "p", "Rules": [
    {"RuleName": "daily", "TargetBackupVaultName": "vault"}]})["BackupPlanId"]
aws_like(["iam"], WINDOW / 10)
backup_role = iam.create_role(RoleName="backup", AssumeRolePolicyDocument=TRUST_EC2)["Role"]["Arn"]


def backup_selection():
    return backup.create_backup_selection(BackupPlanId=plan_id, BackupSelection={
        "SelectionName": "s", "IamRoleArn": backup_role, "Resources": ["arn:aws:ec2:us-east-1:123456789012:volume/vol-1"]})


fails_with("CreateBackupSelection with a new role", "InvalidParameterValueException", backup_selection, status=400,
           message="cannot be assumed by AWS Backup")
time.sleep(WINDOW + 0.2)
works("CreateBackupSelection after the window", backup_selection)
check("fired counts it", fired() == {"iam": {"CreateBackupSelection": 1}})

# -- EC2: a new instance profile is not usable by RunInstances yet (iam, 10 s -> 1 s)

control("DELETE", "/morket-api/aws-like")
AMI = "ami-12c6146b"
launch_subnet = network("10.9.0.0/16")[1]
iam.create_role(RoleName="ec2", AssumeRolePolicyDocument=TRUST_EC2)
iam.create_instance_profile(InstanceProfileName="settled")
iam.add_role_to_instance_profile(InstanceProfileName="settled", RoleName="ec2")
aws_like(["iam"], WINDOW / 10)
profile = iam.create_instance_profile(InstanceProfileName="fresh", Path="/morket/")["InstanceProfile"]
iam.add_role_to_instance_profile(InstanceProfileName="fresh", RoleName="ec2")
template = ec2.create_launch_template(LaunchTemplateName="with-profile", LaunchTemplateData={
    "ImageId": AMI, "InstanceType": "t3.micro", "IamInstanceProfile": {"Name": "fresh"}})["LaunchTemplate"]


def launch(**kw):
    return ec2.run_instances(MinCount=1, MaxCount=1, SubnetId=launch_subnet, **kw)


by_name = {"ImageId": AMI, "InstanceType": "t3.micro", "IamInstanceProfile": {"Name": "fresh"}}
by_arn = {"ImageId": AMI, "InstanceType": "t3.micro", "IamInstanceProfile": {"Arn": profile["Arn"]}}
by_template = {"LaunchTemplate": {"LaunchTemplateId": template["LaunchTemplateId"], "Version": "$Default"}}
fails_with("RunInstances naming a new instance profile", "InvalidParameterValue", lambda: launch(**by_name),
           status=400, message="Value (fresh) for parameter iamInstanceProfile.name is invalid. "
           "Invalid IAM Instance Profile name")
fails_with("RunInstances naming a new instance profile by ARN", "InvalidParameterValue", lambda: launch(**by_arn),
           message="Invalid IAM Instance Profile ARN")
fails_with("RunInstances from a launch template naming a new instance profile", "InvalidParameterValue",
           lambda: launch(**by_template), message="Invalid IAM Instance Profile name")
works("RunInstances naming an instance profile made before the window", lambda: launch(
    ImageId=AMI, InstanceType="t3.micro", IamInstanceProfile={"Name": "settled"}))
works("RunInstances without an instance profile (not affected)", lambda: launch(ImageId=AMI, InstanceType="t3.micro"))
time.sleep(WINDOW + 0.2)
works("RunInstances naming the instance profile after the window", lambda: launch(**by_name))
works("RunInstances naming it by ARN after the window", lambda: launch(**by_arn))
works("RunInstances from the launch template after the window", lambda: launch(**by_template))
check("fired counts the instance profile refusals", fired() == {"iam": {"RunInstances": 3}})

# -- ECS rollouts run at the AWS-like scale while "transitions" is on ------------

control("DELETE", "/morket-api/aws-like")
ecs.create_cluster(clusterName="rollouts")
rollout_td = task_definition("rollout")
aws_like(["transitions"], 0.02)  # a 60 s rollout: 1.2 s (0.6 s with the mode off)
ecs.create_service(cluster="rollouts", serviceName="web", taskDefinition=rollout_td, desiredCount=1,
                   launchType="FARGATE", networkConfiguration=awsvpc(b, group(vpc, "svc")))
started = time.monotonic()


def rollout_state():
    s = ecs.describe_services(cluster="rollouts", services=["web"])["services"][0]
    return s["deployments"][0]["rolloutState"], s["runningCount"]


time.sleep(0.8)
check(f"an ECS rollout is still IN_PROGRESS after 0.8 s at scale 0.02 ({rollout_state()})",
      time.monotonic() < started + 1.2 and rollout_state() == ("IN_PROGRESS", 0))
time.sleep(max(0.0, started + 1.3 - time.monotonic()))
check(f"and COMPLETED with its task running after 1.2 s ({rollout_state()})", rollout_state() == ("COMPLETED", 1))

# -- throttle: every 25th mutating call per service starts a burst of 5 -------

vpc = ec2.create_vpc(CidrBlock="10.4.0.0/16")["Vpc"]["VpcId"]
iam.create_role(RoleName="throttled", AssumeRolePolicyDocument=TRUST_EC2)
aws_like(["throttle"])


def tag(n):
    return lambda: ec2.create_tags(Resources=[vpc], Tags=[{"Key": f"k{n}", "Value": "v"}])


for n in range(1, 25):
    tag(n)()
    ec2.describe_vpcs(VpcIds=[vpc])  # reads are never throttled nor counted
fails_with("the 25th mutating EC2 call", "RequestLimitExceeded", tag(25), status=503)
works("another operation during the burst", lambda: ec2.create_security_group(
    VpcId=vpc, GroupName="during", Description="d"))
for n in range(26, 30):
    fails_with(f"CreateTags {n - 24} of the burst", "RequestLimitExceeded", tag(n))
works("CreateTags after the burst", tag(30))
keys = {t["Key"] for t in ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["Tags"]}
check("the throttled calls never reached moto", keys == {f"k{n}" for n in list(range(1, 25)) + [30]})

policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
for n in range(1, 25):
    iam.put_role_policy(RoleName="throttled", PolicyName=f"p{n}", PolicyDocument=policy)
fails_with("the 25th mutating IAM call", "Throttling",
           lambda: iam.put_role_policy(RoleName="throttled", PolicyName="p25", PolicyDocument=policy), status=400)
for n in range(1, 25):
    ecs.register_task_definition(family=f"f{n}", containerDefinitions=[{"name": "a", "image": "nginx", "memory": 64}])
fails_with("the 25th mutating ECS call", "ThrottlingException", lambda: ecs.register_task_definition(
    family="f25", containerDefinitions=[{"name": "a", "image": "nginx", "memory": 64}]), status=400)


def configuration(n):
    return lambda: mq.create_configuration(Name=f"c{n}", EngineType="ACTIVEMQ", EngineVersion="5.17.6")


for n in range(1, 25):
    configuration(n)()
fails_with("the 25th mutating MQ call", "ThrottlingException", configuration(25), status=400)

throttled_tg = elbv2.create_target_group(Name="throttled", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip")[
    "TargetGroups"][0]["TargetGroupArn"]


def health_path(n):
    return lambda: elbv2.modify_target_group(TargetGroupArn=throttled_tg, HealthCheckPath=f"/health/{n}")


for n in range(2, 25):
    health_path(n)()
fails_with("the 25th mutating ELBv2 call", "Throttling", health_path(25), status=400)
throttled_cert = acm.request_certificate(DomainName="throttled.example.com")["CertificateArn"]


def tag_certificate(n):
    return lambda: acm.add_tags_to_certificate(CertificateArn=throttled_cert, Tags=[{"Key": f"k{n}", "Value": "v"}])


for n in range(2, 25):
    tag_certificate(n)()
fails_with("the 25th mutating ACM call", "ThrottlingException", tag_certificate(25), status=400)


def vault(n):
    return lambda: backup.create_backup_vault(BackupVaultName=f"throttled-{n}")


for n in range(1, 25):
    vault(n)()
fails_with("the 25th mutating AWS Backup call (REST)", "ThrottlingException", vault(25), status=400)
throttled_acl = web_acl("throttled")


def waf_call(n):
    # WAFv2's tags, untags and disassociations count as mutating too.
    arn = throttled_acl["ARN"]
    return [lambda: waf.tag_resource(ResourceARN=arn, Tags=[{"Key": f"k{n}", "Value": "v"}]),
            lambda: waf.untag_resource(ResourceARN=arn, TagKeys=[f"k{n - 1}"]),
            lambda: waf.disassociate_web_acl(ResourceArn=lbs[3])][n % 3]


for n in range(2, 25):
    waf_call(n)()
fails_with("the 25th mutating WAFv2 call (a TagResource)", "ThrottlingException", waf_call(27), status=400)
tags = waf.list_tags_for_resource(ResourceARN=throttled_acl["ARN"])["TagInfoForResource"].get("TagList", [])
check(f"the throttled TagResource never reached moto ({tags})", "k27" not in {t["Key"] for t in tags})

# An SDK allowed 3 attempts gives up inside a burst of 5; the next call gets through.
control("DELETE", "/morket-api/aws-like")
aws_like(["throttle"])
for n in range(31, 55):
    tag(n)()
patient = client("ec2", attempts=3)
try:
    patient.create_tags(Resources=[vpc], Tags=[{"Key": "k55", "Value": "v"}])
    check("a 3-attempt SDK call at the start of a burst fails", False)
except ClientError as e:
    check("a 3-attempt SDK call at the start of a burst fails (3 attempts)",
          e.response["Error"]["Code"] == "RequestLimitExceeded" and e.response["ResponseMetadata"]["RetryAttempts"] == 2)
answer = patient.create_tags(Resources=[vpc], Tags=[{"Key": "k56", "Value": "v"}])
check("the next 3-attempt call gets through on its last attempt", answer["ResponseMetadata"]["RetryAttempts"] == 2)
got = fired()
print("     GET /morket-api/aws-like fired:", json.dumps(got))
check("fired counts the throttled calls", got == {"throttle": {"CreateTags": 5}})

# The fault switch answers before the AWS-like mode.
aws_like("all", 0.01)
control("POST", "/morket-api/faults", {"action": "DescribeVpcs", "code": "Unavailable", "status": 503})
fails_with("a fault armed with the mode on", "Unavailable", lambda: ec2.describe_vpcs())
control("POST", "/moto-api/reset")
got = control("GET", "/morket-api/aws-like")
check(f"reset switches the mode off and clears the counts ({got})", got == {"on": [], "scale": 1.0, "fired": {}})
check("reset clears the faults", control("GET", "/morket-api/faults") == {"faults": []})
print("all aws-like checks passed")
