"""Use cases: one function per thing a user does. The gateway and the CLI call these; they
never touch a session. Each takes a unit of work and commits it once."""
