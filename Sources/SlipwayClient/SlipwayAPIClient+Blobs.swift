import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import SlipwayDomain

/// A local file's SHA-256 and size, computed by reading it in chunks.
public struct FileDigest: Sendable {
    public var sha256: String
    public var size: Int64

    /// Hashes the file at `path` without loading it whole.
    public static func of(path: String, chunkSize: Int = 1 << 20) throws -> FileDigest {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw APIClientError(status: 0, code: "file_unreadable", message: "cannot read \(path)")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        var size: Int64 = 0
        while let data = try handle.read(upToCount: chunkSize), !data.isEmpty {
            hasher.update(data: data)
            size += Int64(data.count)
        }
        return FileDigest(sha256: hasher.finalize().map { String(format: "%02x", $0) }.joined(), size: size)
    }
}

extension SlipwayAPIClient {
    /// The digests among `digests` that the namespace does not hold yet.
    public func missingBlobs(_ digests: [String], namespace: String) async throws -> [String] {
        try await send(
            .POST, "/namespaces/\(Self.segment(namespace))/blobs/check", body: BlobCheckRequest(digests: digests), as: BlobCheckResponse.self
        )
        .missing
    }

    /// Uploads a file as a blob, streamed from disk; `progress` is told the bytes sent so far.
    public func uploadBlob(
        path: String, digest: FileDigest, namespace: String, progress: @escaping @Sendable (Int64) -> Void = { _ in }
    ) async throws -> BlobReceipt {
        var request = HTTPClientRequest(url: baseURL + "/api/v1/namespaces/\(Self.segment(namespace))/blobs/\(digest.sha256)")
        request.method = .PUT
        request.headers.add(name: "Content-Type", value: "application/octet-stream")
        request.headers.add(name: "User-Agent", value: "slipway-cli")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.body = .stream(FileUpload(path: path, progress: progress), length: .known(digest.size))
        return try await execute(request, as: BlobReceipt.self)
    }

    /// Uploads a file as an MLflow artifact at `artifactPath` (`EXPERIMENT/RUN/artifacts/…`), streamed from disk.
    public func uploadArtifact(file: String, size: Int64, artifactPath: String) async throws {
        let escaped = artifactPath.split(separator: "/").map { Self.segment(String($0)) }.joined(separator: "/")
        var request = HTTPClientRequest(url: baseURL + "/api/2.0/mlflow-artifacts/artifacts/" + escaped)
        request.method = .PUT
        request.headers.add(name: "Content-Type", value: "application/octet-stream")
        request.headers.add(name: "User-Agent", value: "slipway-agent")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.body = .stream(FileUpload(path: file, progress: { _ in }), length: .known(size))
        let response = try await http.execute(request, timeout: .hours(1))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status.code < 300 else {
            throw Self.failure(status: Int(response.status.code), reason: response.status.reasonPhrase, body: Data(buffer: body))
        }
    }

    /// Downloads a response body into a file, streamed; `progress` is told the bytes received so far.
    public func download(_ path: String, to file: String, progress: @escaping @Sendable (Int64) -> Void = { _ in }) async throws {
        var request = HTTPClientRequest(url: baseURL + "/api/v1" + path)
        request.headers.add(name: "User-Agent", value: "slipway-cli")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let response = try await http.execute(request, timeout: .hours(12))
        guard response.status.code < 300 else {
            let body = try await response.body.collect(upTo: 1 << 20)
            throw Self.failure(status: Int(response.status.code), reason: response.status.reasonPhrase, body: Data(buffer: body))
        }
        let temporary = file + ".part"
        _ = FileManager.default.createFile(atPath: temporary, contents: nil)
        guard let handle = FileHandle(forWritingAtPath: temporary) else {
            throw APIClientError(status: 0, code: "file_unwritable", message: "cannot write \(temporary)")
        }
        var received: Int64 = 0
        do {
            for try await chunk in response.body {
                try handle.write(contentsOf: Data(buffer: chunk))
                received += Int64(chunk.readableBytes)
                progress(received)
            }
            try handle.close()
            _ = try? FileManager.default.removeItem(atPath: file)
            try FileManager.default.moveItem(atPath: temporary, toPath: file)
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
    }
}

/// A file's bytes as an async sequence of chunks, for streamed uploads.
struct FileUpload: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let path: String
    let progress: @Sendable (Int64) -> Void

    struct AsyncIterator: AsyncIteratorProtocol {
        let handle: FileHandle?
        let progress: @Sendable (Int64) -> Void
        var sent: Int64 = 0

        mutating func next() async throws -> ByteBuffer? {
            guard let handle, let data = try handle.read(upToCount: 1 << 20), !data.isEmpty else {
                try? handle?.close()
                return nil
            }
            sent += Int64(data.count)
            progress(sent)
            return ByteBuffer(data: data)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(handle: FileHandle(forReadingAtPath: path), progress: progress) }
}
