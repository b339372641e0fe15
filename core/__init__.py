"""Code every app shares and that imports no app: the error vocabulary (core.errors), API types (core.schemas,
core.pagination), outgoing HTTP (core.http), the client address (core.proxies) and the admin toolkit."""
