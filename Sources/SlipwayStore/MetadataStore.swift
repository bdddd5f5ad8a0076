/// Every repository the server uses, in one value passed to the parts that need them.
public struct MetadataStore: Sendable {
    public var users: any UserRepository
    public var tokens: any TokenRepository
    public var sessions: any SessionRepository
    public var namespaces: any NamespaceRepository
    public var projects: any ProjectRepository
    public var audit: any AuditLog
    public var datasets: any DatasetRepository
    public var drafts: any DraftRepository
    public var tracking: any TrackingRepository
    public var artifacts: any ArtifactRepository
    public var loggedModels: any LoggedModelRepository
    public var registry: any RegistryRepository
    public var blobReferences: any BlobReferenceRepository
    public var compute: any ComputeRepository
    public var serving: any ServingRepository

    public init(
        users: any UserRepository, tokens: any TokenRepository, sessions: any SessionRepository,
        namespaces: any NamespaceRepository, projects: any ProjectRepository, audit: any AuditLog,
        datasets: any DatasetRepository, drafts: any DraftRepository, tracking: any TrackingRepository,
        artifacts: any ArtifactRepository, loggedModels: any LoggedModelRepository,
        registry: any RegistryRepository, blobReferences: any BlobReferenceRepository, compute: any ComputeRepository,
        serving: any ServingRepository
    ) {
        self.users = users
        self.tokens = tokens
        self.sessions = sessions
        self.namespaces = namespaces
        self.projects = projects
        self.audit = audit
        self.datasets = datasets
        self.drafts = drafts
        self.tracking = tracking
        self.artifacts = artifacts
        self.loggedModels = loggedModels
        self.registry = registry
        self.blobReferences = blobReferences
        self.compute = compute
        self.serving = serving
    }

    /// The SQL implementation of every repository over `database`.
    public static func sql(_ database: Database) -> MetadataStore {
        MetadataStore(
            users: SQLUserRepository(database: database), tokens: SQLTokenRepository(database: database),
            sessions: SQLSessionRepository(database: database), namespaces: SQLNamespaceRepository(database: database),
            projects: SQLProjectRepository(database: database), audit: SQLAuditLog(database: database),
            datasets: SQLDatasetRepository(database: database), drafts: SQLDraftRepository(database: database),
            tracking: SQLTrackingRepository(database: database), artifacts: SQLArtifactRepository(database: database),
            loggedModels: SQLLoggedModelRepository(database: database), registry: SQLRegistryRepository(database: database),
            blobReferences: SQLBlobReferenceRepository(database: database), compute: SQLComputeRepository(database: database),
            serving: SQLServingRepository(database: database))
    }
}
