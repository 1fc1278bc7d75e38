"""Projects, memberships and roles: the scope every other app's data hangs from."""
