"""Version ids on localcloud's buckets, which are never versioned: every object's version id is ``null``.

S3 answers a request on an unversioned bucket that names a version as follows (and this module
checks it the same way for GetObject, HeadObject, DeleteObject, DeleteObjects entries, the copy
source of CopyObject/UploadPartCopy and ListObjectVersions' version-id-marker): ``null`` is the one
version there is; an empty id is 400 InvalidArgument "Version id cannot be the empty string"; any
other id is 400 InvalidArgument "Invalid version id specified" (no such version can exist).
Relies on localcloud.errors only.
"""

from __future__ import annotations

from ..errors import AwsError

NULL = "null"


def check(version_id: str, name: str = "versionId") -> None:
    """Raise S3's InvalidArgument unless ``version_id`` names the one version an object has."""
    if version_id == NULL:
        return
    message = "Version id cannot be the empty string" if not version_id else "Invalid version id specified"
    raise AwsError("InvalidArgument", message, 400, ArgumentName=name, ArgumentValue=version_id)
