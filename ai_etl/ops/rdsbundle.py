"""`python -m ai_etl.ops.rdsbundle [--url URL]` (`make rds-ca-bundle`): replace the committed RDS CA
bundle (ai_etl/components/data/rds-global-bundle.pem) with AWS's current one and rewrite its digest,
BUNDLE_SHA256 in ai_etl/components/trust.py, so that the two change in one commit.

AWS publishes the bundle at URL below (RDS User Guide, UsingWithRDS.SSL, "Certificate bundles for
all AWS Regions"). A download that is not PEM certificates only, that OpenSSL cannot parse, or that
drops a certificate of the committed bundle still valid (a server signed by it would stop verifying)
is refused, and nothing is written.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import re
import ssl
import sys
import urllib.request
from pathlib import Path

from ai_etl.components import trust

URL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
PEM_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\r?\n?")
DIGEST_LINE = re.compile(r'^BUNDLE_SHA256 = "[0-9a-f]{64}"$', re.MULTILINE)
TIMEOUT = 30
"""Seconds the download may take before it is given up."""


class BundleRefusedError(ValueError):
    """The downloaded bundle is not one to commit."""


def certificates(pem: str) -> dict[bytes, str]:
    """Each certificate of `pem` (DER, as OpenSSL parsed it) and its notAfter; refused if anything but
    PEM certificates is in it, or OpenSSL cannot parse one."""
    if not pem.strip() or PEM_BLOCK.sub("", pem).strip():
        raise BundleRefusedError("not a PEM bundle of certificates only")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cadata=pem)
    except ssl.SSLError as error:
        raise BundleRefusedError(f"a certificate OpenSSL cannot parse ({error.reason})") from None
    der = context.get_ca_certs(binary_form=True)
    parsed = context.get_ca_certs()
    if len(der) != len(PEM_BLOCK.findall(pem)):
        raise BundleRefusedError("a certificate OpenSSL cannot parse, or one twice")
    return {bytes(d): str(p["notAfter"]) for d, p in zip(der, parsed, strict=True)}


def dropped(current: str, new: str, now: datetime.datetime) -> int:
    """How many certificates of `current` still valid at `now` that `new` lacks."""
    kept = certificates(new)
    return sum(
        1
        for der, not_after in certificates(current).items()
        if ssl.cert_time_to_seconds(not_after) > now.timestamp() and der not in kept
    )


def update(url: str, bundle: Path, module: Path, now: datetime.datetime) -> str:
    """Download `url`, check it, write it to `bundle` and its digest into `module`; its digest."""
    with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
        data = response.read()
    try:
        pem = data.decode("ascii")
    except UnicodeDecodeError:
        raise BundleRefusedError("not a PEM bundle (not ASCII text)") from None
    lost = dropped(bundle.read_text("ascii"), pem, now)
    if lost:
        raise BundleRefusedError(
            f"it drops {lost} certificate(s) of the committed bundle that are still valid"
        )
    digest = hashlib.sha256(data).hexdigest()
    text = module.read_text()
    if len(DIGEST_LINE.findall(text)) != 1:
        raise BundleRefusedError(f"{module} has no one BUNDLE_SHA256 line to rewrite")
    bundle.write_bytes(data)
    module.write_text(DIGEST_LINE.sub(f'BUNDLE_SHA256 = "{digest}"', text))
    return digest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ai_etl.ops.rdsbundle", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--url", default=URL, help="where to download the bundle from (default: AWS's)")
    args = parser.parse_args(argv)
    try:
        digest = update(
            args.url, trust.BUNDLE_FILE, Path(trust.__file__), datetime.datetime.now(datetime.UTC)
        )
    except (BundleRefusedError, OSError) as error:
        print(f"the bundle at {args.url} was not taken: {error}", file=sys.stderr)
        return 1
    print(
        f"{trust.BUNDLE_FILE} replaced, BUNDLE_SHA256 = {digest}: review the diff, then commit both together"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
