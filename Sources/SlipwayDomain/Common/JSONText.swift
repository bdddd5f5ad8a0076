import Foundation

/// Writes compact JSON straight into bytes, for the answers and files written too often for `JSONEncoder`'s
/// per-call cost: the gateway's answers and worker frames, MLflow's run and metric answers, and dataset shard lines.
/// Each area adds its own number rules as an extension (MLflow writes NaN as `"NaN"`, shards write what
/// `JSONEncoder` writes), over this one escaping of strings.
public struct JSONText: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
    }

    public var string: String { String(decoding: bytes, as: UTF8.self) }
    public var data: Data { Data(bytes) }

    /// Empties the text, keeping its storage for the next piece.
    public mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
    }

    /// Literal JSON text: punctuation and keys.
    public mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    public mutating func raw(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    public mutating func raw(byte: UInt8) {
        bytes.append(byte)
    }

    /// `text` as a JSON string: quotes and backslashes escaped, control characters as `\n`, `\r`, `\t`, `\b`, `\f`
    /// or `\u00XX` (as `JSONEncoder` writes them); everything else, slashes and non-ASCII included, as it is.
    public mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { utf8 in
            var runStart = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                guard byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 else { continue }
                if runStart < index { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index])) }
                escape(byte)
                runStart = index + 1
            }
            if runStart < utf8.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...])) }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    private mutating func escape(_ byte: UInt8) {
        bytes.append(UInt8(ascii: "\\"))
        switch byte {
        case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\""))
        case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\"))
        case 0x0A: bytes.append(UInt8(ascii: "n"))
        case 0x0D: bytes.append(UInt8(ascii: "r"))
        case 0x09: bytes.append(UInt8(ascii: "t"))
        case 0x08: bytes.append(UInt8(ascii: "b"))
        case 0x0C: bytes.append(UInt8(ascii: "f"))
        default:
            bytes.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
            bytes.append(Self.hexDigits[Int(byte >> 4)])
            bytes.append(Self.hexDigits[Int(byte & 0x0F)])
        }
    }

    public mutating func integer(_ value: some BinaryInteger) {
        raw(String(value))
    }

    /// `[1,2,3]`.
    public mutating func integers(_ values: [Int]) {
        bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            integer(value)
        }
        bytes.append(UInt8(ascii: "]"))
    }
}
