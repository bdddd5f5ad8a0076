extension Migration {
    /// Users, tokens, sessions, namespaces, members, projects, quotas and the audit log.
    static let identity = Migration(
        version: 1, name: "identity and tenancy",
        statements: [
            """
            CREATE TABLE users (
                id TEXT PRIMARY KEY,
                username TEXT NOT NULL UNIQUE,
                display_name TEXT NOT NULL,
                email TEXT,
                password_hash TEXT NOT NULL,
                is_admin BOOLEAN NOT NULL,
                is_disabled BOOLEAN NOT NULL,
                created_at DOUBLE PRECISION NOT NULL
            )
            """,
            """
            CREATE TABLE api_tokens (
                id TEXT PRIMARY KEY,
                user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                prefix TEXT NOT NULL,
                secret_hash TEXT NOT NULL UNIQUE,
                created_at DOUBLE PRECISION NOT NULL,
                expires_at DOUBLE PRECISION,
                last_used_at DOUBLE PRECISION,
                revoked_at DOUBLE PRECISION
            )
            """,
            "CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (user_id, name) WHERE revoked_at IS NULL",
            """
            CREATE TABLE web_sessions (
                id_hash TEXT PRIMARY KEY,
                user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                csrf_token TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                expires_at DOUBLE PRECISION NOT NULL
            )
            """,
            "CREATE INDEX web_sessions_expiry ON web_sessions (expires_at)",
            """
            CREATE TABLE namespaces (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                display_name TEXT NOT NULL,
                description TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                quota_cpu DOUBLE PRECISION,
                quota_memory_bytes BIGINT,
                quota_gpu BIGINT
            )
            """,
            """
            CREATE TABLE memberships (
                namespace_id TEXT NOT NULL REFERENCES namespaces(id) ON DELETE CASCADE,
                user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                role TEXT NOT NULL,
                added_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (namespace_id, user_id)
            )
            """,
            "CREATE INDEX memberships_user ON memberships (user_id)",
            """
            CREATE TABLE projects (
                id TEXT PRIMARY KEY,
                namespace_id TEXT NOT NULL REFERENCES namespaces(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                description TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                UNIQUE (namespace_id, name)
            )
            """,
            """
            CREATE TABLE audit_events (
                id \(Placeholder.serialPrimaryKey),
                occurred_at DOUBLE PRECISION NOT NULL,
                actor_id TEXT,
                actor_name TEXT NOT NULL,
                action TEXT NOT NULL,
                target_type TEXT NOT NULL,
                target TEXT NOT NULL,
                namespace_id TEXT,
                details TEXT NOT NULL
            )
            """,
            "CREATE INDEX audit_events_namespace ON audit_events (namespace_id, id)",
        ])
}
