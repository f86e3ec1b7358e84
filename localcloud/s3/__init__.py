"""localcloud's S3: file-backed buckets and objects over S3's REST-XML protocol.

``backend.py`` holds state and behaviour, ``responses.py`` the wire protocol, ``body.py`` the
aws-chunked/checksum handling, ``service.py`` the service object and its Python API.
"""

from .service import S3Service
from .uri import parse_s3_uri, s3_uri

__all__ = ["S3Service", "parse_s3_uri", "s3_uri"]
