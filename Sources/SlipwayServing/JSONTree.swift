import Foundation
import SlipwayDomain

/// A JSON value as the gateway reads it: numbers keep their text, so each tensor datatype reads them its own way
/// (integers exactly, floats as floats) and nothing is boxed on the way. The gateway's hot path reads and writes
/// JSON with ``JSONTree`` and ``JSONText`` instead of `JSONSerialization`, whose bridging through `NSDictionary`
/// cost more than the model on small requests.
public indirect enum JSONTree: Sendable, Hashable {
    case object([(key: String, value: JSONTree)])
    case array([JSONTree])
    case string(String)
    /// The number as it was written (`-1.5e3`).
    case number(String)
    case bool(Bool)
    case null

    public static func == (lhs: JSONTree, rhs: JSONTree) -> Bool {
        switch (lhs, rhs) {
        case (.object(let a), .object(let b)): a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case (.array(let a), .array(let b)): a == b
        case (.string(let a), .string(let b)), (.number(let a), .number(let b)): a == b
        case (.bool(let a), .bool(let b)): a == b
        case (.null, .null): true
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(description)
    }

    /// The member `key` of an object (the last one, if given twice).
    public subscript(key: String) -> JSONTree? {
        guard case .object(let members) = self else { return nil }
        return members.last { $0.key == key }?.value
    }

    public var string: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    public var array: [JSONTree]? {
        if case .array(let items) = self { return items }
        return nil
    }

    public var bool: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// A number that is a whole number (written `3`, `3.0` or `3e0`), within `Int`.
    public var integer: Int? {
        guard case .number(let text) = self else { return nil }
        if let value = Int(text) { return value }
        guard let value = Double(text), value.rounded() == value, abs(value) < 9.2e18 else { return nil }
        return Int(value)
    }

    /// A number as a double.
    public var double: Double? {
        guard case .number(let text) = self else { return nil }
        return Double(text)
    }

    /// Reads one JSON value that fills `bytes` (whitespace aside).
    /// - Throws: ``JSONTreeError`` with where it stopped making sense.
    public static func parse(_ bytes: some Collection<UInt8>) throws -> JSONTree {
        let array = Array(bytes)
        return try array.withUnsafeBufferPointer { buffer in
            var reader = Reader(bytes: buffer)
            reader.skipWhitespace()
            let value = try reader.value(depth: 0)
            reader.skipWhitespace()
            guard reader.index == buffer.count else { throw JSONTreeError(offset: reader.index, "text after the JSON value") }
            return value
        }
    }

    struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        mutating func skipWhitespace() {
            while index < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[index]) { index += 1 }
        }

        mutating func value(depth: Int) throws -> JSONTree {
            guard depth < 64 else { throw JSONTreeError(offset: index, "values nested more than 64 deep") }
            guard index < bytes.count else { throw JSONTreeError(offset: index, "the text ends where a value should be") }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                index += 1
                var members: [(key: String, value: JSONTree)] = []
                skipWhitespace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    return .object(members)
                }
                while true {
                    skipWhitespace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw JSONTreeError(offset: index, "an object key must be a string") }
                    let key = try string()
                    skipWhitespace()
                    try expect(UInt8(ascii: ":"))
                    skipWhitespace()
                    members.append((key, try value(depth: depth + 1)))
                    skipWhitespace()
                    guard index < bytes.count else { throw JSONTreeError(offset: index, "an object is not closed") }
                    if bytes[index] == UInt8(ascii: ",") {
                        index += 1
                        continue
                    }
                    try expect(UInt8(ascii: "}"))
                    return .object(members)
                }
            case UInt8(ascii: "["):
                index += 1
                var items: [JSONTree] = []
                skipWhitespace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    return .array(items)
                }
                while true {
                    skipWhitespace()
                    items.append(try value(depth: depth + 1))
                    skipWhitespace()
                    guard index < bytes.count else { throw JSONTreeError(offset: index, "an array is not closed") }
                    if bytes[index] == UInt8(ascii: ",") {
                        index += 1
                        continue
                    }
                    try expect(UInt8(ascii: "]"))
                    return .array(items)
                }
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "t"):
                try word("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try word("false")
                return .bool(false)
            case UInt8(ascii: "n"):
                try word("null")
                return .null
            default:
                return .number(try number())
            }
        }

        mutating func expect(_ byte: UInt8) throws {
            guard index < bytes.count, bytes[index] == byte else {
                throw JSONTreeError(offset: index, "expected '\(Character(Unicode.Scalar(byte)))'")
            }
            index += 1
        }

        mutating func word(_ text: StaticString) throws {
            let length = text.utf8CodeUnitCount
            guard index + length <= bytes.count,
                text.withUTF8Buffer({ expected in (0..<length).allSatisfy { bytes[index + $0] == expected[$0] } })
            else { throw JSONTreeError(offset: index, "not a JSON value") }
            index += length
        }

        /// A number's text, checked against JSON's grammar.
        mutating func number() throws -> String {
            let start = index
            func digits() -> Int {
                let first = index
                while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
                return index - first
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
            let whole = digits()
            guard whole > 0 else { throw JSONTreeError(offset: start, "not a JSON value") }
            if whole > 1, bytes[index - whole] == UInt8(ascii: "0") { throw JSONTreeError(offset: start, "a number may not start with 0") }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard digits() > 0 else { throw JSONTreeError(offset: index, "a number needs digits after its point") }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                guard digits() > 0 else { throw JSONTreeError(offset: index, "a number needs digits in its exponent") }
            }
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        }

        mutating func string() throws -> String {
            index += 1  // the opening quote
            let start = index
            // Fast path: no escapes.
            while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\") {
                guard bytes[index] >= 0x20 else { throw JSONTreeError(offset: index, "a control character inside a string") }
                index += 1
            }
            guard index < bytes.count else { throw JSONTreeError(offset: start, "a string is not closed") }
            if bytes[index] == UInt8(ascii: "\"") {
                defer { index += 1 }
                return try validated(UnsafeBufferPointer(rebasing: bytes[start..<index]), at: start)
            }
            var scalars = Array(UnsafeBufferPointer(rebasing: bytes[start..<index]))
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    index += 1
                    return try scalars.withUnsafeBufferPointer { try validated($0, at: start) }
                }
                guard byte >= 0x20 else { throw JSONTreeError(offset: index, "a control character inside a string") }
                guard byte == UInt8(ascii: "\\") else {
                    scalars.append(byte)
                    index += 1
                    continue
                }
                guard index + 1 < bytes.count else { break }
                let escape = bytes[index + 1]
                index += 2
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scalars.append(escape)
                case UInt8(ascii: "b"): scalars.append(0x08)
                case UInt8(ascii: "f"): scalars.append(0x0C)
                case UInt8(ascii: "n"): scalars.append(0x0A)
                case UInt8(ascii: "r"): scalars.append(0x0D)
                case UInt8(ascii: "t"): scalars.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800..<0xDC00).contains(code) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            throw JSONTreeError(offset: index, "a lone surrogate in a string")
                        }
                        index += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw JSONTreeError(offset: index, "a lone surrogate in a string") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw JSONTreeError(offset: index, "a lone surrogate in a string") }
                    scalars.append(contentsOf: Array(String(Character(scalar)).utf8))
                default:
                    throw JSONTreeError(offset: index - 1, "an unknown escape in a string")
                }
            }
            throw JSONTreeError(offset: start, "a string is not closed")
        }

        mutating func hex4() throws -> UInt32 {
            guard index + 4 <= bytes.count else { throw JSONTreeError(offset: index, "a \\u escape needs four hex digits") }
            var value: UInt32 = 0
            for offset in 0..<4 {
                let byte = bytes[index + offset]
                let digit: UInt32
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
                default: throw JSONTreeError(offset: index, "a \\u escape needs four hex digits")
                }
                value = value << 4 | digit
            }
            index += 4
            return value
        }

        func validated(_ utf8: UnsafeBufferPointer<UInt8>, at offset: Int) throws -> String {
            guard let text = String(validating: utf8, as: UTF8.self) else { throw JSONTreeError(offset: offset, "a string is not valid UTF-8") }
            return text
        }
    }
}

extension JSONTree: CustomStringConvertible {
    /// The value as compact JSON, strings unquoted at the top (for messages: `holds a`, `holds 1.5`).
    public var description: String {
        switch self {
        case .string(let text): return text
        case .number(let text): return text
        case .bool(let value): return String(value)
        case .null: return "null"
        default:
            var text = JSONText()
            text.value(self)
            return text.string
        }
    }
}

/// Where and why a text is not JSON.
public struct JSONTreeError: Error, Sendable, CustomStringConvertible {
    public var offset: Int
    public var reason: String
    init(offset: Int, _ reason: String) {
        self.offset = offset
        self.reason = reason
    }
    public var description: String { "\(reason) (at byte \(offset))" }
}

/// The gateway's numbers and trees, over the shared writer.
extension JSONText {
    /// A finite double in its shortest form; NaN and infinities, which JSON cannot write, as strings.
    public mutating func double(_ value: Double) {
        if value.isFinite { raw(value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)) } else { string(String(value)) }
    }

    public mutating func float(_ value: Float) {
        if value.isFinite { raw(value == value.rounded() && abs(value) < 1e7 ? String(Int32(value)) : String(value)) } else { string(String(value)) }
    }

    /// Any tree.
    public mutating func value(_ tree: JSONTree) {
        switch tree {
        case .object(let members):
            raw(byte: UInt8(ascii: "{"))
            for (index, member) in members.enumerated() {
                if index > 0 { raw(byte: UInt8(ascii: ",")) }
                string(member.key)
                raw(byte: UInt8(ascii: ":"))
                value(member.value)
            }
            raw(byte: UInt8(ascii: "}"))
        case .array(let items):
            raw(byte: UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { raw(byte: UInt8(ascii: ",")) }
                value(item)
            }
            raw(byte: UInt8(ascii: "]"))
        case .string(let text): string(text)
        case .number(let text): raw(text)
        case .bool(let flag): raw(flag ? "true" : "false")
        case .null: raw("null")
        }
    }
}
