extension Migration {
    /// Project members: who sees a project's private datasets besides the namespace's maintainers and owners.
    static let projectMembers = Migration(
        version: 10, name: "project members",
        statements: [
            """
            CREATE TABLE project_members (
                project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
                user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                role TEXT NOT NULL,
                added_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (project_id, user_id)
            )
            """,
            "CREATE INDEX project_members_user ON project_members (user_id)",
            // Before project members, a private dataset was seen by the whole namespace: that is now `namespace`.
            // Kept so, nobody loses what they could read when the server is upgraded.
            "UPDATE datasets SET visibility = 'namespace' WHERE visibility = 'private'",
        ])
}
