import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import SlipwayDomain
import SlipwayStore

/// Builds the HTTP application `slipway serve` runs: the router over an opened platform, plus the services
/// that must start and stop with it.
public func buildApplication(_ configuration: ServerConfiguration, logger: Logger) async throws -> some ApplicationProtocol {
    let platform = try await Platform.open(configuration, logger: logger)
    if let password = platform.generatedAdminPassword {
        print("""
            ────────────────────────────────────────────────────────────────
            Created the administrator account.
              username: admin
              password: \(password)
            This password is shown only once. Change it after signing in,
            or set SLIPWAY_ADMIN_PASSWORD before the first start.
            ────────────────────────────────────────────────────────────────
            """)
    }
    let router = try await buildRouter(platform)
    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "slipway"),
        services: [DatabaseService(database: platform.database, logger: logger)],
        onServerRunning: { channel in
            logger.info("Slipway is listening on http://\(configuration.host):\(channel.localAddress?.port ?? configuration.port)")
        },
        logger: logger
    )
}

/// Builds the router: health checks, the REST API under `/api/v1` and the web UI.
public func buildRouter(_ platform: Platform) async throws -> Router<AppRequestContext> {
    let router = Router(context: AppRequestContext.self)
    let store = platform.store
    let access = AccessPolicy(store: store)
    let tokens = TokenIssuer(store: store, now: platform.now)

    HealthController(database: platform.database).register(on: router)

    let api = router.group("api/v1")
        .add(middleware: APIErrorMiddleware())
        .add(middleware: BodyLimitMiddleware(maxBytes: platform.configuration.maxBodyBytes))
        .add(middleware: AuthenticationMiddleware(store: store, now: platform.now, requireCSRFHeader: true))
    let document = OpenAPIDocument.json()
    api.get("openapi.json") { _, _ in
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: document)))
    }
    AuthController(store: store, access: access, passwords: platform.passwords, tokens: tokens).register(on: api)
    UserController(store: store, access: access, passwords: platform.passwords).register(on: api)
    TokenController(store: store, access: access, tokens: tokens).register(on: api)
    NamespaceController(store: store, access: access).register(on: api)
    ProjectController(store: store, access: access).register(on: api)

    try await WebController.register(on: router, platform: platform, access: access, tokens: tokens)
    return router
}
