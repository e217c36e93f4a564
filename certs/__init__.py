"""The proxy's certificate authority: mitmproxy's confdir for the project (certs/confdir) and the
`python -m certs` command that shows or performs the steps to trust it in browsers."""
