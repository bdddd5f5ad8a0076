extension Migration {
    /// Serving: deployments, their immutable revisions, the replicas (worker processes) placed on nodes, and the
    /// load each gateway sees, which autoscaling reads.
    static let serving = Migration(
        version: 9, name: "serving",
        statements: [
            """
            CREATE TABLE deployments (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                namespace_id TEXT NOT NULL REFERENCES namespaces(id),
                project_id TEXT NOT NULL REFERENCES projects(id),
                namespace_name TEXT NOT NULL,
                project_name TEXT NOT NULL,
                description TEXT NOT NULL,
                production BOOLEAN NOT NULL,
                is_public BOOLEAN NOT NULL,
                revision BIGINT NOT NULL,
                serving_revision BIGINT,
                state TEXT NOT NULL,
                reason TEXT NOT NULL,
                desired_json TEXT NOT NULL,
                created_by TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX deployments_project ON deployments (project_id)",
            """
            CREATE TABLE deployment_revisions (
                deployment_id TEXT NOT NULL REFERENCES deployments(id),
                number BIGINT NOT NULL,
                spec_json TEXT NOT NULL,
                models_json TEXT NOT NULL,
                reason TEXT NOT NULL,
                created_by TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                PRIMARY KEY (deployment_id, number)
            )
            """,
            """
            CREATE TABLE deployment_replicas (
                id TEXT PRIMARY KEY,
                deployment_id TEXT NOT NULL,
                deployment_name TEXT NOT NULL,
                namespace_id TEXT NOT NULL,
                namespace_name TEXT NOT NULL,
                revision BIGINT NOT NULL,
                model TEXT NOT NULL,
                version BIGINT NOT NULL,
                state TEXT NOT NULL,
                reason TEXT NOT NULL,
                node_id TEXT,
                address TEXT,
                restarts BIGINT NOT NULL,
                cpu DOUBLE PRECISION NOT NULL,
                memory_bytes BIGINT NOT NULL,
                gpu INTEGER NOT NULL,
                gpu_devices TEXT NOT NULL,
                node_selector_json TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                ready_at BIGINT,
                updated_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX deployment_replicas_deployment ON deployment_replicas (deployment_id, state)",
            "CREATE INDEX deployment_replicas_node ON deployment_replicas (node_id, state)",
            "CREATE INDEX deployment_replicas_state ON deployment_replicas (state)",
            """
            CREATE TABLE gateway_load (
                server TEXT NOT NULL,
                deployment_id TEXT NOT NULL,
                version_key TEXT NOT NULL,
                concurrency DOUBLE PRECISION NOT NULL,
                requests BIGINT NOT NULL,
                at BIGINT NOT NULL,
                PRIMARY KEY (server, deployment_id, version_key)
            )
            """,
            "CREATE INDEX gateway_load_at ON gateway_load (at)",
        ])
}
