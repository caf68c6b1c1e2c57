"""Settings and errors of ``s3://`` artifact stores (any S3-compatible service, through s3fs).

Every setting comes from the standard environment variables, or from a store option
(``--store-option KEY=VALUE`` on the command line), which wins over the environment:

============  ====================  ===============================================================
setting       store option          environment
============  ====================  ===============================================================
endpoint      ``endpoint_url``      ``FL_NODE_S3_ENDPOINT``, else ``AWS_ENDPOINT_URL_S3``, else
                                    ``AWS_ENDPOINT_URL`` (required: e.g. ``https://s3.eu-west-1.
                                    amazonaws.com`` on AWS, ``http://127.0.0.1:9000`` for MinIO)
region        ``region``            ``AWS_REGION``, else ``AWS_DEFAULT_REGION`` (else us-east-1)
credentials   ``profile``           ``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY`` (and
                                    ``AWS_SESSION_TOKEN``), or a profile of the shared AWS files
                                    (``AWS_PROFILE``)
anonymous     ``anon=true``         none: reads a public bucket without credentials
============  ====================  ===============================================================

Secrets are never store options (they would show in the process list). The store never creates a
bucket: a missing bucket, missing credentials, refused credentials and an unreachable endpoint are
each one clear :class:`~fl_node.errors.ConfigError` when the store is opened.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from fl_node.errors import ConfigError

#: The store options an ``s3://`` store understands.
OPTIONS = ("endpoint_url", "region", "profile", "anon")
ENDPOINT_VARS = ("FL_NODE_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
#: Fail fast on an unreachable endpoint (botocore's default waits a minute per attempt).
CLIENT_CONFIG = {"connect_timeout": 5, "read_timeout": 60, "retries": {"max_attempts": 3}}


def is_s3(protocol: str) -> bool:
    return protocol in ("s3", "s3a")


def _flag(name: str, text: str) -> bool:
    from fl_node.config import parse_flag  # not at import: the store starts without the config

    value = parse_flag(text)
    if value is None:
        raise ConfigError(f"store option {name}={text!r}: use true or false")
    return value


def endpoint(options: Mapping[str, str], environ: Mapping[str, str]) -> str | None:
    """The endpoint URL from the options or the environment (None when none is set)."""
    if options.get("endpoint_url"):
        return options["endpoint_url"]
    return next((environ[v] for v in ENDPOINT_VARS if environ.get(v)), None)


def storage_options(
    url: str, options: Mapping[str, str], environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """s3fs's keyword arguments for ``url``; ConfigError for an unknown option, no endpoint or
    no credentials."""
    env = os.environ if environ is None else environ
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ConfigError(
            f"unknown store option(s) {', '.join(unknown)} for {url}: s3:// stores take "
            f"{', '.join(OPTIONS)}"
        )
    where = endpoint(options, env)
    if where is None:
        raise ConfigError(
            f"no S3 endpoint for {url}: set FL_NODE_S3_ENDPOINT (or AWS_ENDPOINT_URL), or give "
            "--store-option endpoint_url=URL (e.g. https://s3.eu-west-1.amazonaws.com, or "
            "http://127.0.0.1:9000 for MinIO)"
        )
    if not where.startswith(("http://", "https://")):
        raise ConfigError(f"S3 endpoint {where!r} for {url} must be an http:// or https:// URL")
    anon = _flag("anon", options.get("anon", "false"))
    region = options.get("region") or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    kwargs: dict[str, Any] = {
        "anon": anon,
        "client_kwargs": {"endpoint_url": where, "region_name": region or "us-east-1"},
        "config_kwargs": dict(CLIENT_CONFIG),
        "skip_instance_cache": True,  # the settings of this call, not those of an earlier one
    }
    if options.get("profile"):
        kwargs["profile"] = options["profile"]
    if not anon:
        _check_credentials(url, options.get("profile"))
    return kwargs


def _check_credentials(url: str, profile: str | None) -> None:
    """ConfigError unless botocore's credential chain finds credentials."""
    try:
        import botocore.exceptions
        import botocore.session
    except ImportError:  # s3fs is missing too: opening the URL says how to install it
        return
    try:
        found = botocore.session.Session(profile=profile).get_credentials()
    except botocore.exceptions.ProfileNotFound:
        raise ConfigError(f"S3 profile {profile!r} for {url} is not in the AWS config") from None
    if found is None:
        raise ConfigError(
            f"no S3 credentials for {url}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or "
            "AWS_PROFILE), or give --store-option anon=true to read a public bucket"
        )


def transport_errors() -> tuple[type[BaseException], ...]:
    """What an S3 call raises besides OSError (no endpoint, no credentials, and the like)."""
    try:
        from botocore.exceptions import BotoCoreError
    except ImportError:
        return ()
    return (BotoCoreError,)


def check_bucket(fs: Any, bucket: str, url: str) -> None:
    """One request that proves the endpoint answers, the credentials work and the bucket exists;
    ConfigError naming which of them failed."""
    if not bucket:
        raise ConfigError(f"{url} names no bucket: use s3://BUCKET[/PREFIX]")
    where = fs.client_kwargs.get("endpoint_url", "")
    errors: tuple[type[BaseException], ...] = (OSError, *transport_errors())
    try:
        fs.call_s3("head_bucket", Bucket=bucket)
    except FileNotFoundError:
        raise ConfigError(
            f"S3 bucket {bucket!r} does not exist at {where} ({url}): check the name, or have "
            "the federation's operator create it (the store never creates buckets)"
        ) from None
    except PermissionError:
        raise ConfigError(
            f"S3 at {where} refused access to bucket {bucket!r} ({url}): check the credentials "
            "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) and that the bucket policy lets them "
            "list it"
        ) from None
    except errors as exc:
        if "Credentials" in type(exc).__name__:  # botocore's NoCredentialsError and kin
            raise ConfigError(f"no usable S3 credentials for {url}: {exc}") from None
        if _unreachable(exc):
            raise ConfigError(f"cannot reach the S3 endpoint {where} for {url}: {exc}") from None
        raise ConfigError(f"S3 at {where} failed on bucket {bucket!r} ({url}): {exc}") from None


def _unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` means no connection to the endpoint (refused, timed out, no such host)."""
    try:
        from botocore.exceptions import ConnectionError as BotoConnectionError
    except ImportError:
        return isinstance(exc, ConnectionError | TimeoutError)
    return isinstance(exc, BotoConnectionError | ConnectionError | TimeoutError)


def create_bucket(url: str, options: Mapping[str, str]) -> bool:
    """Create the bucket of ``url`` (the operator's one-time set-up); False when it exists.

    Only :func:`fl_node.commands.store` calls this: no participant's command creates buckets."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(url, **storage_options(url, options))
    bucket = root.split("/", 1)[0]
    if not bucket:
        raise ConfigError(f"{url} names no bucket: use s3://BUCKET[/PREFIX]")
    errors: tuple[type[BaseException], ...] = (OSError, *transport_errors())
    try:
        fs.call_s3("head_bucket", Bucket=bucket)
        return False
    except FileNotFoundError:
        pass
    except errors as exc:
        check_bucket(fs, bucket, url)  # names what failed (endpoint, credentials, access)
        raise ConfigError(f"S3 bucket {bucket!r} ({url}): {exc}") from None
    try:
        fs.call_s3("create_bucket", Bucket=bucket)
    except errors as exc:
        raise ConfigError(f"cannot create S3 bucket {bucket!r} ({url}): {exc}") from None
    return True
