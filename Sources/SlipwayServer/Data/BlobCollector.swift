import Foundation
import Hummingbird
import SlipwayBlobs
import SlipwayDomain
import SlipwayStore

/// Garbage collection of blobs: deletes every blob that no live dataset version references and that
/// no namespace uploaded within the grace period (a push in flight has uploaded its blobs but not yet
/// committed the version that will reference them).
struct BlobCollector: Sendable {
    let blobs: any BlobStore
    let references: any BlobReferenceRepository

    func collect(grace: Duration) async throws -> GarbageCollectionReport {
        let cutoff = Date().addingTimeInterval(-TimeInterval(grace.components.seconds))
        let references = self.references
        let report = try await blobs.collectGarbage(grace: grace) { digest in
            try await references.isReferenced(digest.hex, uploadsAfter: cutoff)
        }
        try await references.forget(report.deleted.map(\.hex))
        return GarbageCollectionReport(deleted: report.deleted.count, freedBytes: report.freedBytes, keptYoung: report.keptYoung)
    }
}

/// `POST /api/v1/admin/gc`: administrators collect unreferenced blobs.
struct GarbageCollectionController: Sendable {
    let collector: BlobCollector
    let access: AccessPolicy

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
                guard (0...(30 * 86_400)).contains(seconds) else { throw APIError.invalidField("grace_seconds", "must be from 0 to 2592000") }
                grace = seconds
            }
        }
        return try await collector.collect(grace: .seconds(grace))
    }
}

extension GarbageCollectionReport: ResponseEncodable {}
