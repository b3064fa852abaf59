"""Answers moto 5.2 shapes unlike AWS for the AWS SDK for Rust, patched on
import by moto_server.py.

S3 GetBucketVersioning: moto's serializer names the root element
GetBucketVersioningResponse; S3 answers <VersioningConfiguration>, and the
SDK refuses any other root ("invalid XML root").

RDS Performance Insights: moto's DBInstance drops EnablePerformanceInsights
and PerformanceInsightsRetentionPeriod on create and answers neither; AWS
keeps them and defaults the retention to 7 days once enabled.

Backup ListTags: the SDK sends GET /tags/{arn} without a trailing slash;
moto takes the ARN from the second-to-last path segment and answers no tags.
"""

import json
from urllib.parse import unquote

from moto.backup.responses import BackupResponse
from moto.rds.models import DBInstance
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

_db_instance_init = DBInstance.__init__


def _db_instance_init_with_insights(self, *args, **kwargs):
    _db_instance_init(self, *args, **kwargs)
    self.enable_performance_insights = bool(kwargs.get("enable_performance_insights"))
    self.performance_insights_retention_period = kwargs.get("performance_insights_retention_period")


def _insights_enabled(self):
    return bool(getattr(self, "enable_performance_insights", False))


def _insights_retention(self):
    # ModifyDBInstance sets the attribute by its parameter name (moto's update).
    days = self.__dict__.get("performance_insights_retention_period")
    return (days or 7) if _insights_enabled(self) else None


def _set_insights_retention(self, days):
    self.__dict__["performance_insights_retention_period"] = days


DBInstance.__init__ = _db_instance_init_with_insights
DBInstance.performance_insights_enabled = property(_insights_enabled)
DBInstance.performance_insights_retention_period = property(_insights_retention, _set_insights_retention)
