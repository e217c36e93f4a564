"""The animated response: which format the client takes, and headers that tell the truth about it."""

from __future__ import annotations

from mitmproxy import http

from pipeline import formats
from proxy_addon.etags import tagged_etag

#: Response headers that describe the original bytes and would be wrong for the animation.
STALE_HEADERS = (
    "content-encoding",
    "transfer-encoding",
    "content-md5",
    "digest",
    "content-digest",
    "repr-digest",
    "accept-ranges",
    "expires",
    "age",
)
#: Every later use of an animation asks again (revalidating through our tagged ETag), so nothing fake
#: outlives the proxy in the browser's cache; and no shared cache keeps what one person sees.
FRESHNESS = "private, no-cache"


def accepted_types(accept: str) -> set[str]:
    """Media types an Accept header allows (q > 0), lower-cased, wildcards kept as written."""
    types = set()
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media and quality > 0:
            types.add(media.lower())
    return types


def choose_format(accept: str, setting: str = "auto", served: str | None = None) -> str:
    """The format `setting` names, or for "auto" the first by rank that the client takes (each format
    says when it is offered, pipeline.formats): AVIF for a photo the site `served` as AVIF to a
    client that names image/avif, else WebP where the client names it, else APNG, else GIF.
    An animated WebP of an AVIF photo is several times its size, the AVIF about twice; AVIF takes
    longer to encode, so photos served otherwise keep the faster WebP.
    """
    if setting != "auto":
        return setting
    types = accepted_types(accept)
    return next(f.name for f in formats.by_rank() if f.offered(types, served))


def valid_animation(data: bytes, fmt: str) -> bool:
    """The worker's bytes really are the format asked for (the format's own first bytes)."""
    return bool(data) and formats.get(fmt).matches(data[:64])


def apply_animation(response: http.Response, data: bytes, mime: str, tag: str) -> None:
    """Swap the body for the animation and make every header tell the truth about the new bytes."""
    headers = response.headers
    for name in STALE_HEADERS:
        headers.pop(name, None)
    response.content = data  # no content-encoding left, so this also sets Content-Length
    headers["content-type"] = mime
    # Always an ETag of ours, so the browser's revalidation tells us what it has cached.
    headers["etag"] = tagged_etag(headers.get("etag", ""), tag)
    vary = headers.get("vary", "")
    if vary.strip() != "*" and "accept" not in {v.strip().lower() for v in vary.split(",")}:
        headers["vary"] = f"{vary}, Accept" if vary.strip() else "Accept"
    headers["cache-control"] = FRESHNESS
    headers["x-wink"] = "animated; synthetic"
