"""The mitmproxy add-on that makes photos of the target person wink (see proxy_addon/README.md)."""
