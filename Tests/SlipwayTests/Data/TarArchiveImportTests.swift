import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SlipwayBlobs
import SlipwayDomain
import Testing

@testable import SlipwayData
@testable import SlipwayServer

/// The tar reader alone: headers of every kind, read from any chunking.
@Suite("Tar reader")
struct TarReaderTests {
    /// What a reader made of an archive: each entry with its content, and whether it ended properly.
    struct Read: Equatable {
        var entries: [TarEntry] = []
        var contents: [[UInt8]] = []
        var ended = false
    }

    /// Reads `archive` fed in pieces of `chunkSize` bytes.
    static func read(_ archive: [UInt8], chunkSize: Int) throws -> Read {
        var reader = TarReader()
        var result = Read()
        var offset = 0
        repeat {
            let piece = archive[offset..<min(offset + chunkSize, archive.count)]
            offset += piece.count
            reader.append(ByteBuffer(bytes: piece))
            while let event = try reader.next() {
                switch event {
                case .entry(let entry):
                    result.entries.append(entry)
                    result.contents.append([])
                case .data(let bytes):
                    result.contents[result.contents.count - 1] += bytes.readableBytesView
                case .end:
                    result.ended = true
                }
                if result.ended { break }
            }
        } while offset < archive.count && !result.ended
        try reader.finish()
        return result
    }

    /// An archive with one entry of every kind, long paths written three ways, and a base-256 size.
    static let mixed: [UInt8] = {
        var tar = TarWriter()
        let long = "pets/" + String(repeating: "long-folder-name/", count: 8) + "cat.png"
        tar.pax([("comment", "a global header changes nothing")], global: true)
        tar.directory("pets/")
        tar.file("pets/a.png", Data((0..<1500).map { UInt8($0 % 251) }))
        tar.file(long, Data([1, 2, 3]), longPath: .pax)
        tar.file(long.replacingOccurrences(of: "cat", with: "dog"), Data([4, 5]), longPath: .gnu)
        tar.file(long.replacingOccurrences(of: "cat", with: "cow"), Data([6]), longPath: .ustarPrefix)
        tar.file("pets/empty.png", Data())
        tar.file("pets/big-size-field.png", Data(repeating: 7, count: 513), base256Size: true)
        tar.symbolicLink("pets/link.png", to: "a.png")
        tar.hardLink("pets/hard.png", to: "pets/a.png")
        tar.special("pets/tty", type: "3")
        tar.special("pets/disk", type: "4")
        tar.special("pets/pipe", type: "6")
        tar.end()
        return tar.bytes + [UInt8](repeating: 0, count: 4096)
    }()

    @Test func readsEveryKindOfHeaderAndLongPaths() throws {
        let read = try Self.read(Self.mixed, chunkSize: 1 << 20)
        let long = "pets/" + String(repeating: "long-folder-name/", count: 8)
        #expect(
            read.entries.map(\.path) == [
                "pets/", "pets/a.png", long + "cat.png", long + "dog.png", long + "cow.png", "pets/empty.png", "pets/big-size-field.png",
                "pets/link.png", "pets/hard.png", "pets/tty", "pets/disk", "pets/pipe",
            ])
        #expect(
            read.entries.map(\.kind) == [
                .directory, .file, .file, .file, .file, .file, .file, .symbolicLink, .hardLink, .other, .other, .other,
            ])
        #expect(read.entries.map(\.size) == [0, 1500, 3, 2, 1, 0, 513, 0, 0, 0, 0, 0])
        #expect(read.contents[1] == (0..<1500).map { UInt8($0 % 251) })
        #expect(read.contents[2] == [1, 2, 3])
        #expect(read.contents[6] == [UInt8](repeating: 7, count: 513))
        #expect(read.entries[7].linkTarget == "a.png")
        #expect(read.entries[8].linkTarget == "pets/a.png")
        #expect(read.ended)
    }

    @Test(arguments: [1, 7, 511, 512, 64 << 10])
    func anyChunkingGivesTheSameEntriesAndContent(chunkSize: Int) throws {
        #expect(try Self.read(Self.mixed, chunkSize: chunkSize) == Self.read(Self.mixed, chunkSize: Self.mixed.count))
    }

    @Test func contentIsHandedOutInPiecesNeverWhole() throws {
        var tar = TarWriter()
        tar.file("big.png", Data(count: 1 << 20))
        tar.end()
        var reader = TarReader()
        var largest = 0
        var offset = 0
        while offset < tar.bytes.count {
            reader.append(ByteBuffer(bytes: tar.bytes[offset..<min(offset + 4096, tar.bytes.count)]))
            offset += 4096
            while let event = try reader.next() {
                if case .data(let bytes) = event { largest = max(largest, bytes.readableBytes) }
                if event == .end { break }
            }
        }
        try reader.finish()
        #expect(largest <= 4096)
    }

    @Test func aWrongChecksumIsRefused() throws {
        var tar = TarWriter()
        tar.file("a.png", Data([1]))
        tar.file("b.png", Data([2]))
        tar.end()
        var first = tar.bytes
        first[0] = UInt8(ascii: "z")
        #expect(throws: DataImportError.invalid("the file is not a tar archive (its first header's checksum is wrong)")) {
            try Self.read(first, chunkSize: 100)
        }
        var second = tar.bytes
        second[1024] = UInt8(ascii: "z")
        #expect(throws: DataImportError.invalid("the archive is damaged after entry 'a.png': a header has a wrong checksum")) {
            try Self.read(second, chunkSize: 100)
        }
    }

    @Test func aTruncatedArchiveIsRefusedWhereverItStops() throws {
        var tar = TarWriter()
        tar.file("a.png", Data(count: 2000))
        tar.file("b.png", Data(count: 10))
        tar.end()
        let cuts: [(Int, String)] = [
            (0, "the file is empty, not a tar archive"),
            (300, "the file is not a tar archive"),
            (1000, "the archive is truncated: it stops inside entry 'a.png'"),
            (2560 + 100, "the archive is truncated: it stops inside a header after entry 'a.png'"),
            (3584, "the archive is truncated: it stops after entry 'b.png' without the blocks that end a tar archive"),
        ]
        for (cut, message) in cuts {
            #expect(throws: DataImportError.invalid(message)) { try Self.read(Array(tar.bytes.prefix(cut)), chunkSize: 64) }
        }
        // One zero block at the very end is accepted.
        #expect(try Self.read(Array(tar.bytes.prefix(3584 + 512)), chunkSize: 64).entries.count == 2)
    }

    @Test func octalAndBase256NumbersAreRead() {
        #expect(TarReader.number(Array("00000001750\0".utf8)[...]) == 1000)
        #expect(TarReader.number(Array("   1750 \0\0\0\0".utf8)[...]) == 1000)
        #expect(TarReader.number(Array("0000000175x\0".utf8)[...]) == nil)
        #expect(TarReader.number([0x80, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0][...]) == 1 << 33)
        #expect(TarReader.number([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF][...]) == nil)
        #expect(TarReader.number([UInt8](repeating: 0, count: 12)[...]) == 0)
    }

    @Test func aHugePaxHeaderIsRefusedBeforeItIsRead() throws {
        var tar = TarWriter()
        tar.pax([("path", String(repeating: "a", count: 2 << 20))])
        #expect(throws: DataImportError.self) { try Self.read(tar.bytes, chunkSize: 64 << 10) }
    }
}

/// A blob in pieces of a fixed size, for reading an archive through every chunking.
final class FixedChunks: ChunkSource {
    private var bytes: ArraySlice<UInt8>
    private let size: Int

    init(_ bytes: [UInt8], size: Int) {
        self.bytes = bytes[...]
        self.size = size
    }

    func next() async throws -> ByteBuffer? {
        guard !bytes.isEmpty else { return nil }
        defer { bytes = bytes.dropFirst(size) }
        return ByteBuffer(bytes: bytes.prefix(size))
    }

    static func blob(_ data: Data, size: Int) -> BlobChunks {
        let bytes = [UInt8](data)
        return BlobChunks { FixedChunks(bytes, size: size) }
    }
}

/// A tar or tar.gz blob read through gunzip and the tar reader, as the server reads it.
@Suite("Tar archive streams")
struct TarArchiveStreamTests {
    /// Every entry and its content, read from `archive` in pieces of `chunkSize` bytes.
    static func read(_ archive: Data, chunkSize: Int) async throws -> TarReaderTests.Read {
        let stream = TarArchiveStream(FixedChunks.blob(archive, size: chunkSize))
        var result = TarReaderTests.Read(ended: true)
        while let entry = try await stream.nextEntry() {
            result.entries.append(entry)
            var content: [UInt8] = []
            while let bytes = try await stream.nextContent() { content += bytes.readableBytesView }
            result.contents.append(content)
        }
        return result
    }

    /// The reader's mixed archive followed by a file larger than gunzip's window, in two gzip members.
    static let plain: Data = {
        var tar = TarWriter()
        var generator = SystemRandomNumberGenerator()
        tar.file("big.png", Data((0..<200_000).map { _ in UInt8.random(in: 0...255, using: &generator) }))
        tar.end()
        return Data(TarReaderTests.mixed.dropLast(4096 + 1024)) + tar.data
    }()

    @Test(arguments: [1, 7, 4096, 64 << 10, 1 << 20])
    func anyChunkingOfATarGzGivesWhatTheReaderGives(chunkSize: Int) async throws {
        let expected = try TarReaderTests.read([UInt8](Self.plain), chunkSize: Self.plain.count)
        #expect(expected.entries.count == 13)
        let gzipped = TarWriter.gzip(Self.plain.prefix(5000)) + TarWriter.gzip(Self.plain.dropFirst(5000)) + Data(count: 100)
        #expect(try await Self.read(gzipped, chunkSize: chunkSize) == expected)
        #expect(try await Self.read(Self.plain, chunkSize: chunkSize) == expected)
    }

    @Test func aTarGzCutAnywhereIsRefused() async throws {
        let gzipped = TarWriter.gzip(Self.plain)
        for cut in [1, 2, 10, 11, 100, gzipped.count / 2, gzipped.count - 9, gzipped.count - 4, gzipped.count - 1] {
            await #expect(throws: DataImportError.self, "cut at \(cut) of \(gzipped.count)") {
                try await Self.read(gzipped.prefix(cut), chunkSize: 777)
            }
        }
    }

    @Test func theProducedBytesAreShownAsTheyGrow() async throws {
        var seen: [Int64] = []
        let stream = TarArchiveStream(FixedChunks.blob(TarWriter.gzip(Self.plain), size: 4096)) { seen.append($0) }
        while try await stream.nextEntry() != nil {}
        #expect(seen == seen.sorted())
        #expect(seen.last == Int64(Self.plain.count))
        #expect(stream.producedBytes == Int64(Self.plain.count))
    }
}

/// Tar and tar.gz archives of image folders, unpacked on the server under limits.
@Suite("Tar image folder archives")
struct TarArchiveImportTests {
    static let base = DatasetAPITests.base

    /// A PNG header of `width` × `height`.
    static func png(_ width: UInt32, _ height: UInt32) -> Data { ArchiveImportTests.png(width: width, height: height) }

    /// Uploads `archive` and imports it as `image_folder_tar` into a new dataset `name`; returns the response.
    static func importTar(_ api: APIClient, _ archive: Data, name: String, token: String) async throws -> APIResult {
        #expect(try await api.request(.post, base, token: token, json: #"{"name":"\#(name)","task_type":"image_classification"}"#).status == .created)
        let response = try await api.client.execute(
            uri: "/api/v1/namespaces/team/blobs/\(sha256HexData(archive))", method: .put, headers: [.authorization: "Bearer \(token)"],
            body: ByteBuffer(bytes: archive))
        #expect(response.status == .created)
        return try await api.request(
            .post, base + "/\(name)/versions", token: token,
            body: CreateVersionRequest(source: ImportSource(format: .imageFolderTar, blob: sha256HexData(archive))))
    }

    /// A labelled image folder wrapped in `pets/`, with files that are skipped.
    static func pets() -> TarWriter {
        var tar = TarWriter()
        tar.directory("pets/")
        tar.directory("pets/cats/")
        tar.file("pets/cats/001.png", png(10, 20))
        tar.file("pets/cats/002.png", png(11, 21))
        tar.directory("pets/dogs/")
        tar.file("pets/dogs/001.png", png(12, 22))
        tar.file("pets/notes.txt", Data("skip me".utf8))
        tar.file("pets/cats/._001.png", Data("apple double".utf8))
        tar.file("__MACOSX/pets/._001.png", Data("junk".utf8))
        tar.end()
        return tar
    }

    @Test(arguments: ["tar.gz", "tar", "two gzip members"])
    func aWrappedFolderOfClassesBecomesLabelledRecordsWithSizes(kind: String) async throws {
        try await TestPlatform.withAPI { api in
            let admin = try await DatasetAPITests.setUp(api)
            let tar = Self.pets()
            let archive =
                switch kind {
                case "tar": tar.data
                case "tar.gz": tar.gzipped
                default: TarWriter.gzip(tar.data.prefix(2048)) + TarWriter.gzip(tar.data.dropFirst(2048))
                }
            let result = try await Self.importTar(api, archive, name: "pets", token: admin)
            #expect(result.status == .created, "\(result.text)")
            let manifest = try #require(result.json["manifest"] as? [String: Any])
            #expect(manifest["record_count"] as? Int == 3)
            #expect((manifest["statistics"] as? [String: Any])?["class_counts"] as? [String: Int] == ["cats": 2, "dogs": 1])
            let records = try await api.request(.get, Self.base + "/pets/versions/1/records", token: admin).items
            #expect(records.map { $0["id"] as? String } == ["cats/001", "cats/002", "dogs/001"])
            #expect(
                records.map { $0["fields"] as? [String: Int] } == [
                    ["width": 10, "height": 20], ["width": 11, "height": 21], ["width": 12, "height": 22],
                ])
            for (record, size) in zip(records, [(10, 20), (11, 21), (12, 22)]) {
                let file = try #require(record["file"] as? [String: Any])
                let expected = Self.png(UInt32(size.0), UInt32(size.1))
                #expect(file["size"] as? Int == expected.count)
                #expect(file["path"] as? String == (record["id"] as? String).map { $0 + ".png" })
                let blob = try await api.request(.get, "/api/v1/namespaces/team/blobs/\(file["sha256"] as! String)", token: admin)
                #expect(Data(blob.body.readableBytesView) == expected)
            }
        }
    }

    @Test func imagesLargerThanTheReadChunksAreStreamedWhole() async throws {
        try await TestPlatform.withAPI { api in
            let admin = try await DatasetAPITests.setUp(api)
            var generator = SystemRandomNumberGenerator()
            let images = (1...3).map { index in
                Self.png(UInt32(index), 5) + Data((0..<(1_500_000 + index)).map { _ in UInt8.random(in: 0...255, using: &generator) })
            }
            var tar = TarWriter()
            for (index, image) in images.enumerated() { tar.file("birds/\(index).png", image) }
            tar.end()
            let archive = tar.gzipped
            #expect(archive.count > 4 << 20)
            let result = try await Self.importTar(api, archive, name: "birds", token: admin)
            #expect(result.status == .created, "\(result.text)")
            let records = try await api.request(.get, Self.base + "/birds/versions/1/records", token: admin).items
            #expect(records.count == 3)
            for (record, image) in zip(records, images) {
                let file = try #require(record["file"] as? [String: Any])
                #expect(file["sha256"] as? String == sha256HexData(image))
                #expect(file["size"] as? Int == image.count)
            }
        }
    }

    /// Runs the system's tar in `folder` with `arguments`.
    static func systemTar(_ arguments: [String], in folder: URL) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/tar")
        process.arguments = arguments
        process.currentDirectoryURL = folder
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }

    static var hasSystemTar: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/tar") }

    @Test(.enabled(if: hasSystemTar), arguments: ["gnu", "pax", "ustar"])
    func anArchiveMadeByTheSystemTarImports(format: String) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tar-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let longClass = "a-class-" + String(repeating: "x", count: 80)
        let longName = String(repeating: "n", count: 60) + ".png"
        for (path, image) in [("pets/cats/1.png", Self.png(1, 2)), ("pets/\(longClass)/\(longName)", Self.png(3, 4))] {
            let url = folder.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try image.write(to: url)
        }
        try Self.systemTar(["--format=\(format)", "-czf", "pets.tgz", "-C", "pets", "."], in: folder)
        let archive = try Data(contentsOf: folder.appendingPathComponent("pets.tgz"))
        try await TestPlatform.withAPI { api in
            let admin = try await DatasetAPITests.setUp(api)
            let result = try await Self.importTar(api, archive, name: "pets", token: admin)
            #expect(result.status == .created, "\(result.text)")
            let records = try await api.request(.get, Self.base + "/pets/versions/1/records", token: admin).items
            #expect(Set(records.compactMap { $0["id"] as? String }) == ["cats/1", "\(longClass)/" + String(repeating: "n", count: 60)])
        }
    }

    @Test(.enabled(if: hasSystemTar), arguments: ["hard link", "symlink", "fifo"])
    func linksAndSpecialFilesMadeByTheSystemTarAreRefused(kind: String) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tar-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let cats = folder.appendingPathComponent("pets/cats")
        try FileManager.default.createDirectory(at: cats, withIntermediateDirectories: true)
        try Self.png(1, 2).write(to: cats.appendingPathComponent("1.png"))
        let second = cats.appendingPathComponent("2.png")
        switch kind {
        case "hard link": try FileManager.default.linkItem(at: cats.appendingPathComponent("1.png"), to: second)
        case "symlink": try FileManager.default.createSymbolicLink(atPath: second.path, withDestinationPath: "1.png")
        default: #expect(mkfifo(second.path, 0o644) == 0)
        }
        try Self.systemTar(["-czf", "pets.tgz", "pets"], in: folder)
        let archive = try Data(contentsOf: folder.appendingPathComponent("pets.tgz"))
        try await TestPlatform.withAPI { api in
            let admin = try await DatasetAPITests.setUp(api)
            let result = try await Self.importTar(api, archive, name: "pets", token: admin)
            #expect(result.status == .badRequest, "\(result.text)")
            #expect(result.text.contains(kind == "fifo" ? "is neither a file nor a folder" : "is a link"), "\(result.text)")
        }
    }

    @Test func aFolderArchivedFromItsInsideKeepsItsClasses() async throws {
        // `tar -czf pets.tgz -C pets .` names entries `./cats/001.png`.
        try await TestPlatform.withAPI { api in
            let admin = try await DatasetAPITests.setUp(api)
            var tar = TarWriter()
            tar.directory("./")
            tar.file("./cats/001.png", Self.png(1, 2))
            tar.file("./dogs/001.png", Self.png(3, 4))
            tar.file("./loose.png", Self.png(5, 6))
            tar.end()
            let result = try await Self.importTar(api, tar.gzipped, name: "inside", token: admin)
            #expect(result.status == .created, "\(result.text)")
            let records = try await api.request(.get, Self.base + "/inside/versions/1/records", token: admin).items
            #expect(records.map { $0["id"] as? String } == ["cats/001", "dogs/001", "loose"])
            let manifest = try #require(result.json["manifest"] as? [String: Any])
            #expect((manifest["statistics"] as? [String: Any])?["class_counts"] as? [String: Int] == ["cats": 1, "dogs": 1])
        }
    }

    @Test(arguments: [TarWriter.LongPath.pax, .gnu, .ustarPrefix])
    func longPathsInEveryEncodingAreImported(longPath: TarWriter.LongPath) async throws {
        try await TestPlatform.withAPI { api in
            let admin = try await DatasetAPITests.setUp(api)
            let folder = "a-class-with-a-rather-long-name-" + String(repeating: "x", count: 60)
            var tar = TarWriter()
            tar.file(folder + "/" + String(repeating: "n", count: 40) + ".png", Self.png(7, 8), longPath: longPath)
            tar.file("short/1.png", Self.png(9, 9))
            tar.end()
            let result = try await Self.importTar(api, tar.gzipped, name: "long", token: admin)
            #expect(result.status == .created, "\(result.text)")
            let manifest = try #require(result.json["manifest"] as? [String: Any])
            #expect((manifest["statistics"] as? [String: Any])?["class_counts"] as? [String: Int] == [folder: 1, "short": 1])
            let records = try await api.request(.get, Self.base + "/long/versions/1/records", token: admin).items
            #expect(records.first?["id"] as? String == folder + "/" + String(repeating: "n", count: 40))
        }
    }

    /// An archive that must be refused, and words the refusal must hold.
    static let refused: [(String, String)] = [
        ("traversal", "leaves the archive"),
        ("pax traversal", "leaves the archive"),
        ("absolute", "has an absolute path"),
        ("symlink", "is a link"),
        ("hard link", "is a link"),
        ("character device", "is neither a file nor a folder"),
        ("block device", "is neither a file nor a folder"),
        ("fifo", "is neither a file nor a folder"),
        ("bomb", "times its compressed size"),
        ("bomb after the end", "times its compressed size"),
        ("truncated tar.gz", "truncated"),
        ("truncated tar", "the archive is truncated: it stops inside entry 'cats/2.png'"),
        ("bad checksum", "the archive is damaged after entry 'cats/1.png': a header has a wrong checksum"),
        ("not a tar", "not a tar archive"),
        ("corrupt gzip", "its gzip data is corrupt"),
        ("no images", "the archive holds no images"),
    ]

    static func archive(_ kind: String) -> Data {
        var tar = TarWriter()
        tar.file("cats/1.png", png(1, 1))
        switch kind {
        case "traversal": tar.file("cats/../../evil.png", png(1, 1))
        case "pax traversal":
            tar.pax([("path", "../evil.png")])
            tar.file("cats/innocent.png", png(1, 1))
        case "absolute": tar.file("/etc/evil.png", png(1, 1))
        case "symlink": tar.symbolicLink("cats/2.png", to: "/etc/passwd")
        case "hard link": tar.hardLink("cats/2.png", to: "/etc/passwd")
        case "character device": tar.special("cats/tty", type: "3")
        case "block device": tar.special("cats/sda", type: "4")
        case "fifo": tar.special("cats/pipe", type: "6")
        case "bomb": tar.file("cats/zeros.png", Data(count: 20 << 20))
        case "bomb after the end":
            tar.end()
            return TarWriter.gzip(tar.data + Data(count: 20 << 20))
        case "truncated tar", "truncated tar.gz": tar.file("cats/2.png", Data((0..<40_000).map { UInt8(truncatingIfNeeded: $0 &* 7919) }))
        case "bad checksum":
            tar.file("cats/2.png", png(1, 1))
            tar.end()
            var bytes = tar.data
            bytes[1024] = UInt8(ascii: "d")
            return TarWriter.gzip(bytes)
        case "not a tar": return TarWriter.gzip(Data("plain text, not a tar".utf8))
        case "corrupt gzip":
            tar.end()
            var bytes = tar.gzipped
            bytes[bytes.count - 8] ^= 0xFF  // the CRC-32 of the content
            return bytes
        case "no images":
            tar = TarWriter()
            tar.file("readme.txt", Data("no pictures".utf8))
        default: break
        }
        tar.end()
        switch kind {
        case "truncated tar": return tar.data.prefix(20_000)
        case "truncated tar.gz":
            let whole = tar.gzipped
            return whole.prefix(whole.count * 3 / 4)
        default: return tar.gzipped
        }
    }

    @Test(arguments: refused)
    func dangerousOrBrokenArchivesAreRefusedAndStoreNothing(kind: String, message: String) async throws {
        try await TestPlatform.withAPI { api in
            let admin = try await DatasetAPITests.setUp(api)
            let name = kind.replacingOccurrences(of: " ", with: "-").replacingOccurrences(of: ".", with: "-")
            let blobsBefore = try DatasetAPITests.blobFileCount(api)
            let result = try await Self.importTar(api, Self.archive(kind), name: name, token: admin)
            #expect(result.status == .badRequest, "\(result.text)")
            #expect(result.text.contains(message), "\(result.text)")
            #expect(try await api.request(.get, Self.base + "/\(name)/versions", token: admin).items.isEmpty)
            #expect(try DatasetAPITests.blobFileCount(api) == blobsBefore + 1, "only the uploaded archive itself is stored")
        }
    }

    @Test func aGzipStreamRunningOnPastTheArchiveIsStoppedByTheSizeLimit() async throws {
        // The ratio limit is out of the way: the unpacked limit alone bounds how much is decompressed.
        let limits = ArchiveLimits(maximumUnpackedBytes: 1000, maximumEntries: 3, maximumCompressionRatio: 1_000_000)
        try await TestPlatform.withAPI(archiveLimits: limits) { api in
            let admin = try await DatasetAPITests.setUp(api)
            let blobsBefore = try DatasetAPITests.blobFileCount(api)
            let result = try await Self.importTar(api, Self.archive("bomb after the end"), name: "endless", token: admin)
            #expect(result.status == .badRequest, "\(result.text)")
            #expect(result.text.contains("the archive unpacks to more than 1000 bytes"), "\(result.text)")
            #expect(try DatasetAPITests.blobFileCount(api) == blobsBefore + 1)
        }
    }

    @Test(arguments: [
        ("entries", ArchiveLimits(maximumEntries: 3), "the archive holds more than 3 entries"),
        ("bytes", ArchiveLimits(maximumUnpackedBytes: 1000), "the archive unpacks to more than 1000 bytes"),
    ])
    func archivesPastTheLimitsAreRefused(name: String, limits: ArchiveLimits, message: String) async throws {
        try await TestPlatform.withAPI(archiveLimits: limits) { api in
            let admin = try await DatasetAPITests.setUp(api)
            var tar = TarWriter()
            for index in 1...4 { tar.file("cats/\(index).png", Self.png(UInt32(index), 300) + Data(count: 300)) }
            tar.end()
            let blobsBefore = try DatasetAPITests.blobFileCount(api)
            let result = try await Self.importTar(api, tar.gzipped, name: name, token: admin)
            #expect(result.status == .badRequest, "\(result.text)")
            #expect(result.errorCode == "limit_exceeded")
            #expect(result.text.contains(message), "\(result.text)")
            #expect(try DatasetAPITests.blobFileCount(api) == blobsBefore + 1)
        }
    }
}
