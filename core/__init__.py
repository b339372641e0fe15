"""Code every app shares and that imports no app. For now: the admin toolkit (core.admin_toolkit)."""
