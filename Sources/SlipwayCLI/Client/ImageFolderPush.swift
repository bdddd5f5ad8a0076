import Foundation
import SlipwayClient
import SlipwayData
import SlipwayDomain

/// Pushes an image folder: one sub-folder per class (`cats/001.png` is a cat), or images directly in the
/// folder for unlabeled data. Every image is hashed, only the ones the namespace lacks are uploaded, and
/// the records (file, width, height, class) are written as JSON Lines for the server to import.
struct ImageFolderPush {
    let client: SlipwayAPIClient
    let namespace: String

    struct Image {
        var relativePath: String
        var digest: FileDigest
        var mediaType: String
        var width: Int?
        var height: Int?
    }

    /// Uploads what is missing and returns the path of a JSON Lines file describing the records.
    func prepare(directory: String) async throws -> String {
        let root = URL(fileURLWithPath: directory).standardizedFileURL
        var paths: [String] = []
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey], options: [.skipsHiddenFiles])
        else { throw CLIError("cannot read the folder \(directory)") }
        var skipped = 0
        while let url = walker.nextObject() as? URL {
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
            let relative = String(url.standardizedFileURL.path.dropFirst(root.path.count + 1))
            if MediaTypes.image(forFileNamed: relative) != nil { paths.append(relative) } else { skipped += 1 }
        }
        paths.sort()
        guard !paths.isEmpty else { throw CLIError("\(directory) holds no images (.png, .jpg, .jpeg, .gif, .bmp, .webp)") }
        if skipped > 0 { FileHandle.standardError.write(Data("skipping \(skipped) files that are not images\n".utf8)) }

        var images: [Image] = []
        let totalBytes = paths.reduce(Int64(0)) { sum, path in
            sum + Int64((try? FileManager.default.attributesOfItem(atPath: root.appendingPathComponent(path).path)[.size] as? Int) ?? 0)
        }
        let hashing = ProgressBar(label: "hashing \(paths.count) images", total: totalBytes)
        var hashed: Int64 = 0
        for path in paths {
            let full = root.appendingPathComponent(path).path
            let digest = try FileDigest.of(path: full)
            let header =
                (FileHandle(forReadingAtPath: full).flatMap { try? $0.read(upToCount: ImageDimensions.headerLength) }).map { [UInt8]($0) } ?? []
            let dimensions = ImageDimensions.of(header)
            images.append(
                Image(
                    relativePath: path, digest: digest, mediaType: MediaTypes.image(forFileNamed: path)!,
                    width: dimensions?.width, height: dimensions?.height))
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
                    let path = root.appendingPathComponent(image.relativePath).path
                    group.addTask {
                        let this = SentBytes()
                        _ = try await client.uploadBlob(path: path, digest: image.digest, namespace: namespace) { bytes in
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
            let components = image.relativePath.split(separator: "/")
            var record = DatasetRecord(
                id: String(image.relativePath.prefix(upTo: image.relativePath.lastIndex(of: ".") ?? image.relativePath.endIndex)),
                file: RecordFile(sha256: image.digest.sha256, size: image.digest.size, mediaType: image.mediaType, path: image.relativePath))
            if let width = image.width, let height = image.height {
                record.fields = ["width": .integer(Int64(width)), "height": .integer(Int64(height))]
            }
            if components.count >= 2 { record.annotations = [.imported(label: String(components[0]))] }
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
