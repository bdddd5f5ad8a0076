import Foundation
import Hummingbird
import SlipwayBlobs
import SlipwayDomain
import SlipwayStore

/// Garbage collection of blobs: deletes every blob that no live dataset version references, that no namespace
/// uploaded within the grace period (a push that has uploaded its blobs but not yet asked for its version), and that
/// was not stored or retained since a still-running import began (its shards, its files, its source).
struct BlobCollector: Sendable {
    let blobs: any BlobStore
    let references: any BlobReferenceRepository

    func collect(grace: Duration) async throws -> GarbageCollectionReport {
        let started = Date()
        let cutoff = started.addingTimeInterval(-TimeInterval(grace.components.seconds))
        let references = self.references
        let report = try await blobs.collectGarbage(grace: grace) { digest, storedAt in
            try await references.isReferenced(digest.hex, uploadsAfter: cutoff, storedAt: storedAt, at: Date())
        }
        try await references.forget(report.deleted.map(\.hex), createdBefore: started)
        return GarbageCollectionReport(deleted: report.deleted.count, freedBytes: report.freedBytes, keptYoung: report.keptYoung)
    }
}

/// `POST /api/v1/admin/gc`: administrators collect unreferenced blobs.
struct GarbageCollectionController: Sendable {
    let collector: BlobCollector
    let access: AccessPolicy
    /// The shortest grace period a collection may ask for (`SLIPWAY_GC_MINIMUM_GRACE_SECONDS`): a push uploads its
    /// blobs before it asks for its version, and only this protects them in between.
    var minimumGraceSeconds = 600

    /// Uploads younger than this are kept even when nothing references them yet.
    static let defaultGraceSeconds = 3600

    func register(on api: RouterGroup<AppRequestContext>) {
        api.post("admin/gc", use: collect)
    }

    @Sendable func collect(_ request: Request, context: AppRequestContext) async throws -> GarbageCollectionReport {
        _ = try access.admin(context)
        var grace = Self.defaultGraceSeconds
        if (request.headers[.contentLength].flatMap { Int($0) } ?? 0) > 0 {
            let body = try await request.decodeJSON(GarbageCollectionRequest.self, context: context)
            if let seconds = body.graceSeconds {
                guard (minimumGraceSeconds...(30 * 86_400)).contains(seconds) else {
                    throw APIError.invalidField(
                        "grace_seconds",
                        "must be from \(minimumGraceSeconds) to 2592000: uploads younger than the grace period may belong to a push "
                            + "that has not asked for its version yet (the minimum is SLIPWAY_GC_MINIMUM_GRACE_SECONDS)")
                }
                grace = seconds
            }
        }
        return try await collector.collect(grace: .seconds(max(grace, minimumGraceSeconds)))
    }
}

extension GarbageCollectionReport: ResponseEncodable {}
