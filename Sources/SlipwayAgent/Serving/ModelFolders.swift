import Crypto
import Foundation
import SlipwayClient
import SlipwayDomain

/// The node's cache of model folders: each model version's files, fetched from the server once and kept under
/// `models/<key>`, where the key is the SHA-256 of the file list (paths and digests), so replicas of the same
/// version, and a restarted worker, download nothing.
struct ModelFolders: Sendable {
    let root: URL
    let locks: KeyedLock

    struct FetchError: Error, CustomStringConvertible {
        var description: String
    }

    /// The cache key of a file list.
    static func key(_ files: [ModelFile]) -> String {
        let text = files.sorted { $0.path < $1.path }.map { "\($0.path)\t\($0.sha256)" }.joined(separator: "\n")
        return SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// The folder holding `assignment`'s model, fetched if missing. - Returns: the folder and how many files were downloaded.
    func folder(for assignment: ReplicaAssignment, client: SlipwayAPIClient) async throws -> (URL, downloaded: Int) {
        guard !assignment.files.isEmpty else {
            throw FetchError(description: "\(assignment.model) version \(assignment.version) has no files in the artifact store")
        }
        let key = Self.key(assignment.files)
        let folder = root.appendingPathComponent(key)
        let complete = folder.appendingPathComponent(".slipway-complete")
        await locks.acquire("model-" + key)
        defer { Task { await locks.release("model-" + key) } }
        if FileManager.default.fileExists(atPath: complete.path) { return (folder, 0) }
        let building = root.appendingPathComponent(".fetching-\(key)-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: building) }
        try FileManager.default.createDirectory(at: building, withIntermediateDirectories: true)
        for file in assignment.files {
            let target = try Self.place(file.path, in: building)
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try await client.download("/agents/replicas/\(assignment.replicaId.uuidString)/files/\(file.sha256)", to: target.path)
            guard try FileDigest.of(path: target.path).sha256 == file.sha256 else {
                throw FetchError(description: "the model file \(file.path) arrived damaged (its SHA-256 differs)")
            }
        }
        _ = FileManager.default.createFile(atPath: building.appendingPathComponent(".slipway-complete").path, contents: nil)
        _ = try? FileManager.default.removeItem(at: folder)
        try FileManager.default.moveItem(at: building, to: folder)
        return (folder, assignment.files.count)
    }

    /// Where a file of the model goes inside `folder`. - Throws: for a path that would leave it.
    static func place(_ path: String, in folder: URL) throws -> URL {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        guard !path.hasPrefix("/"), !parts.isEmpty, !parts.contains(where: { $0 == ".." || $0 == "." }) else {
            throw FetchError(description: "the model file path '\(path.prefix(200))' would leave the model's folder")
        }
        return parts.reduce(folder) { $0.appendingPathComponent(String($1)) }
    }
}
