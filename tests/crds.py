"""The External Secrets Operator's CRDs the tests validate against: `../shared/schemas/external-secrets`
where that folder is beside the checkout, otherwise the same files of the pinned release, downloaded
once into `.cache/` and held to their SHA-256. `make schemas` (`python -m tests.crds`) fetches them
ahead, for a runner or a machine that goes offline later."""

from __future__ import annotations

import hashlib
import http.client
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tests.paths import PROJECT_DIR

RELEASE = "v2.9.0"
URL = "https://raw.githubusercontent.com/external-secrets/external-secrets/{release}/config/crds/bases/{name}"
SHA256 = {
    f"external-secrets.io_{kind}.yaml": digest
    for kind, digest in (
        ("externalsecrets", "5044be5a610ca90a075f34f03ed20b462695c43387ba9410db7f4250e47b1e2f"),
        ("secretstores", "7f750858d393913915a2f15daff9e1d2f56ca207c09920c055d7a68cceacb641"),
        ("clustersecretstores", "f847c69ae317a76527fc37c163ddfe15d9026e14eb47dd325319e914e0433c2a"),
    )
}
"""The release's files, by name, and their SHA-256 (external-secrets `config/crds/bases/`)."""
SHARED = PROJECT_DIR.parent / "shared" / "schemas" / "external-secrets"
CACHE = PROJECT_DIR / ".cache" / f"external-secrets-{RELEASE}"


class CrdError(RuntimeError):
    """The CRDs could not be had, or a file is not the release's."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


def holds_release(folder: Path) -> bool:
    """Whether `folder` holds every file of the release, unmodified."""
    return all(_sha256(folder / name) == digest for name, digest in SHA256.items())


def download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        return bytes(response.read())


def unreachable(name: str, url: str, error: BaseException, cache: Path) -> str:
    """What to do when the release cannot be downloaded: the network is needed once, or the files
    copied by hand."""
    reason = getattr(error, "reason", None) or error
    urls = "".join(f"\n  {URL.format(release=RELEASE, name=n)}" for n in SHA256)
    return (
        f"cannot download the External Secrets CRDs of release {RELEASE}: {name} from {url} failed "
        f"({reason}).\nThey are needed once: run `make schemas` on this checkout while the network is "
        f"reachable, or copy the release's files by hand into {cache}/ (each is then checked against "
        f"its SHA-256):{urls}"
    )


def crd_dir(shared: Path = SHARED, cache: Path = CACHE, fetch: Callable[[str], bytes] = download) -> Path:
    """The folder of the release's CRDs: `shared` if it holds them, else `cache`, filled as needed."""
    if holds_release(shared):
        return shared
    cache.mkdir(parents=True, exist_ok=True)
    for name, digest in SHA256.items():
        if _sha256(cache / name) == digest:
            continue
        url = URL.format(release=RELEASE, name=name)
        try:
            data = fetch(url)
        except (OSError, http.client.HTTPException) as error:
            raise CrdError(unreachable(name, url, error, cache)) from error
        got = hashlib.sha256(data).hexdigest()
        if got != digest:
            raise CrdError(f"{name} from {url} has SHA-256 {got}, not the release's {digest}: not used")
        partial = cache / f"{name}.partial"
        partial.write_bytes(data)
        partial.replace(cache / name)
    return cache


def main() -> int:
    """`make schemas`: the folder of the verified CRDs, or one message saying what failed and how to
    get them (exit 1), never a traceback."""
    try:
        print(crd_dir())
    except CrdError as error:
        print(f"make schemas: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
