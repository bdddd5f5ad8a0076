import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SlipwayBlobs
import SlipwayDomain
import SlipwayStore

/// MLflow's artifact proxy (`/api/2.0/mlflow-artifacts/artifacts/<path>`): the client uploads each file
/// with PUT, lists folders, downloads and deletes. Paths start with the experiment id
/// (`mlflow-artifacts:/<experiment>/<run>/artifacts/…`), whose namespace decides who may read (viewer)
/// and write (developer). Bytes are streamed into the blob store, stored once per distinct content.
struct MLflowArtifactController: Sendable {
    let store: MetadataStore
    let blobs: any BlobStore

    func register(on group: RouterGroup<AppRequestContext>) {
        group.get("artifacts", use: list)
        group.put("artifacts/**", use: upload)
        group.get("artifacts/**", use: download)
        group.delete("artifacts/**", use: delete)
    }

    @Sendable func upload(_ request: Request, context: AppRequestContext) async throws -> Response {
        let path = try Self.path(request, context)
        let experiment = try await experiment(for: path, context, requires: .developer)
        let info = try await blobs.put(request.body, expected: nil)
        try await store.artifacts.put(path: path, experimentID: experiment.id, digest: info.digest.hex, size: info.size)
        return MLflowWire.empty
    }

    @Sendable func download(_ request: Request, context: AppRequestContext) async throws -> Response {
        let path = try Self.path(request, context)
        _ = try await experiment(for: path, context, requires: .viewer)
        guard let file = try await store.artifacts.file(at: path), let digest = BlobDigest(hex: file.digest),
            let info = try await blobs.info(digest)
        else { throw MLflowError.notFound("No artifact at '\(path)'") }
        return Response(
            status: .ok,
            headers: [.contentType: "application/octet-stream", .contentLength: String(info.size), .eTag: "\"\(digest.hex)\""],
            body: ResponseBody(asyncSequence: try await blobs.read(digest, chunkSize: 1 << 20)))
    }

    /// The direct children of the folder `?path=` (files with sizes, sub-folders). A file or a missing
    /// folder answers `{}`: the client tells folders from files by a non-empty listing.
    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        let raw = MLflowTrackingController.queryValue(request, "path") ?? ""
        let path = try Self.path(raw.split(separator: "/", omittingEmptySubsequences: true).map(Substring.init))
        _ = try await experiment(for: path, context, requires: .viewer)
        let folder = path + "/"
        var entries: [String: ListedFile] = [:]
        for file in try await store.artifacts.files(under: folder) {
            let rest = file.path.dropFirst(folder.count)
            if let slash = rest.firstIndex(of: "/") {
                let name = String(rest[..<slash])
                entries[name] = ListedFile(path: name, isDir: true, fileSize: nil)
            } else {
                entries[String(rest)] = ListedFile(path: String(rest), isDir: false, fileSize: file.size)
            }
        }
        if entries.isEmpty { return MLflowWire.empty }
        return try MLflowWire.response(["files": entries.values.sorted { $0.path < $1.path }])
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> Response {
        let path = try Self.path(request, context)
        _ = try await experiment(for: path, context, requires: .developer)
        guard try await store.artifacts.delete(path) > 0 else { throw MLflowError.notFound("No artifact at '\(path)'") }
        return MLflowWire.empty
    }

    struct ListedFile: Encodable {
        var path: String
        var isDir: Bool
        var fileSize: Int64?
    }

    /// The experiment that owns `path` (its first segment), if the caller has `required` in its namespace.
    private func experiment(for path: String, _ context: AppRequestContext, requires required: Role) async throws -> Experiment {
        guard let caller = context.caller else { throw MLflowError.unauthenticated("sign in first") }
        let id = String(path.prefix { $0 != "/" })
        guard let experiment = try await store.tracking.experiment(id: id) else {
            throw MLflowError.notFound("No artifact root '\(id.prefix(40))': artifact paths start with an experiment id")
        }
        let role = try await caller.role(in: experiment.namespaceID, store: store)
        guard let role else { throw MLflowError.notFound("No artifact root '\(id.prefix(40))'") }
        guard role.includes(required) else {
            throw MLflowError.denied("your role in the experiment's namespace is \(role); this needs \(required) or higher")
        }
        return experiment
    }

    /// The checked path of a request to `artifacts/<path>`. An empty segment in the raw path (`…//etc/passwd`,
    /// what an absolute path joined onto a prefix looks like) is refused even where routing would drop it.
    static func path(_ request: Request, _ context: AppRequestContext) throws -> String {
        let raw = request.uri.path
        if let marker = raw.range(of: "/artifacts/"), raw[marker.upperBound...].hasPrefix("/") || raw[marker.upperBound...].contains("//") {
            throw MLflowError.invalid(
                "Invalid artifact path '\(raw[marker.upperBound...].prefix(200))': paths are relative and may not contain empty parts")
        }
        return try path(context.parameters.getCatchAll())
    }

    /// Joins and checks the path segments: percent-decoded, no `..`, `.`, empty or NUL segments, so nothing
    /// can name a place outside the artifact root.
    static func path(_ segments: [Substring]) throws -> String {
        var parts: [String] = []
        for segment in segments {
            guard let part = String(segment).removingPercentEncoding else { throw MLflowError.invalid("the artifact path is not valid") }
            for piece in part.split(separator: "/", omittingEmptySubsequences: false) {
                guard !piece.isEmpty, piece != ".", piece != "..", !piece.contains("\0"), !piece.contains("\\") else {
                    throw MLflowError.invalid(
                        "Invalid artifact path '\(part.prefix(200))': paths are relative and may not contain '..', '.', empty parts or backslashes")
                }
                parts.append(String(piece))
            }
        }
        guard !parts.isEmpty else { throw MLflowError.invalid("an artifact path is required") }
        let path = parts.joined(separator: "/")
        guard path.utf8.count <= ArtifactFile.maximumPathBytes else {
            throw MLflowError.invalid(
                "the artifact path is \(path.utf8.count) bytes long; Slipway stores artifact paths of at most \(ArtifactFile.maximumPathBytes) bytes (UTF-8), the run's own prefix included"
            )
        }
        return path
    }
}
