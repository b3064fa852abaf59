"""Checks moto_server.py's fault switch against a running server, with boto3.

Usage: venv/bin/python scripts/check_faults.py http://127.0.0.1:PORT
Exits non-zero on the first failed check. It resets the server (POST
/moto-api/reset) before and after, so do not point it at a server in use.
"""

import json
import sys
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


def fault(**f):
    return control("POST", "/morket-api/faults", f)


def faults():
    return control("GET", "/morket-api/faults")["faults"]


def check(what, ok):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        sys.exit(1)


def fails_with(what, code, call):
    try:
        call()
    except ClientError as e:
        got = e.response["Error"]["Code"]
        check(f"{what} fails with {code} (got {got}: {e.response['Error'].get('Message')})", got == code)
        return
    check(f"{what} fails with {code} (it succeeded)", False)


def client(service):
    # No retries: a retried call would hide how many requests were faulted.
    return boto3.client(
        service,
        endpoint_url=URL,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


control("POST", "/moto-api/reset")

# EC2 (ec2 query protocol): CreateVpc succeeds, the next ModifyVpcAttribute fails once.
ec2 = client("ec2")
vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
fault(
    action="ModifyVpcAttribute",
    code="InvalidVpcID.NotFound",
    message=f"The vpc ID '{vpc}' does not exist",
    status=400,
    times=1,
)


def enable_dns():
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})


fails_with("ModifyVpcAttribute", "InvalidVpcID.NotFound", enable_dns)
check("the faulted ModifyVpcAttribute did not reach moto",
      not ec2.describe_vpc_attribute(VpcId=vpc, Attribute="enableDnsHostnames")["EnableDnsHostnames"]["Value"])
enable_dns()
check("the second ModifyVpcAttribute succeeds",
      ec2.describe_vpc_attribute(VpcId=vpc, Attribute="enableDnsHostnames")["EnableDnsHostnames"]["Value"])
got = faults()
print("     GET /morket-api/faults:", json.dumps(got))
check("GET shows it fired once", len(got) == 1 and got[0]["fired"] == 1 and got[0]["seen"] == 2)
control("POST", "/moto-api/reset")
check("POST /moto-api/reset clears the faults", faults() == [])

# IAM (awsQuery): CreateRole succeeds, PutRolePolicy fails; "after" lets one through.
iam = client("iam")
iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
fault(action="PutRolePolicy", code="NoSuchEntity", message="The role with name r cannot be found.", status=404)
fault(action="PutRolePolicy", code="ServiceFailure", status=500, after=1)
fails_with("PutRolePolicy", "NoSuchEntity", lambda: iam.put_role_policy(RoleName="r", PolicyName="p1", PolicyDocument=policy))
check("the faulted PutRolePolicy did not reach moto", iam.list_role_policies(RoleName="r")["PolicyNames"] == [])
fails_with("PutRolePolicy (after=1)", "ServiceFailure",
           lambda: iam.put_role_policy(RoleName="r", PolicyName="p2", PolicyDocument=policy))
iam.put_role_policy(RoleName="r", PolicyName="p3", PolicyDocument=policy)
check("the third PutRolePolicy succeeds", iam.list_role_policies(RoleName="r")["PolicyNames"] == ["p3"])
got = faults()
print("     GET /morket-api/faults:", json.dumps(got))
check("GET shows each fired once", [f["fired"] for f in got] == [1, 1])
control("DELETE", "/morket-api/faults")
check("DELETE clears the faults", faults() == [])

# CloudWatch Logs (awsJson1_1): PutRetentionPolicy fails, the call after it works.
logs = client("logs")
logs.create_log_group(logGroupName="g")
fault(action="PutRetentionPolicy", code="ResourceNotFoundException", message="The specified log group does not exist.")
fails_with("PutRetentionPolicy", "ResourceNotFoundException",
           lambda: logs.put_retention_policy(logGroupName="g", retentionInDays=7))
check("the faulted PutRetentionPolicy did not reach moto",
      "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix="g")["logGroups"][0])
logs.put_retention_policy(logGroupName="g", retentionInDays=7)
check("the second PutRetentionPolicy succeeds",
      logs.describe_log_groups(logGroupNamePrefix="g")["logGroups"][0].get("retentionInDays") == 7)
got = faults()
print("     GET /morket-api/faults:", json.dumps(got))
check("GET shows it fired once", got[0]["fired"] == 1)

# A misspelt field is refused, not armed.
try:
    fault(action="PutRetentionPolicy", code="X", time=2)
    check("a fault with an unknown field is refused", False)
except urllib.error.HTTPError as e:
    check(f"a fault with an unknown field is refused ({e.code} {e.read().decode()})", e.code == 400)

control("POST", "/moto-api/reset")
check("reset clears the faults", faults() == [])
print("all fault-switch checks passed")
