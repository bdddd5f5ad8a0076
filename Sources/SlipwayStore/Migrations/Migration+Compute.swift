extension Migration {
    /// Compute: join tokens, nodes (agents), jobs with their state history and logs, and the leases that
    /// elect one server to run the scheduling loop.
    static let compute = Migration(
        version: 7, name: "compute",
        statements: [
            """
            CREATE TABLE join_tokens (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                secret_hash TEXT NOT NULL UNIQUE,
                created_by TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                revoked_at BIGINT
            )
            """,
            """
            CREATE TABLE compute_nodes (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                agent_token_hash TEXT NOT NULL UNIQUE,
                cpu DOUBLE PRECISION NOT NULL,
                memory_bytes BIGINT NOT NULL,
                gpu INTEGER NOT NULL,
                gpus_json TEXT NOT NULL,
                labels_json TEXT NOT NULL,
                state TEXT NOT NULL,
                usage_json TEXT NOT NULL,
                registered_at BIGINT NOT NULL,
                last_heartbeat_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE jobs (
                id TEXT PRIMARY KEY,
                namespace_id TEXT NOT NULL REFERENCES namespaces(id),
                project_id TEXT NOT NULL REFERENCES projects(id),
                namespace_name TEXT NOT NULL,
                project_name TEXT NOT NULL,
                name TEXT NOT NULL,
                spec_json TEXT NOT NULL,
                state TEXT NOT NULL,
                reason TEXT NOT NULL,
                priority INTEGER NOT NULL,
                cpu DOUBLE PRECISION NOT NULL,
                memory_bytes BIGINT NOT NULL,
                gpu INTEGER NOT NULL,
                attempts INTEGER NOT NULL,
                max_attempts INTEGER NOT NULL,
                node_id TEXT REFERENCES compute_nodes(id),
                gpu_devices TEXT NOT NULL,
                exit_code INTEGER,
                created_by TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                started_at BIGINT,
                finished_at BIGINT
            )
            """,
            "CREATE INDEX jobs_state ON jobs (state, created_at)",
            "CREATE INDEX jobs_project ON jobs (project_id, created_at)",
            "CREATE INDEX jobs_node ON jobs (node_id, state)",
            """
            CREATE TABLE job_events (
                id {SERIAL_PRIMARY_KEY},
                job_id TEXT NOT NULL REFERENCES jobs(id),
                state TEXT NOT NULL,
                reason TEXT NOT NULL,
                node_name TEXT,
                at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX job_events_job ON job_events (job_id, id)",
            """
            CREATE TABLE job_log_chunks (
                job_id TEXT NOT NULL REFERENCES jobs(id),
                seq BIGINT NOT NULL,
                start_offset BIGINT NOT NULL,
                text TEXT NOT NULL,
                PRIMARY KEY (job_id, seq)
            )
            """,
            """
            CREATE TABLE leader_leases (
                name TEXT PRIMARY KEY,
                holder TEXT NOT NULL,
                expires_at BIGINT NOT NULL
            )
            """,
        ])

    /// Jobs as tracked runs: the MLflow run and experiment each job records into, and the hash of the token its
    /// current attempt acts with; and namespaces' weights in fair sharing.
    static let jobRuns = Migration(
        version: 8, name: "job_runs",
        statements: [
            "ALTER TABLE jobs ADD COLUMN run_id TEXT",
            "ALTER TABLE jobs ADD COLUMN experiment_id TEXT",
            "ALTER TABLE jobs ADD COLUMN token_hash TEXT",
            "CREATE INDEX jobs_token ON jobs (token_hash)",
            "ALTER TABLE namespaces ADD COLUMN share_weight DOUBLE PRECISION",
        ])
}
