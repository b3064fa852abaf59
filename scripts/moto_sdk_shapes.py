"""Answers moto 5.2 shapes unlike AWS for the AWS SDK for Rust, patched on
import by moto_server.py.

S3 GetBucketVersioning: moto's serializer names the root element
GetBucketVersioningResponse; S3 answers <VersioningConfiguration>, and the
SDK refuses any other root ("invalid XML root").

Backup ListTags: the SDK sends GET /tags/{arn} without a trailing slash;
moto takes the ARN from the second-to-last path segment and answers no tags.
"""

import json
from urllib.parse import unquote

from moto.backup.responses import BackupResponse
from moto.s3.responses import S3Response

_get_bucket_versioning = S3Response.get_bucket_versioning


def _get_bucket_versioning_as_s3(self):
    status, headers, body = _get_bucket_versioning(self)
    if isinstance(body, bytes):
        body = body.decode()
    body = body.replace("GetBucketVersioningResponse", "VersioningConfiguration")
    return status, headers, body


S3Response.get_bucket_versioning = _get_bucket_versioning_as_s3


def _backup_list_tags(self):
    # /tags/{arn} with or without a trailing slash.
    segments = [p for p in self.path.split("?")[0].split("/") if p]
    arn = unquote("/".join(segments[1:])) if segments[:1] == ["tags"] else ""
    return json.dumps({"Tags": self.backup_backend.list_tags(resource_arn=arn)})


BackupResponse.list_tags = _backup_list_tags
