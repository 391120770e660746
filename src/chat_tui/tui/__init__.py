"""Everything that imports Textual: the app, its screens, widgets, keys and messages."""
