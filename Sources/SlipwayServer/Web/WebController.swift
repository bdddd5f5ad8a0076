import Foundation
import HTTPTypes
import Hummingbird
import SlipwayDomain
import SlipwayStore

/// The server-rendered web UI: sign-in, namespaces, a namespace's members, projects and quota, tokens, audit log.
///
/// Pages call the same controller operations as the REST API, so access rules and validation are shared;
/// form posts carry the session's CSRF token in a hidden `_csrf` field.
struct WebController: Sendable {
    let platform: Platform
    let pages: PageRenderer
    let access: AccessPolicy
    let auth: AuthController
    let namespaces: NamespaceController
    let projects: ProjectController
    let tokens: TokenController

    var store: MetadataStore { platform.store }

    /// Adds the pages to `router`; returns their group (signed-in pages of other areas join it).
    @discardableResult
    func register(on router: Router<AppRequestContext>) -> RouterGroup<AppRequestContext> {
        let web = self
        let platform = self.platform
        let group = router.group()
            .add(middleware: BodyLimitMiddleware(maxBytes: platform.configuration.maxBodyBytes))
            .add(middleware: AuthenticationMiddleware(store: platform.store, now: platform.now, requireCSRFHeader: false))
        group.get("/", use: web.home)
        group.get("login", use: web.loginPage)
        group.post("login", use: web.login)
        group.post("logout", use: web.logout)
        group.get("namespaces", use: web.namespaceList)
        group.post("namespaces", use: web.createNamespace)
        group.get("namespaces/{namespace}", use: web.namespacePage)
        group.post("namespaces/{namespace}/projects", use: web.createProject)
        group.post("namespaces/{namespace}/members", use: web.setMember)
        group.post("namespaces/{namespace}/members/{username}/remove", use: web.removeMember)
        group.post("namespaces/{namespace}/quota", use: web.setQuota)
        group.get("namespaces/{namespace}/audit", use: web.namespaceAudit)
        group.get("audit", use: web.globalAudit)
        group.get("tokens", use: web.tokenPage)
        group.post("tokens", use: web.createToken)
        group.post("tokens/{id}/revoke", use: web.revokeToken)
        return group
    }

    // MARK: Signing in and out

    @Sendable func home(_ request: Request, context: AppRequestContext) async throws -> Response {
        redirect(context.caller == nil ? "/login" : "/namespaces")
    }

    @Sendable func loginPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        if context.caller != nil { return redirect(Self.safeNext(request.uri.queryParameters["next"].map(String.init))) }
        return loginForm(request, next: request.uri.queryParameters["next"].map(String.init) ?? "", username: "", flash: nil, status: .ok)
    }

    @Sendable func login(_ request: Request, context: AppRequestContext) async throws -> Response {
        let form = try await FormBody.read(request, context: context)
        let next = form["next"] ?? ""
        guard let cookie = request.cookies[CookieName.loginCSRF]?.value, let sent = form["_csrf"],
            SecretGenerator.constantTimeEquals(cookie, sent)
        else {
            return loginForm(
                request, next: next, username: form["username"] ?? "",
                flash: .init(kind: "error", message: "Your sign-in form expired. Please try again."), status: .forbidden)
        }
        let user: User
        do {
            user = try await auth.verifiedUser(username: form["username"] ?? "", password: form["password"] ?? "")
        } catch let error as APIError {
            return loginForm(
                request, next: next, username: form["username"] ?? "",
                flash: .init(kind: "error", message: "Wrong username or password, or the account is disabled."),
                status: error.status)
        }
        let sessionID = SecretGenerator.hex(bytes: 32)
        let lifetime = platform.configuration.sessionLifetime.components.seconds
        try await store.sessions.create(
            WebSession(
                idHash: SecretGenerator.digest(sessionID), userID: user.id, csrfToken: SecretGenerator.hex(bytes: 32),
                expiresAt: platform.now().addingTimeInterval(TimeInterval(lifetime))), by: .user(user))
        try await store.sessions.deleteExpired(at: platform.now())
        var response = redirect(Self.safeNext(next))
        response.setCookie(sessionCookie(value: sessionID, maxAge: Int(lifetime)))
        response.setCookie(
            Cookie(
                name: CookieName.loginCSRF, value: "", maxAge: 0, path: "/login", secure: platform.configuration.secureCookies,
                httpOnly: true, sameSite: .strict))
        return response
    }

    @Sendable func logout(_ request: Request, context: AppRequestContext) async throws -> Response {
        let caller = try access.caller(context)
        let form = try await FormBody.read(request, context: context)
        try form.requireCSRF(caller)
        if case .session(let session) = caller.credential {
            try await store.sessions.delete(idHash: session.idHash, by: caller.auditActor)
        }
        var response = redirect("/login")
        response.setCookie(sessionCookie(value: "", maxAge: 0))
        return response
    }

    private func loginForm(_ request: Request, next: String, username: String, flash: LayoutView.Flash?, status: HTTPResponse.Status) -> Response {
        let existing = request.cookies[CookieName.loginCSRF]?.value
        let csrf = existing.flatMap { $0.count == 64 ? $0 : nil } ?? SecretGenerator.hex(bytes: 32)
        var response = pages.render(
            "login", LoginPage(layout: .make(nil, section: "", flash: flash), csrf: csrf, next: next, username: username),
            status: status)
        if existing != csrf {
            response.setCookie(
                Cookie(
                    name: CookieName.loginCSRF, value: csrf, maxAge: 3600, path: "/login",
                    secure: platform.configuration.secureCookies, httpOnly: true, sameSite: .strict))
        }
        return response
    }

    private func sessionCookie(value: String, maxAge: Int) -> Cookie {
        Cookie(
            name: CookieName.session, value: value, maxAge: maxAge, path: "/", secure: platform.configuration.secureCookies,
            httpOnly: true, sameSite: .lax)
    }

    /// Only same-site paths are followed after sign-in, never another host.
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), !next.contains("\\"), !next.hasPrefix("/login") else { return "/namespaces" }
        return next
    }

    // MARK: Namespaces

    @Sendable func namespaceList(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await namespaceListPage(context, flash: nil, status: .ok)
    }

    private func namespaceListPage(_ context: AppRequestContext, flash: LayoutView.Flash?, status: HTTPResponse.Status) async throws -> Response {
        let listings = try await namespaces.listings(context)
        let rows = listings.map {
            NamespacesPage.Row(
                name: $0.namespace.name.value, title: $0.namespace.displayName, role: $0.role?.rawValue ?? "admin",
                created: $0.namespace.createdAt.pageText)
        }
        return pages.render(
            "namespaces", NamespacesPage(layout: .make(context.caller, section: "/namespaces", flash: flash), namespaces: rows),
            status: status)
    }

    @Sendable func createNamespace(_ request: Request, context: AppRequestContext) async throws -> Response {
        let caller = try access.caller(context)
        let form = try await FormBody.read(request, context: context)
        try form.requireCSRF(caller)
        do {
            let namespace = try await namespaces.create(
                CreateNamespaceRequest(name: form["name"] ?? "", displayName: form.text("display_name"), description: form.text("description")),
                context: context)
            return redirect("/namespaces/\(namespace.name)")
        } catch {
            let failure = APIErrorMiddleware<AppRequestContext>.apiError(for: error, request: request, logger: context.logger)
            return try await namespaceListPage(context, flash: .init(kind: "error", message: failure.message), status: failure.status)
        }
    }

    @Sendable func namespacePage(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await namespacePage(try context.parameters.require("namespace"), context: context, flash: nil, status: .ok)
    }

    private func namespacePage(
        _ name: String, context: AppRequestContext, flash: LayoutView.Flash?, status: HTTPResponse.Status
    ) async throws -> Response {
        let access = try await access.namespace(name, context, requires: .viewer)
        let namespace = access.namespace
        let projectList = try await store.projects.list(in: namespace)
        let members = try await store.namespaces.members(of: namespace)
        let quota = try await store.namespaces.quota(of: namespace)
        let csrf = LayoutView.make(context.caller, section: "").csrf
        let page = NamespacePage(
            layout: .make(context.caller, section: "/namespaces", flash: flash),
            namespace: .init(name: namespace.name.value, displayName: namespace.displayName, description: namespace.description),
            role: access.role.rawValue,
            projects: projectList.map { .init(name: $0.name.value, description: $0.description, created: $0.createdAt.pageText) },
            members: members.map { member in
                .init(
                    username: member.username.value, role: member.role.rawValue,
                    removable: access.role.manageableRoles.contains(member.role) || member.userID == access.caller.user.id,
                    namespace: namespace.name.value, csrf: csrf)
            },
            quota: .init(quota),
            canCreateProject: access.role.includes(.developer),
            canManageMembers: !access.role.manageableRoles.isEmpty,
            grantableRoles: [Role.developer, .viewer, .maintainer, .owner].filter { access.role.manageableRoles.contains($0) }.map(\.rawValue),
            canSetQuota: access.caller.user.isAdmin,
            canAudit: access.role.includes(.owner))
        return pages.render("namespace", page, status: status)
    }

    /// Runs a form's change on a namespace, then shows the namespace page again (with the error, if it failed).
    private func namespaceForm(
        _ request: Request, context: AppRequestContext, success: String,
        _ change: @Sendable (String, FormBody) async throws -> Void
    ) async throws -> Response {
        let caller = try access.caller(context)
        let name = try context.parameters.require("namespace")
        let form = try await FormBody.read(request, context: context)
        try form.requireCSRF(caller)
        do {
            try await change(name, form)
            return redirect("/namespaces/\(name)")
        } catch {
            let failure = APIErrorMiddleware<AppRequestContext>.apiError(for: error, request: request, logger: context.logger)
            if failure.status == .notFound,
                try await store.namespaces.namespace(named: name) == nil || failure.message.contains("namespace '\(name)'")
            {
                throw failure
            }
            return try await namespacePage(name, context: context, flash: .init(kind: "error", message: failure.message), status: failure.status)
        }
    }

    @Sendable func createProject(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await namespaceForm(request, context: context, success: "project created") { name, form in
            _ = try await projects.create(
                CreateProjectRequest(name: form["name"] ?? "", description: form.text("description")), in: name, context: context)
        }
    }

    @Sendable func setMember(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await namespaceForm(request, context: context, success: "member saved") { name, form in
            guard let role = form["role"].flatMap(Role.init(rawValue:)) else {
                throw APIError.invalidField("role", "must be owner, maintainer, developer or viewer")
            }
            _ = try await namespaces.setMember(namespace: name, username: form.text("username") ?? "", role: role, context: context)
        }
    }

    @Sendable func removeMember(_ request: Request, context: AppRequestContext) async throws -> Response {
        let username = try context.parameters.require("username")
        return try await namespaceForm(request, context: context, success: "member removed") { name, _ in
            try await namespaces.removeMember(namespace: name, username: username, context: context)
        }
    }

    @Sendable func setQuota(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await namespaceForm(request, context: context, success: "quota saved") { name, form in
            func number(_ field: String) throws -> Double? {
                guard let text = form.text(field), text != "unlimited" else { return nil }
                guard let value = Double(text) else { throw APIError.invalidField(field, "must be a number, or empty for unlimited") }
                return value
            }
            let quota = Quota(
                cpu: try number("cpu"), memoryBytes: try number("memory_gb").map { Int64($0 * 1_073_741_824) },
                gpu: try number("gpu").map { Int($0) }, weight: try number("weight"))
            _ = try await namespaces.setQuota(namespace: name, quota: quota, context: context)
        }
    }

    // MARK: Audit log

    @Sendable func namespaceAudit(_ request: Request, context: AppRequestContext) async throws -> Response {
        let name = try context.parameters.require("namespace")
        let page = try await namespaces.auditPage(namespace: name, query: request.uri.queryParameters, context: context)
        return auditPage(page, scope: name, base: "/namespaces/\(name)/audit", context: context)
    }

    @Sendable func globalAudit(_ request: Request, context: AppRequestContext) async throws -> Response {
        let page = try await namespaces.auditPage(namespace: nil, query: request.uri.queryParameters, context: context)
        return auditPage(page, scope: "all namespaces", base: "/audit", context: context)
    }

    private func auditPage(_ page: AuditPage, scope: String, base: String, context: AppRequestContext) -> Response {
        let rows = page.items.map { event in
            AuditLogPage.Row(
                time: event.occurredAt.pageText, actor: event.actorName, action: event.action, target: event.target,
                details: event.details.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))
        }
        return pages.render(
            "audit",
            AuditLogPage(
                layout: .make(context.caller, section: base == "/audit" ? "/audit" : "/namespaces"), scope: scope, events: rows,
                olderLink: page.nextBefore.map { "\(base)?before=\($0)" } ?? ""))
    }

    // MARK: Tokens

    @Sendable func tokenPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await tokenPage(context, issued: nil, flash: nil, status: .ok)
    }

    private func tokenPage(
        _ context: AppRequestContext, issued: IssuedAPIToken?, flash: LayoutView.Flash?, status: HTTPResponse.Status
    ) async throws -> Response {
        let caller = try access.caller(context)
        let now = platform.now()
        let csrf = LayoutView.make(caller, section: "").csrf
        let rows = try await store.tokens.list(userID: caller.user.id).map { token in
            TokensPage.Row(
                id: token.id.uuidString.lowercased(), name: token.name.value, prefix: token.prefix, created: token.createdAt.pageText,
                expires: token.expiresAt?.pageText ?? "never", lastUsed: token.lastUsedAt?.pageText ?? "never",
                state: token.revokedAt != nil ? "revoked" : (token.isUsable(at: now) ? "active" : "expired"),
                revocable: token.revokedAt == nil, csrf: csrf)
        }
        return pages.render(
            "tokens",
            TokensPage(
                layout: .make(caller, section: "/tokens", flash: flash), tokens: rows,
                issued: issued.map { [.init(name: $0.token.name.value, secret: $0.secret)] } ?? []), status: status)
    }

    @Sendable func createToken(_ request: Request, context: AppRequestContext) async throws -> Response {
        let caller = try access.caller(context)
        let form = try await FormBody.read(request, context: context)
        try form.requireCSRF(caller)
        do {
            var days: Int?
            if let text = form.text("expires_in_days") {
                guard let value = Int(text) else { throw APIError.invalidField("expires_in_days", "must be a whole number of days") }
                days = value
            }
            let issued = try await tokens.create(CreateTokenRequest(name: form["name"] ?? "", expiresInDays: days), context: context)
            return try await tokenPage(context, issued: issued, flash: nil, status: .created)
        } catch {
            let failure = APIErrorMiddleware<AppRequestContext>.apiError(for: error, request: request, logger: context.logger)
            return try await tokenPage(context, issued: nil, flash: .init(kind: "error", message: failure.message), status: failure.status)
        }
    }

    @Sendable func revokeToken(_ request: Request, context: AppRequestContext) async throws -> Response {
        let caller = try access.caller(context)
        let form = try await FormBody.read(request, context: context)
        try form.requireCSRF(caller)
        _ = try await tokens.revoke(id: try context.parameters.require("id"), context: context)
        return redirect("/tokens")
    }

    private func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }
}
