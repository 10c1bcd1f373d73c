"""Where a promotion lands through an HTTP API: one module per forge behind ApiProvider."""
