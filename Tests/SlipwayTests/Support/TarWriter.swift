import CompressNIO
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import SlipwayData
import SlipwayServer

/// Builds tar archives in tests, header by header: ustar headers with any type flag, path or size encoding, so that
/// links, devices, `..` and absolute paths can be written as easily as images; long paths as a ustar prefix, a GNU
/// long name or a pax record.
struct TarWriter {
    /// How a path longer than the 100-byte name field is written.
    enum LongPath {
        /// Split between the ustar `prefix` (155 bytes) and `name` fields.
        case ustarPrefix
        /// A GNU `L` header holding the name before the entry's header.
        case gnu
        /// A pax `x` header with a `path` record before the entry's header.
        case pax
    }

    private(set) var bytes: [UInt8] = []

    /// A regular file.
    mutating func file(_ path: String, _ content: Data, longPath: LongPath = .pax, base256Size: Bool = false) {
        entry(path, type: "0", size: content.count, longPath: longPath, base256Size: base256Size)
        append(content: Array(content))
    }

    mutating func directory(_ path: String) { entry(path, type: "5") }
    mutating func symbolicLink(_ path: String, to target: String) { entry(path, type: "2", linkName: target) }
    mutating func hardLink(_ path: String, to target: String) { entry(path, type: "1", linkName: target) }
    /// A character device (`3`), block device (`4`) or FIFO (`6`).
    mutating func special(_ path: String, type: Character) { entry(path, type: type) }

    /// A pax header applying `records` to the next entry (`x`), or a global one (`g`).
    mutating func pax(_ records: [(String, String)], global: Bool = false) {
        var content: [UInt8] = []
        for (key, value) in records {
            let body = " \(key)=\(value)\n"
            var length = body.utf8.count + 1
            while String(length).count + body.utf8.count != length { length += 1 }
            content += Array("\(length)\(body)".utf8)
        }
        bytes += header(name: "PaxHeader", type: global ? "g" : "x", size: content.count)
        append(content: content)
    }

    /// The two zero blocks that end an archive.
    mutating func end() { bytes += [UInt8](repeating: 0, count: 1024) }

    var data: Data { Data(bytes) }

    /// The archive so far, gzip-compressed.
    var gzipped: Data { Self.gzip(Data(bytes)) }

    static func gzip(_ data: Data) -> Data {
        var buffer = ByteBuffer(bytes: data)
        let compressed = try! buffer.compress(with: ZlibAlgorithm.gzip)
        return Data(compressed.readableBytesView)
    }

    private mutating func entry(
        _ path: String, type: Character, size: Int = 0, linkName: String = "", longPath: LongPath = .pax, base256Size: Bool = false
    ) {
        var name = path
        var prefix = ""
        if path.utf8.count > 100 {
            switch longPath {
            case .ustarPrefix:
                let slash = path.utf8.indices.first {
                    path.utf8[$0] == UInt8(ascii: "/") && path.utf8.distance(from: $0, to: path.utf8.endIndex) <= 101
                }!
                prefix = String(path[..<slash])
                name = String(path[path.index(after: slash)...])
            case .gnu:
                let content = Array(path.utf8) + [0]
                bytes += header(name: "././@LongLink", type: "L", size: content.count)
                append(content: content)
                name = String(path.prefix(100))
            case .pax:
                pax([("path", path)])
                name = String(path.prefix(100))
            }
        }
        bytes += header(name: name, type: type, size: size, linkName: linkName, prefix: prefix, base256Size: base256Size)
    }

    /// One ustar header block, its checksum computed.
    func header(name: String, type: Character, size: Int, linkName: String = "", prefix: String = "", base256Size: Bool = false) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int, length: Int) {
            for (index, byte) in text.utf8.prefix(length).enumerated() { block[offset + index] = byte }
        }
        func octal(_ value: Int, at offset: Int, length: Int) {
            put(String(repeating: "0", count: length - 1 - String(value, radix: 8).count) + String(value, radix: 8), at: offset, length: length - 1)
        }
        put(name, at: 0, length: 100)
        octal(0o644, at: 100, length: 8)
        octal(1000, at: 108, length: 8)
        octal(1000, at: 116, length: 8)
        if base256Size {
            block[124] = 0x80
            for index in 0..<8 { block[135 - index] = UInt8(truncatingIfNeeded: size >> (8 * index)) }
        } else {
            octal(size, at: 124, length: 12)
        }
        octal(1_700_000_000, at: 136, length: 12)
        block[156] = type.asciiValue!
        put(linkName, at: 157, length: 100)
        put("ustar\0", at: 257, length: 6)
        put("00", at: 263, length: 2)
        put("user", at: 265, length: 32)
        put("group", at: 297, length: 32)
        put(prefix, at: 345, length: 155)
        for index in 148..<156 { block[index] = UInt8(ascii: " ") }
        let sum = block.reduce(0) { $0 + Int($1) }
        octal(sum, at: 148, length: 7)
        block[154] = 0
        block[155] = UInt8(ascii: " ")
        return block
    }

    private mutating func append(content: [UInt8]) {
        bytes += content
        bytes += [UInt8](repeating: 0, count: (512 - content.count % 512) % 512)
    }
}

extension TestPlatform {
    /// Like ``withAPI(_:_:)`` on SQLite, with the limits the server applies to uploaded archives.
    static func withAPI<T: Sendable>(archiveLimits: ArchiveLimits, _ body: @Sendable (APIClient) async throws -> T) async throws -> T {
        try await TestDatabases.withFreshDatabase(.sqlite) { database, directory in
            var server = configuration(database, directory: directory)
            server.archiveLimits = archiveLimits
            let platform = try await Platform.open(server, logger: TestDatabases.logger)
            do {
                let app = Application(router: try await buildRouter(platform), logger: TestDatabases.logger)
                let result = try await app.test(.router) { client in try await body(APIClient(client: client, platform: platform)) }
                try await platform.close()
                return result
            } catch {
                try? await platform.close()
                throw error
            }
        }
    }
}
