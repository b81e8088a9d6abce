"""Site administration: dashboard, users and roles, audit log. Admins only; the services check."""
