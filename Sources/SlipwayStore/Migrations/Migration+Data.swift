extension Migration {
    /// Datasets, their versions, and which blobs each owner (a version, a namespace) references.
    static let data = Migration(
        version: 2, name: "datasets and blob references",
        statements: [
            """
            CREATE TABLE datasets (
                id TEXT PRIMARY KEY,
                namespace_id TEXT NOT NULL REFERENCES namespaces(id),
                project_id TEXT NOT NULL REFERENCES projects(id),
                name TEXT NOT NULL,
                description TEXT NOT NULL,
                task_type TEXT NOT NULL,
                visibility TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                UNIQUE (project_id, name)
            )
            """,
            "CREATE INDEX datasets_visibility ON datasets (visibility)",
            """
            CREATE TABLE dataset_versions (
                id TEXT PRIMARY KEY,
                dataset_id TEXT NOT NULL REFERENCES datasets(id),
                number BIGINT NOT NULL,
                state TEXT NOT NULL,
                message TEXT NOT NULL,
                record_count BIGINT NOT NULL,
                manifest TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                created_by TEXT NOT NULL,
                UNIQUE (dataset_id, number)
            )
            """,
            """
            CREATE TABLE blob_references (
                owner_type TEXT NOT NULL,
                owner_id TEXT NOT NULL,
                digest TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (owner_type, owner_id, digest)
            )
            """,
            "CREATE INDEX blob_references_digest ON blob_references (digest)",
        ])
}

extension Migration {
    /// Dataset drafts: the editable staging area before a commit, one per dataset, its records kept in rows.
    static let drafts = Migration(
        version: 3, name: "dataset drafts",
        statements: [
            """
            CREATE TABLE dataset_drafts (
                dataset_id TEXT PRIMARY KEY REFERENCES datasets(id),
                base_version BIGINT,
                base_records BIGINT NOT NULL,
                schema TEXT NOT NULL,
                revision BIGINT NOT NULL,
                next_position BIGINT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                created_by TEXT NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL
            )
            """,
            """
            CREATE TABLE dataset_draft_records (
                dataset_id TEXT NOT NULL REFERENCES datasets(id),
                record_id TEXT NOT NULL,
                position BIGINT NOT NULL,
                origin TEXT NOT NULL,
                edited BIGINT NOT NULL,
                record TEXT NOT NULL,
                PRIMARY KEY (dataset_id, record_id)
            )
            """,
            "CREATE INDEX dataset_draft_records_position ON dataset_draft_records (dataset_id, position)",
        ])
}
