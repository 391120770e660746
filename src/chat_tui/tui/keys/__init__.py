"""Key bindings: `spec` reads and writes key names, `catalogue` lists every binding of the
classes it is handed and resolves the person's `[keys]`, `owners` names those classes."""
