import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SlipwayBlobs
import SlipwayDomain
import SlipwayStore

/// Uploads and downloads of content-addressed blobs, scoped to a namespace.
///
/// A client asks which blobs the namespace lacks (`check`), uploads only those, streamed and verified
/// against their digest, then refers to them by digest (a dataset version, an artifact). A namespace can
/// read and refer to only the blobs it uploaded or that its own versions hold, so content stored by one
/// tenant is neither visible to nor detectable by another.
struct BlobController: Sendable {
    let store: MetadataStore
    let blobs: any BlobStore
    let access: AccessPolicy

    func register(on api: RouterGroup<AppRequestContext>) {
        api.post("namespaces/{namespace}/blobs/check", use: check)
        api.put("namespaces/{namespace}/blobs/{digest}", use: upload)
        api.get("namespaces/{namespace}/blobs/{digest}", use: download)
    }

    /// The most digests one check may ask about.
    static let checkLimit = 10_000

    @Sendable func check(_ request: Request, context: AppRequestContext) async throws -> BlobCheckResponse {
        let access = try await access.namespace(try context.parameters.require("namespace"), context, requires: .viewer)
        let body = try await request.decodeJSON(BlobCheckRequest.self, context: context)
        guard body.digests.count <= Self.checkLimit else {
            throw APIError.invalidField("digests", "may list at most \(Self.checkLimit) digests per request")
        }
        for digest in body.digests where BlobDigest(hex: digest) == nil {
            throw APIError.invalidField("digests", "holds '\(digest.prefix(80))', which is not 64 lowercase hex digits")
        }
        let held = try await store.blobReferences.held(body.digests, namespaceID: access.namespace.id)
        // The client will not send these: they get an upload's grace period, as if it had.
        if access.role.includes(.developer) { try await store.blobReferences.refreshUploads(Array(held), namespaceID: access.namespace.id) }
        var missing: [String] = []
        for digest in body.digests where !held.contains(digest) {
            missing.append(digest)
        }
        // A reference outlives its blob only if storage was tampered with; such blobs must be sent again.
        var lost: [String] = []
        for digest in held where try await !blobs.contains(BlobDigest(hex: digest)!) {
            lost.append(digest)
        }
        return BlobCheckResponse(missing: missing + lost)
    }

    /// Streams the body into the blob store; the bytes must hash to the digest in the path.
    @Sendable func upload(_ request: Request, context: AppRequestContext) async throws -> Created<BlobReceipt> {
        let access = try await access.namespace(try context.parameters.require("namespace"), context, requires: .developer)
        let text = try context.parameters.require("digest")
        guard let digest = BlobDigest(hex: text) else {
            throw APIError.badRequest("invalid_digest", "'\(text.prefix(80))' is not a SHA-256 digest (64 lowercase hex digits)")
        }
        let info: BlobInfo
        do {
            info = try await blobs.put(request.body, expected: digest)
        } catch let error as BlobStoreError where error.isMismatch {
            throw APIError.badRequest("digest_mismatch", error.description)
        }
        try await store.blobReferences.recordUpload(digest.hex, namespaceID: access.namespace.id)
        return Created(value: BlobReceipt(sha256: info.digest.hex, size: info.size))
    }

    /// Downloads a blob the namespace holds; anyone signed in may download the files of its public datasets.
    @Sendable func download(_ request: Request, context: AppRequestContext) async throws -> Response {
        let namespaceName = try context.parameters.require("namespace")
        let text = try context.parameters.require("digest")
        let missing = APIError.notFound("blob '\(text.prefix(80))' does not exist in namespace '\(namespaceName)'")
        guard let digest = BlobDigest(hex: text) else { throw missing }
        var readable = false
        do {
            let access = try await access.namespace(namespaceName, context, requires: .viewer)
            readable = try await store.blobReferences.held([digest.hex], namespaceID: access.namespace.id).contains(digest.hex)
        } catch let error as APIError where error.status == .notFound {
            _ = try access.caller(context)
            guard let namespace = try await store.namespaces.namespace(named: namespaceName) else { throw missing }
            readable = try await store.blobReferences.isPublic(digest.hex, namespaceID: namespace.id)
        }
        guard readable, let info = try await blobs.info(digest) else { throw missing }
        let chunks = try await blobs.read(digest, chunkSize: 1 << 20)
        return Response(
            status: .ok,
            headers: [.contentType: "application/octet-stream", .contentLength: String(info.size), .eTag: "\"\(digest.hex)\""],
            body: ResponseBody(asyncSequence: chunks))
    }
}

extension BlobCheckResponse: ResponseEncodable {}
extension BlobReceipt: ResponseEncodable {}
