import Foundation
import Hummingbird
import Logging
import NIOCore
import SlipwayDomain
import SlipwayStore

/// Who is making a request, once authenticated.
public struct Caller: Sendable {
    /// How the caller proved who they are.
    public enum Credential: Sendable {
        case token(APIToken)
        case session(WebSession)
        /// A username and password sent with the request (MLflow clients' Basic authentication).
        case basic
    }

    /// The authenticated user.
    public var user: User
    /// The credential used.
    public var credential: Credential

    /// The caller as recorded in the audit log.
    public var auditActor: AuditActor { .user(user) }
}

/// The per-request context of every Slipway route: Hummingbird's core storage plus the caller.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by ``AuthenticationMiddleware`` when the request carries valid credentials.
    public var caller: Caller?
    /// The largest body collected for JSON and forms.
    public var maxBodyBytes: Int = 1 << 20

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.caller = nil
    }

    public var maxUploadSize: Int { maxBodyBytes }

    public var requestDecoder: JSONDecoder { APICoding.decoder() }
    public var responseEncoder: JSONEncoder { APICoding.encoder() }
}
