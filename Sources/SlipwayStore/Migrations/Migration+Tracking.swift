extension Migration {
    /// Experiment tracking: experiments in projects, runs, params, tags, metric history with each run's
    /// latest values, and dataset inputs.
    static let tracking = Migration(
        version: 4, name: "experiment tracking",
        statements: [
            """
            CREATE TABLE experiments (
                id {SERIAL_PRIMARY_KEY},
                namespace_id TEXT NOT NULL REFERENCES namespaces(id),
                project_id TEXT NOT NULL REFERENCES projects(id),
                name TEXT NOT NULL UNIQUE,
                artifact_location TEXT NOT NULL,
                lifecycle_stage TEXT NOT NULL,
                creation_time BIGINT NOT NULL,
                last_update_time BIGINT NOT NULL
            )
            """,
            "CREATE INDEX experiments_project ON experiments (project_id)",
            """
            CREATE TABLE experiment_tags (
                experiment_id BIGINT NOT NULL REFERENCES experiments(id),
                key TEXT NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (experiment_id, key)
            )
            """,
            """
            CREATE TABLE runs (
                run_id TEXT PRIMARY KEY,
                experiment_id BIGINT NOT NULL REFERENCES experiments(id),
                name TEXT NOT NULL,
                user_id TEXT NOT NULL,
                status TEXT NOT NULL,
                start_time BIGINT NOT NULL,
                end_time BIGINT,
                artifact_uri TEXT NOT NULL,
                lifecycle_stage TEXT NOT NULL
            )
            """,
            "CREATE INDEX runs_experiment ON runs (experiment_id, start_time)",
            """
            CREATE TABLE run_params (
                run_id TEXT NOT NULL REFERENCES runs(run_id),
                key TEXT NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (run_id, key)
            )
            """,
            """
            CREATE TABLE run_tags (
                run_id TEXT NOT NULL REFERENCES runs(run_id),
                key TEXT NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (run_id, key)
            )
            """,
            """
            CREATE TABLE run_metrics (
                run_id TEXT NOT NULL REFERENCES runs(run_id),
                key TEXT NOT NULL,
                step BIGINT NOT NULL,
                timestamp BIGINT NOT NULL,
                value DOUBLE PRECISION NOT NULL,
                is_nan BIGINT NOT NULL,
                PRIMARY KEY (run_id, key, step, timestamp, value, is_nan)
            )
            """,
            """
            CREATE TABLE run_latest_metrics (
                run_id TEXT NOT NULL REFERENCES runs(run_id),
                key TEXT NOT NULL,
                step BIGINT NOT NULL,
                timestamp BIGINT NOT NULL,
                value DOUBLE PRECISION NOT NULL,
                is_nan BIGINT NOT NULL,
                PRIMARY KEY (run_id, key)
            )
            """,
            """
            CREATE TABLE run_inputs (
                run_id TEXT NOT NULL REFERENCES runs(run_id),
                name TEXT NOT NULL,
                digest TEXT NOT NULL,
                source_type TEXT NOT NULL,
                source TEXT NOT NULL,
                schema TEXT,
                profile TEXT,
                tags TEXT NOT NULL,
                PRIMARY KEY (run_id, name, digest)
            )
            """,
        ])
}
