"""S3 answers moto 5.2 shapes unlike S3, patched on import by moto_server.py.

GetBucketVersioning: moto's serializer names the root element
GetBucketVersioningResponse; S3 answers <VersioningConfiguration>, and the
AWS SDK for Rust refuses any other root ("invalid XML root").
"""

from moto.s3.responses import S3Response

_get_bucket_versioning = S3Response.get_bucket_versioning


def _get_bucket_versioning_as_s3(self):
    status, headers, body = _get_bucket_versioning(self)
    if isinstance(body, bytes):
        body = body.decode()
    body = body.replace("GetBucketVersioningResponse", "VersioningConfiguration")
    return status, headers, body


S3Response.get_bucket_versioning = _get_bucket_versioning_as_s3
