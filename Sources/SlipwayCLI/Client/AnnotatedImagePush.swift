import Foundation
import SlipwayClient
import SlipwayData
import SlipwayDomain

/// Pushes the images of a folder read in one of its layouts (``LayoutReader``: an image folder, COCO, Pascal VOC).
/// Every image is hashed, only the ones the namespace lacks are uploaded, and the records (file, width, height,
/// class or boxes) are written as JSON Lines for the server to import.
struct AnnotatedImagePush {
    let client: SlipwayAPIClient
    let namespace: String

    struct Image {
        var local: LocalImage
        var digest: FileDigest
        var measured: (width: Int, height: Int)?
    }

    /// Uploads what is missing and returns the path of a JSON Lines file describing the records.
    func prepare(images locals: [LocalImage]) async throws -> String {
        var images: [Image] = []
        let totalBytes = locals.reduce(Int64(0)) { sum, local in
            sum + Int64((try? FileManager.default.attributesOfItem(atPath: local.url.path)[.size] as? Int) ?? 0)
        }
        let hashing = ProgressBar(label: "hashing \(locals.count) images", total: totalBytes)
        var hashed: Int64 = 0
        for local in locals {
            let digest = try FileDigest.of(path: local.url.path)
            let header =
                (FileHandle(forReadingAtPath: local.url.path).flatMap { try? $0.read(upToCount: ImageDimensions.headerLength) }).map { [UInt8]($0) }
                ?? []
            images.append(Image(local: local, digest: digest, measured: ImageDimensions.of(header)))
            hashed += digest.size
            hashing.update(hashed)
        }
        hashing.finish()

        var missing: Set<String> = []
        let digests = Array(Set(images.map(\.digest.sha256)))
        for start in stride(from: 0, to: digests.count, by: 5000) {
            missing.formUnion(try await client.missingBlobs(Array(digests[start..<min(start + 5000, digests.count)]), namespace: namespace))
        }
        var uploads: [Image] = []
        var seen: Set<String> = []
        for image in images where missing.contains(image.digest.sha256) && seen.insert(image.digest.sha256).inserted {
            uploads.append(image)
        }
        if uploads.isEmpty {
            FileHandle.standardError.write(Data("all \(images.count) images are already on the server, nothing to upload\n".utf8))
        } else {
            let bar = ProgressBar(label: "uploading \(uploads.count) of \(images.count) images", total: uploads.reduce(0) { $0 + $1.digest.size })
            let sent = SentBytes()
            try await withThrowingTaskGroup(of: Void.self) { group in
                var next = 0
                func start() {
                    let image = uploads[next]
                    next += 1
                    let (path, digest) = (image.local.url.path, image.digest)
                    group.addTask {
                        let this = SentBytes()
                        _ = try await client.uploadBlob(path: path, digest: digest, namespace: namespace) { bytes in
                            bar.update(sent.add(this.advance(to: bytes)))
                        }
                    }
                }
                while next < min(4, uploads.count) { start() }
                while try await group.next() != nil {
                    if next < uploads.count { start() }
                }
            }
            bar.finish()
        }

        let output = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-push-\(UUID().uuidString).jsonl")
        FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        defer { try? handle.close() }
        for image in images {
            let file = RecordFile(
                sha256: image.digest.sha256, size: image.digest.size, mediaType: image.local.mediaType, path: image.local.image.fileName)
            let record = image.local.image.record(file: file, measured: image.measured)
            try handle.write(contentsOf: Data(try TableExporter.jsonLine(record).utf8))
        }
        return output.path
    }
}

/// Bytes sent by concurrent uploads, added up.
final class SentBytes: @unchecked Sendable {
    private let lock = NSLock()
    private var total: Int64 = 0

    /// Sets the total to `bytes`; returns by how much it grew.
    func advance(to bytes: Int64) -> Int64 {
        lock.lock()
        defer { lock.unlock() }
        defer { total = bytes }
        return bytes - total
    }

    /// Adds `bytes`; returns the new total.
    func add(_ bytes: Int64) -> Int64 {
        lock.lock()
        defer { lock.unlock() }
        total += bytes
        return total
    }
}
