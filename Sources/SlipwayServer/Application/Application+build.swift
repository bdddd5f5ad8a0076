import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import SlipwayDomain
import SlipwayScheduling
import SlipwayServing
import SlipwayStore

/// Builds the HTTP application `slipway serve` runs: the router over an opened platform, plus the services
/// that must start and stop with it.
public func buildApplication(_ configuration: ServerConfiguration, logger: Logger) async throws -> some ApplicationProtocol {
    let platform = try await Platform.open(configuration, logger: logger)
    if let password = platform.generatedAdminPassword {
        print(
            """
            ────────────────────────────────────────────────────────────────
            Created the administrator account.
              username: admin
              password: \(password)
            This password is shown only once. Change it after signing in,
            or set SLIPWAY_ADMIN_PASSWORD before the first start.
            ────────────────────────────────────────────────────────────────
            """)
    }
    let serving = ServingRuntime()
    let router = try await buildRouter(platform, serving: serving)
    let listening = ListeningPort()
    var services: [any Service] = [
        DatabaseService(database: platform.database, logger: logger),
        SchedulingService(
            store: platform.store, logger: logger, now: platform.now,
            policy: configuration.schedulerPolicy.makePolicy(configuration.schedulingOptions), lostAfter: configuration.nodeLostAfterSeconds),
        DeploymentService(
            store: platform.store, logger: logger, now: platform.now, scaleDownAfter: configuration.scaleDownAfterSeconds),
        GatewayService(
            store: platform.store, gateway: serving.gateway, directory: serving.directory, settings: configuration.gateway, logger: logger,
            now: platform.now),
    ]
    if configuration.embeddedAgent { services.append(EmbeddedAgentService(platform: platform, port: listening, logger: logger)) }
    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "slipway"),
        services: services,
        onServerRunning: { channel in
            await listening.set(channel.localAddress?.port ?? configuration.port)
            logger.info("Slipway is listening on http://\(configuration.host):\(channel.localAddress?.port ?? configuration.port)")
        },
        logger: logger
    )
}

/// The gateway's parts one server shares between its routes and its services.
public struct ServingRuntime: Sendable {
    public let metrics: GatewayMetrics
    public let gateway: InferenceGateway
    let directory = ServingDirectory()

    public init(metrics: GatewayMetrics = GatewayMetrics()) {
        self.metrics = metrics
        self.gateway = InferenceGateway(metrics: metrics)
    }
}

/// Builds the router: health checks, the REST API under `/api/v1`, the Open Inference Protocol under `/v2`,
/// `/metrics` and the web UI.
public func buildRouter(_ platform: Platform, serving: ServingRuntime = ServingRuntime()) async throws -> Router<AppRequestContext> {
    let router = Router(context: AppRequestContext.self)
    let store = platform.store
    let access = AccessPolicy(store: store)
    let tokens = TokenIssuer(store: store, now: platform.now)
    let pages = try await PageRenderer.load()

    // Router-wide: an error shape for requests no route matched, and (inside it) the stylesheet.
    router.add(middleware: ErrorResponseMiddleware(pages: pages))
    router.add(middleware: URLSanityMiddleware())
    if let folder = PageRenderer.staticFolder {
        router.add(middleware: FileMiddleware(folder, urlBasePath: "/static", cacheControl: .init([(.text, [.maxAge(3600)])])))
    }

    HealthController(database: platform.database).register(on: router)

    let api = router.group("api/v1")
        .add(middleware: APIErrorMiddleware())
        .add(middleware: BodyLimitMiddleware(maxBytes: platform.configuration.maxBodyBytes))
        .add(middleware: AuthenticationMiddleware(store: store, now: platform.now, requireCSRFHeader: true))
    let document = OpenAPIDocument.json()
    api.get("openapi.json") { _, _ in
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: document)))
    }
    let auth = AuthController(store: store, access: access, passwords: platform.passwords, tokens: tokens)
    let namespaces = NamespaceController(store: store, access: access)
    let projects = ProjectController(store: store, access: access)
    let tokenRoutes = TokenController(store: store, access: access, tokens: tokens)
    auth.register(on: api)
    UserController(store: store, access: access, passwords: platform.passwords).register(on: api)
    tokenRoutes.register(on: api)
    namespaces.register(on: api)
    projects.register(on: api)
    BlobController(store: store, blobs: platform.blobs, access: access).register(on: api)
    let datasets = DatasetController(
        store: store, blobs: platform.blobs, access: access,
        importer: VersionImporter(
            blobs: platform.blobs, references: store.blobReferences, archiveLimits: platform.configuration.archiveLimits))
    datasets.register(on: api)
    DraftController(datasets: datasets).register(on: api)
    GarbageCollectionController(
        collector: BlobCollector(blobs: platform.blobs, references: store.blobReferences), access: access,
        minimumGraceSeconds: platform.configuration.minimumGCGraceSeconds
    ).register(on: api)
    let jobRuns = JobRuns(store: store, logger: platform.logger)
    let jobs = JobController(store: store, access: access, runs: jobRuns, now: platform.now)
    jobs.register(on: api)
    let nodes = NodeController(store: store, access: access)
    nodes.register(on: api)
    // Agents authenticate with their own tokens, so their routes sit beside the user API, not inside it.
    AgentController(
        store: store, blobs: platform.blobs, runs: jobRuns, now: platform.now, heartbeatSeconds: platform.configuration.heartbeatSeconds,
        logLimit: platform.configuration.jobLogLimit
    ).register(
        on: router.group("api/v1/agents")
            .add(middleware: APIErrorMiddleware())
            .add(middleware: BodyLimitMiddleware(maxBytes: max(platform.configuration.maxBodyBytes, AgentController.maxLogChunk))))
    let deployments = DeploymentController(
        store: store, access: access, metrics: serving.metrics, gateway: serving.gateway, now: platform.now)
    deployments.register(on: api)
    let inference = InferenceController(
        gateway: serving.gateway, directory: serving.directory, store: store, settings: platform.configuration.gateway,
        metrics: serving.metrics)
    inference.register(on: router, authentication: InferenceAuthenticationMiddleware(store: store, now: platform.now))
    MetricsController(metrics: serving.metrics, store: store, token: platform.configuration.metricsToken).register(on: router)
    let catalog = TrackingCatalog(store: store)
    let tracking = TrackingController(catalog: catalog, access: access, blobs: platform.blobs)
    tracking.register(on: api)

    // The MLflow tracking API, for the stock client: its own credentials (Bearer or Basic) and error shape.
    let mlflow = MLflowTrackingController(store: store, now: platform.now)
    let loggedModels = MLflowLoggedModelController(tracking: mlflow)
    let registry = MLflowRegistryController(tracking: mlflow)
    for prefix in ["api/2.0/mlflow", "ajax-api/2.0/mlflow"] {
        let group = router.group(RouterPath(stringLiteral: prefix))
            .add(middleware: MLflowErrorMiddleware())
            .add(middleware: BodyLimitMiddleware(maxBytes: max(platform.configuration.maxBodyBytes, 16 << 20)))
            .add(middleware: MLflowAuthenticationMiddleware(store: store, passwords: platform.passwords, now: platform.now))
        mlflow.register(on: group)
        loggedModels.register(on: group)
        registry.register(on: group)
    }

    let artifacts = MLflowArtifactController(store: store, blobs: platform.blobs)
    artifacts.register(
        on: router.group("api/2.0/mlflow-artifacts")
            .add(middleware: MLflowErrorMiddleware())
            .add(middleware: MLflowAuthenticationMiddleware(store: store, passwords: platform.passwords, now: platform.now)))

    let web = WebController(
        platform: platform, pages: pages, access: access, auth: auth, namespaces: namespaces, projects: projects, tokens: tokenRoutes
    ).register(on: router)
    DataPages(pages: pages, store: store, datasets: datasets, tracking: catalog).register(on: web)
    TrackingPages(pages: pages, catalog: catalog, api: tracking).register(on: web)
    ComputePages(pages: pages, store: store, jobs: jobs, nodes: nodes).register(on: web)
    ServingPages(pages: pages, deployments: deployments, inference: inference).register(on: web)
    return router
}
