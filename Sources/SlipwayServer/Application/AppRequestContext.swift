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
        /// The token of a job's attempt: it acts for the user who submitted the job, as a developer of the job's
        /// namespace and nowhere else (``Caller/jobScope``).
        case job(UUID)
    }

    /// Where a job's token may act.
    public struct JobScope: Sendable {
        public var jobID: UUID
        public var namespaceID: UUID
    }

    /// The authenticated user. For a job's token, a copy that is never an administrator.
    public var user: User
    /// The credential used.
    public var credential: Credential
    /// Set for a job's token: the caller is a developer of this namespace and has no rights elsewhere.
    public var jobScope: JobScope?

    public init(user: User, credential: Credential, jobScope: JobScope? = nil) {
        self.user = user
        self.credential = credential
        self.jobScope = jobScope
        if jobScope != nil { self.user.isAdmin = false }
    }

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
