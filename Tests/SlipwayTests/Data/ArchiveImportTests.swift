import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SlipwayDomain
import SlipwayServer
import Testing
import ZIPFoundation

/// Zip archives of image folders, unpacked on the server under limits.
@Suite("Image folder archives")
struct ArchiveImportTests {
    static let base = DatasetAPITests.base

    /// A zip built here: entries as (path, bytes or a symlink target).
    static func zip(_ entries: [(String, Data)], symlinks: [(String, String)] = [], compress: Bool = false) throws -> Data {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("test-\(UUID().uuidString).zip")
        defer { try? FileManager.default.removeItem(at: url) }
        let archive = try Archive(url: url, accessMode: .create)
        for (path, data) in entries {
            try archive.addEntry(
                with: path, type: .file, uncompressedSize: Int64(data.count), compressionMethod: compress ? .deflate : .none,
                provider: { position, size in data.subdata(in: Int(position)..<Int(position) + size) })
        }
        for (path, target) in symlinks {
            let bytes = Data(target.utf8)
            try archive.addEntry(with: path, type: .symlink, uncompressedSize: Int64(bytes.count), provider: { _, _ in bytes })
        }
        return try Data(contentsOf: url)
    }

    static func png(width: UInt32, height: UInt32) -> Data {
        var bytes: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13] + Array("IHDR".utf8)
        for value in [width, height] { bytes += withUnsafeBytes(of: value.bigEndian) { Array($0) } }
        bytes += Array(repeating: UInt8(width % 251), count: 64)
        return Data(bytes)
    }

    /// Uploads `archive` and imports it into a new dataset `name`; returns the response.
    static func importArchive(_ api: APIClient, _ archive: Data, name: String, token: String) async throws -> APIResult {
        #expect(try await api.request(.post, base, token: token, json: #"{"name":"\#(name)","task_type":"image_classification"}"#).status == .created)
        let response = try await api.client.execute(
            uri: "/api/v1/namespaces/team/blobs/\(sha256HexData(archive))", method: .put, headers: [.authorization: "Bearer \(token)"],
            body: ByteBuffer(bytes: archive))
        #expect(response.status == .created)
        return try await api.request(
            .post, base + "/\(name)/versions", token: token,
            body: CreateVersionRequest(source: ImportSource(format: .imageFolderZip, blob: sha256HexData(archive))))
    }

    @Test func aWrappedFolderOfClassesBecomesLabelledRecordsWithSizes() async throws {
        try await TestPlatform.withAPI { api in
            let admin = try await DatasetAPITests.setUp(api)
            let archive = try Self.zip(
                [
                    ("pets/cats/001.png", Self.png(width: 10, height: 20)), ("pets/cats/002.png", Self.png(width: 11, height: 21)),
                    ("pets/dogs/001.png", Self.png(width: 12, height: 22)), ("pets/notes.txt", Data("skip me".utf8)),
                    ("__MACOSX/pets/._001.png", Data("junk".utf8)),
                ], compress: true)
            let result = try await Self.importArchive(api, archive, name: "pets", token: admin)
            #expect(result.status == .created, "\(result.text)")
            let manifest = try #require(result.json["manifest"] as? [String: Any])
            #expect(manifest["record_count"] as? Int == 3)
            #expect((manifest["statistics"] as? [String: Any])?["class_counts"] as? [String: Int] == ["cats": 2, "dogs": 1])
            let records = try await api.request(.get, Self.base + "/pets/versions/1/records", token: admin).items
            #expect(records.map { $0["id"] as? String } == ["cats/001", "cats/002", "dogs/001"])
            #expect(records.first?["fields"] as? [String: Int] == ["width": 10, "height": 20])
            let file = try #require(records.first?["file"] as? [String: Any])
            let blob = try await api.request(.get, "/api/v1/namespaces/team/blobs/\(file["sha256"] as! String)", token: admin)
            #expect(Data(blob.body.readableBytesView) == Self.png(width: 10, height: 20))
        }
    }

    @Test(arguments: [
        ("traversal", "leaves the archive"), ("absolute", "absolute path"), ("symlink", "is a link"), ("bomb", "times its compressed size"),
        ("not-a-zip", "not a zip archive"),
    ])
    func dangerousArchivesAreRefusedAndCreateNoVersion(kind: String, message: String) async throws {
        try await TestPlatform.withAPI { api in
            let admin = try await DatasetAPITests.setUp(api)
            let archive: Data =
                switch kind {
                case "traversal": try Self.zip([("cats/../../evil.png", Self.png(width: 1, height: 1))])
                case "absolute": try Self.zip([("/etc/evil.png", Self.png(width: 1, height: 1))])
                case "symlink": try Self.zip([("cats/1.png", Self.png(width: 1, height: 1))], symlinks: [("cats/2.png", "/etc/passwd")])
                case "bomb": try Self.zip([("cats/zeros.png", Data(count: 8 << 20))], compress: true)
                default: Data("plain text, not a zip".utf8)
                }
            let blobsBefore = try DatasetAPITests.blobFileCount(api)
            let result = try await Self.importArchive(api, archive, name: kind, token: admin)
            #expect(result.status == .badRequest, "\(result.text)")
            #expect(result.text.contains(message), "\(result.text)")
            #expect(try await api.request(.get, Self.base + "/\(kind)/versions", token: admin).items.isEmpty)
            #expect(try DatasetAPITests.blobFileCount(api) == blobsBefore + 1, "only the uploaded archive itself is stored")
        }
    }
}
