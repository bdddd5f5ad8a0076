import Foundation
import SlipwayDomain
import SlipwayStore

/// Resolves the secret of `Authorization: Bearer`: a user's API token (`slw_…`), or the token of a job's
/// attempt (`slwt_…`), which acts for the job's submitter as a developer of the job's namespace only, and only
/// while the attempt holds its node.
struct BearerTokens: Sendable {
    let store: MetadataStore

    /// The caller the secret proves, or nil when it is unknown, expired, revoked or its job is over.
    func caller(secret: String, at now: Date) async throws -> Caller? {
        let hash = SecretGenerator.digest(secret)
        if secret.hasPrefix(SecretGenerator.jobTokenPrefix) {
            guard let (job, namespaceID) = try await store.compute.job(tokenHash: hash),
                let user = try await store.users.user(named: job.createdBy), !user.isDisabled
            else { return nil }
            return Caller(user: user, credential: .job(job.id), jobScope: .init(jobID: job.id, namespaceID: namespaceID))
        }
        guard let (token, user) = try await store.tokens.authenticate(secretHash: hash, at: now) else { return nil }
        return Caller(user: user, credential: .token(token))
    }

    /// Whether a job's token may call `path` of the Slipway API: its namespace's routes (where
    /// ``AccessPolicy`` holds it to that namespace) and its own job; nothing that manages users, tokens or nodes.
    static func jobMayCall(_ path: String, scope: Caller.JobScope) -> Bool {
        path.hasPrefix("/api/v1/namespaces/") || path.hasPrefix("/api/v1/jobs/\(scope.jobID.uuidString.lowercased())")
            || path.hasPrefix("/api/v1/jobs/\(scope.jobID.uuidString)")
    }
}
