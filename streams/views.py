"""Pages for value streams: list, cascade tree, detail with the stage editor, value stream map."""
