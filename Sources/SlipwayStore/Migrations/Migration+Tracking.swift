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

extension Migration {
    /// Artifacts of runs and models (each file's path under the artifact root and the blob holding its
    /// bytes), and MLflow 3 logged models with their tags, params, metrics and the runs that output them.
    static let artifacts = Migration(
        version: 5, name: "tracking artifacts and logged models",
        statements: [
            """
            CREATE TABLE artifacts (
                path TEXT PRIMARY KEY,
                experiment_id BIGINT NOT NULL REFERENCES experiments(id),
                digest TEXT NOT NULL,
                size BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX artifacts_experiment ON artifacts (experiment_id)",
            """
            CREATE TABLE logged_models (
                model_id TEXT PRIMARY KEY,
                experiment_id BIGINT NOT NULL REFERENCES experiments(id),
                name TEXT NOT NULL,
                artifact_uri TEXT NOT NULL,
                status TEXT NOT NULL,
                status_message TEXT NOT NULL,
                creator TEXT NOT NULL,
                model_type TEXT NOT NULL,
                source_run_id TEXT,
                lifecycle_stage TEXT NOT NULL,
                creation_time BIGINT NOT NULL,
                last_updated_time BIGINT NOT NULL
            )
            """,
            "CREATE INDEX logged_models_experiment ON logged_models (experiment_id)",
            """
            CREATE TABLE logged_model_tags (
                model_id TEXT NOT NULL REFERENCES logged_models(model_id),
                key TEXT NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (model_id, key)
            )
            """,
            """
            CREATE TABLE logged_model_params (
                model_id TEXT NOT NULL REFERENCES logged_models(model_id),
                key TEXT NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (model_id, key)
            )
            """,
            """
            CREATE TABLE logged_model_metrics (
                model_id TEXT NOT NULL REFERENCES logged_models(model_id),
                run_id TEXT NOT NULL,
                key TEXT NOT NULL,
                step BIGINT NOT NULL,
                timestamp BIGINT NOT NULL,
                value DOUBLE PRECISION NOT NULL,
                is_nan BIGINT NOT NULL,
                dataset_name TEXT NOT NULL,
                dataset_digest TEXT NOT NULL,
                PRIMARY KEY (model_id, key, step, timestamp, value, is_nan, dataset_name, dataset_digest)
            )
            """,
            """
            CREATE TABLE run_outputs (
                run_id TEXT NOT NULL REFERENCES runs(run_id),
                model_id TEXT NOT NULL REFERENCES logged_models(model_id),
                step BIGINT NOT NULL,
                PRIMARY KEY (run_id, model_id)
            )
            """,
        ])
}

extension Migration {
    /// MLflow 3's model inputs of runs: the logged models a run used (`log_inputs(models=…)`).
    static let runModelInputs = Migration(
        version: 11, name: "run model inputs",
        statements: [
            """
            CREATE TABLE run_model_inputs (
                run_id TEXT NOT NULL REFERENCES runs(run_id),
                model_id TEXT NOT NULL REFERENCES logged_models(model_id),
                PRIMARY KEY (run_id, model_id)
            )
            """
        ])
}

extension Migration {
    /// The model registry: registered models in projects, their versions, tags and aliases.
    static let registry = Migration(
        version: 6, name: "model registry",
        statements: [
            """
            CREATE TABLE registered_models (
                name TEXT PRIMARY KEY,
                namespace_id TEXT NOT NULL REFERENCES namespaces(id),
                project_id TEXT NOT NULL REFERENCES projects(id),
                description TEXT NOT NULL,
                creation_time BIGINT NOT NULL,
                last_updated_time BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE registered_model_tags (
                name TEXT NOT NULL REFERENCES registered_models(name),
                key TEXT NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (name, key)
            )
            """,
            """
            CREATE TABLE model_versions (
                name TEXT NOT NULL REFERENCES registered_models(name),
                version BIGINT NOT NULL,
                creation_time BIGINT NOT NULL,
                last_updated_time BIGINT NOT NULL,
                description TEXT NOT NULL,
                user_id TEXT NOT NULL,
                stage TEXT NOT NULL,
                source TEXT NOT NULL,
                run_id TEXT,
                run_link TEXT,
                model_id TEXT,
                storage_location TEXT NOT NULL,
                approved BIGINT NOT NULL,
                PRIMARY KEY (name, version)
            )
            """,
            "CREATE INDEX model_versions_run ON model_versions (run_id)",
            """
            CREATE TABLE model_version_tags (
                name TEXT NOT NULL,
                version BIGINT NOT NULL,
                key TEXT NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (name, version, key)
            )
            """,
            """
            CREATE TABLE registered_model_aliases (
                name TEXT NOT NULL REFERENCES registered_models(name),
                alias TEXT NOT NULL,
                version BIGINT NOT NULL,
                PRIMARY KEY (name, alias)
            )
            """,
        ])
}
