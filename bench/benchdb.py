"""What the PostgreSQL benchmarks share: a fresh, empty bench database (imported as a sibling: the benchmarks run
as scripts from bench/)."""


def fresh_database(database_url: str) -> None:
    """Drop and create the database named by `database_url` (its server's `postgres` database does the work)."""
    import psycopg

    admin, name = database_url.rsplit("/", 1)
    with psycopg.connect(admin + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
