"""One module per dashboard panel; each defines PANEL (see ops.dashboard)."""
