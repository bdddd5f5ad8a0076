import ArgumentParser
import CompressNIO
import Foundation
import NIOCore
import SlipwayClient
import SlipwayData
import SlipwayDomain
import ZIPFoundation

extension DatasetLayout: ExpressibleByArgument {}

extension VersionPull {
    /// A pull of the version `path` names (the latest when it names none).
    init(client: SlipwayAPIClient, path: DatasetCommand.Path, layout: DatasetLayout) {
        self.init(client: client, namespace: path.namespace, datasetAPI: path.api, version: path.version ?? "latest", layout: layout)
    }

    /// Pulls with a progress bar on standard error; a layout that cannot hold the version is a ``CLIError``.
    func runShowingProgress(into root: URL) async throws -> Summary {
        final class Holder: @unchecked Sendable {
            let lock = NSLock()
            var bar: ProgressBar?
            func update(_ bytes: Int64) { lock.withLock { bar }?.update(bytes) }
        }
        let holder = Holder()
        do {
            let summary = try await run(
                into: root,
                starting: { files, bytes in
                    if files > 0 { holder.lock.withLock { holder.bar = ProgressBar(label: "downloading \(files) files", total: bytes) } }
                }, progress: { holder.update($0) })
            holder.lock.withLock { holder.bar }?.finish()
            return summary
        } catch let error as DatasetPullError {
            throw CLIError(error.description)
        }
    }
}

// MARK: - Reading a folder to push

/// An image of a folder being pushed: where it is on disk, and what the folder's layout says about it.
struct LocalImage {
    /// The image file.
    var url: URL
    /// Its media type (`image/png`).
    var mediaType: String
    /// Its path in the dataset, size and annotations, as the layout gives them.
    var image: AnnotatedImage
}

/// Reads the images of a folder being pushed, with their annotations, in one of the layouts.
struct LayoutReader {
    /// The folder.
    let root: URL

    init(directory: String) {
        root = URL(fileURLWithPath: directory).standardizedFileURL
    }

    /// The folder's layout: Pascal VOC when it holds `Annotations/*.xml`, COCO when it or its `annotations/` folder
    /// holds a JSON file with `images`, an image folder otherwise.
    func detect() throws -> DatasetLayout {
        if !files(under: root.appendingPathComponent("Annotations"), extension: "xml").isEmpty { return .voc }
        if try cocoFile(forced: false) != nil { return .coco }
        return .imageFolder
    }

    /// Every image of the folder read as `layout`, with the path, size and annotations the layout gives it.
    /// - Throws: `CLIError` when an annotation file is wrong, an image it names is missing, or two images would
    ///   get the same record id.
    func images(_ layout: DatasetLayout) throws -> [LocalImage] {
        let images: [LocalImage] =
            switch layout {
            case .records: throw CLIError("a folder is pushed as image_folder, coco or voc")
            case .imageFolder: try imageFolder()
            case .coco: try coco()
            case .voc: try voc()
            }
        var paths: [String: String] = [:]
        for local in images {
            let id = local.image.recordID
            if let other = paths[id] {
                throw CLIError("\(other) and \(local.image.fileName) would both be record '\(id)'; rename one of them")
            }
            paths[id] = local.image.fileName
        }
        return images
    }

    private func imageFolder() throws -> [LocalImage] {
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey], options: [.skipsHiddenFiles])
        else { throw CLIError("cannot read the folder \(root.path)") }
        var paths: [String] = []
        var skipped = 0
        while let url = walker.nextObject() as? URL {
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
            let relative = relativePath(of: url)
            if MediaTypes.image(forFileNamed: relative) != nil { paths.append(relative) } else { skipped += 1 }
        }
        paths.sort()
        guard !paths.isEmpty else { throw CLIError("\(root.path) holds no images (.png, .jpg, .jpeg, .gif, .bmp, .webp)") }
        if skipped > 0 { FileHandle.standardError.write(Data("skipping \(skipped) files that are not images\n".utf8)) }
        return paths.map { path in
            let components = path.split(separator: "/")
            let annotations: [Annotation] = components.count >= 2 ? [.imported(label: String(components[0]))] : []
            return LocalImage(
                url: root.appendingPathComponent(path), mediaType: MediaTypes.image(forFileNamed: path)!,
                image: AnnotatedImage(fileName: path, annotations: annotations))
        }
    }

    private func coco() throws -> [LocalImage] {
        guard let file = try cocoFile(forced: true) else {
            throw CLIError("\(root.path) holds no COCO annotation file (a .json file with images, in the folder or its annotations/ folder)")
        }
        let name = relativePath(of: file)
        let data: Data
        do {
            data = try Data(contentsOf: file)
        } catch {
            throw CLIError("cannot read \(name)")
        }
        let images: [AnnotatedImage]
        do {
            images = try COCODetection.images(from: data)
        } catch let error as DataImportError {
            throw CLIError("\(name): \(error.description)")
        }
        guard !images.isEmpty else { throw CLIError("\(name) lists no images") }
        let folders = [root, root.appendingPathComponent("images"), file.deletingLastPathComponent()]
        return try images.map { image in
            try local(image, namedBy: name, searching: folders)
        }
    }

    private func voc() throws -> [LocalImage] {
        let annotations = files(under: root.appendingPathComponent("Annotations"), extension: "xml")
        guard !annotations.isEmpty else { throw CLIError("\(root.path)/Annotations holds no .xml files") }
        let folder = root.appendingPathComponent("JPEGImages")
        return try annotations.map { file in
            let name = relativePath(of: file)
            let image: AnnotatedImage
            do {
                image = try PascalVOC.image(from: try Data(contentsOf: file))
            } catch let error as DataImportError {
                throw CLIError("\(name): \(error.description)")
            } catch {
                throw CLIError("cannot read \(name)")
            }
            return try local(image, namedBy: name, searching: [folder])
        }
    }

    /// The image file `image` names, looked for in `folders` in order.
    private func local(_ image: AnnotatedImage, namedBy annotations: String, searching folders: [URL]) throws -> LocalImage {
        guard let mediaType = MediaTypes.image(forFileNamed: image.fileName) else {
            throw CLIError("\(image.fileName), named by \(annotations), is not an image (.png, .jpg, .jpeg, .gif, .bmp, .webp)")
        }
        var searched: [String] = []
        for folder in folders {
            let candidate = folder.appendingPathComponent(image.fileName)
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory), !isDirectory.boolValue {
                return LocalImage(url: candidate, mediaType: mediaType, image: image)
            }
            let place = relativePath(of: folder)
            if !searched.contains(place) { searched.append(place) }
        }
        let places = searched.map { $0.isEmpty ? root.path : root.path + "/" + $0 }.joined(separator: " or ")
        throw CLIError("image \(image.fileName), named by \(annotations), is not in \(places)")
    }

    /// The COCO file of the folder: the `.json` file directly in it or in its `annotations/` folder whose top level has
    /// `images`. When `forced`, a single `.json` file is taken whatever it holds, so its errors are reported.
    private func cocoFile(forced: Bool) throws -> URL? {
        let candidates = [root, root.appendingPathComponent("annotations")].flatMap { folder in
            ((try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil, options: [.skipsHiddenFiles])) ?? [])
                .filter { $0.pathExtension.lowercased() == "json" }
                .sorted { $0.path < $1.path }
        }
        if forced, candidates.count == 1 { return candidates[0] }
        let documents = candidates.filter { file in
            guard let data = try? Data(contentsOf: file), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                return false
            }
            return object["images"] is [Any]
        }
        if documents.count > 1 {
            throw CLIError(
                "\(root.path) holds several COCO files (\(documents.map(relativePath).joined(separator: ", "))): push one folder per file")
        }
        return documents.first
    }

    /// Regular files under `folder` (recursively) whose extension is `ext`, sorted by path.
    private func files(under folder: URL, extension ext: String) -> [URL] {
        guard let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey], options: [.skipsHiddenFiles])
        else { return [] }
        var found: [URL] = []
        while let url = walker.nextObject() as? URL {
            guard url.pathExtension.lowercased() == ext, (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else {
                continue
            }
            found.append(url.standardizedFileURL)
        }
        return found.sorted { $0.path < $1.path }
    }

    /// `url`'s path relative to the folder (empty for the folder itself).
    private func relativePath(of url: URL) -> String {
        let path = url.standardizedFileURL.path
        guard path.hasPrefix(root.path) else { return path }
        return String(path.dropFirst(root.path.count).drop { $0 == "/" })
    }
}

/// Writes a version as an archive of one of `dataset pull`'s layouts: an image folder (one sub-folder per class) as
/// a zip or a tar.gz, which `push` reads back; a COCO or Pascal VOC folder as a zip, which unpacked pushes back.
struct LayoutArchiveExport {
    /// The kind of archive written.
    enum Archive {
        case zip
        case tarGz
    }

    let client: SlipwayAPIClient
    let path: DatasetCommand.Path
    let layout: DatasetLayout
    let archive: Archive

    /// Pulls the version in the layout into a temporary folder and archives it to `output` (replacing it).
    func write(to output: String) async throws -> VersionPull.Summary {
        let workspace = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-export-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: workspace) }
        let summary = try await VersionPull(client: client, path: path, layout: layout).runShowingProgress(into: workspace)
        if layout == .imageFolder { warnIfOneClassFolder(workspace) }
        let destination = URL(fileURLWithPath: output)
        if FileManager.default.fileExists(atPath: destination.path) { try FileManager.default.removeItem(at: destination) }
        do {
            switch archive {
            case .zip: try FileManager.default.zipItem(at: workspace, to: destination, shouldKeepParent: false)
            case .tarGz: try Self.writeTarGz(of: workspace, to: destination)
            }
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError("cannot write the archive \(output): \(error)")
        }
        return summary
    }

    private func warnIfOneClassFolder(_ workspace: URL) {
        let top = (try? FileManager.default.contentsOfDirectory(atPath: workspace.path)) ?? []
        var isDirectory: ObjCBool = false
        guard top.count == 1, FileManager.default.fileExists(atPath: workspace.appendingPathComponent(top[0]).path, isDirectory: &isDirectory),
            isDirectory.boolValue
        else { return }
        FileHandle.standardError.write(
            Data(
                """
                warning: every image is in the one class folder \(top[0])/; pushing this archive takes a single top folder \
                as a wrapper, so its images would arrive unlabeled

                """
                .utf8))
    }

    /// Writes the files under `folder` (sorted, relative paths, mode 0644) as a gzip-compressed tar archive, streamed
    /// through a temporary tar file so neither is held in memory.
    static func writeTarGz(of folder: URL, to destination: URL) throws {
        let root = folder.standardizedFileURL.path
        var files: [(path: String, url: URL)] = []
        if let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey]) {
            for case let url as URL in walker where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
                let path = url.standardizedFileURL.path
                files.append((String(path.dropFirst(root.count).drop { $0 == "/" }), url))
            }
        }
        files.sort { $0.path < $1.path }
        let tar = destination.deletingLastPathComponent().appendingPathComponent(".\(destination.lastPathComponent).\(UUID().uuidString).tar")
        defer { try? FileManager.default.removeItem(at: tar) }
        guard FileManager.default.createFile(atPath: tar.path, contents: nil), let tarHandle = try? FileHandle(forWritingTo: tar) else {
            throw CLIError("cannot write next to \(destination.path)")
        }
        var writer = TarWriter(output: tarHandle)
        for file in files { try writer.addFile(path: file.path, mode: 0o644, source: file.url) }
        try writer.finish()
        try tarHandle.close()

        guard FileManager.default.createFile(atPath: destination.path, contents: nil) else { throw CLIError("cannot write \(destination.path)") }
        let output = try FileHandle(forWritingTo: destination)
        defer { try? output.close() }
        let input = try FileHandle(forReadingFrom: tar)
        defer { try? input.close() }
        let compressor = try ZlibCompressor(algorithm: .gzip)
        var window = ByteBuffer()
        window.reserveCapacity(1 << 20)
        while true {
            let chunk = try input.read(upToCount: 1 << 20) ?? Data()
            var buffer = ByteBuffer(bytes: chunk)
            try buffer.compressStream(with: compressor, window: &window, flush: chunk.isEmpty ? .finish : .no) { full in
                try output.write(contentsOf: Data(full.readableBytesView))
            }
            if chunk.isEmpty { break }
        }
    }
}
