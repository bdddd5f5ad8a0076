import Foundation
import SlipwayDomain

/// A tensor datatype of the Open Inference Protocol (KServe V2).
public enum TensorDatatype: String, Sendable, Hashable, Codable, CaseIterable {
    case bool = "BOOL"
    case uint8 = "UINT8", uint16 = "UINT16", uint32 = "UINT32", uint64 = "UINT64"
    case int8 = "INT8", int16 = "INT16", int32 = "INT32", int64 = "INT64"
    case fp16 = "FP16", fp32 = "FP32", fp64 = "FP64", bf16 = "BF16"
    case bytes = "BYTES"

    /// Bytes per element; nil for BYTES, whose elements carry their own length.
    public var elementSize: Int? {
        switch self {
        case .bool, .uint8, .int8: 1
        case .uint16, .int16, .fp16, .bf16: 2
        case .uint32, .int32, .fp32: 4
        case .uint64, .int64, .fp64: 8
        case .bytes: nil
        }
    }
}

/// One tensor with its data as the worker protocol carries it: raw little-endian bytes, row-major; BYTES elements
/// each as a 4-byte little-endian length and the bytes (the binary tensor extension's form).
public struct Tensor: Sendable, Hashable {
    public var name: String
    public var datatype: TensorDatatype
    public var shape: [Int]
    public var raw: Data

    public init(name: String, datatype: TensorDatatype, shape: [Int], raw: Data) {
        self.name = name
        self.datatype = datatype
        self.shape = shape
        self.raw = raw
    }

    /// How many elements the shape holds.
    public var elementCount: Int { shape.reduce(1, *) }
}

extension JSONText {
    /// Opens a tensor's object with what both the protocol and the worker protocol say of every tensor:
    /// `{"name":…,"datatype":…,"shape":[…]`, left open for the fields that follow.
    mutating func tensorHead(_ tensor: Tensor) {
        raw(#"{"name":"#)
        string(tensor.name)
        raw(#","datatype":"#)
        string(tensor.datatype.rawValue)
        raw(#","shape":"#)
        integers(tensor.shape)
    }
}

/// A client's mistake in an inference request, answered `400 {"error": message}`.
public struct InferenceRequestError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// An inference request read from `POST …/infer`: its inputs as raw tensors, the outputs asked for, and how the
/// answer is wanted.
public struct InferenceRequest: Sendable {
    public var id: String?
    public var inputs: [Tensor]
    /// Outputs asked for by name (empty: all), and whether each is wanted as binary data.
    public var outputs: [(name: String, binary: Bool?)]
    /// `parameters.binary_data_output`: every output as binary unless it says otherwise.
    public var binaryOutputs: Bool
    /// `parameters.timeout` in microseconds, when given.
    public var timeoutMicroseconds: Int?
}

/// Reads and writes the Open Inference Protocol's REST bodies: JSON tensors, and the binary tensor extension
/// (a JSON header of `Inference-Header-Content-Length` bytes, then the raw tensors in the header's order).
public enum InferenceCodec {
    /// The header naming the JSON part's length in a binary body.
    public static let headerLengthField = "Inference-Header-Content-Length"

    /// Parses a request body. - Parameter headerLength: the `Inference-Header-Content-Length` value, if sent.
    /// - Throws: ``InferenceRequestError`` naming what is wrong.
    public static func decodeRequest(_ body: Data, headerLength: Int?) throws -> InferenceRequest {
        let jsonLength = headerLength ?? body.count
        guard jsonLength >= 0, jsonLength <= body.count else {
            throw InferenceRequestError("\(headerLengthField) is \(jsonLength), but the body has only \(body.count) bytes")
        }
        let request: JSONTree
        do {
            request = try JSONTree.parse(body.prefix(jsonLength))
        } catch {
            throw InferenceRequestError("the request is not valid JSON: \(error)")
        }
        guard case .object = request else { throw InferenceRequestError("the request must be a JSON object") }
        guard let inputs = request["inputs"]?.array, !inputs.isEmpty else {
            throw InferenceRequestError("the request must list its inputs")
        }
        var binary = body.dropFirst(jsonLength)
        var tensors: [Tensor] = []
        var seen = Set<String>()
        for input in inputs {
            guard case .object = input else { throw InferenceRequestError("each input must be a JSON object") }
            guard let name = input["name"]?.string, !name.isEmpty else { throw InferenceRequestError("an input has no name") }
            guard seen.insert(name).inserted else { throw InferenceRequestError("input '\(name)' is given twice") }
            guard let typeName = input["datatype"]?.string, let datatype = TensorDatatype(rawValue: typeName) else {
                throw InferenceRequestError(
                    "input '\(name)' has datatype \(input["datatype"]?.description ?? "none"); use one of "
                        + TensorDatatype.allCases.map(\.rawValue).joined(separator: ", "))
            }
            guard let shapeItems = input["shape"]?.array else { throw InferenceRequestError("input '\(name)' has no shape") }
            var shape: [Int] = []
            for dimension in shapeItems {
                guard let value = dimension.integer, value >= 0 else {
                    throw InferenceRequestError(
                        "input '\(name)' has shape \(JSONTree.array(shapeItems)); a shape lists sizes of 0 or more")
                }
                shape.append(value)
            }
            let (count, overflow) = shape.reduce((1, false)) { partial, dimension in
                let (product, overflow) = partial.0.multipliedReportingOverflow(by: dimension)
                return (product, partial.1 || overflow)
            }
            guard !overflow, count <= 1 << 30 else { throw InferenceRequestError("input '\(name)' has too many elements") }
            var raw: Data
            if let size = input["parameters"]?["binary_data_size"] {
                guard let bytes = size.integer, bytes >= 0 else {
                    throw InferenceRequestError("input '\(name)' has a binary_data_size that is not a size")
                }
                guard headerLength != nil else {
                    throw InferenceRequestError("input '\(name)' has binary data, but the request has no \(headerLengthField) header")
                }
                guard bytes <= binary.count else {
                    throw InferenceRequestError("input '\(name)' says it has \(bytes) bytes of binary data; the body has \(binary.count) left")
                }
                raw = Data(binary.prefix(bytes))
                binary = binary.dropFirst(bytes)
                try checkRaw(raw, name: name, datatype: datatype, count: count, shape: shape)
            } else {
                guard let data = input["data"] else { throw InferenceRequestError("input '\(name)' has neither data nor binary_data_size") }
                raw = try encodeJSON(data, name: name, datatype: datatype, count: count, shape: shape)
            }
            tensors.append(Tensor(name: name, datatype: datatype, shape: shape, raw: raw))
        }
        guard binary.isEmpty else {
            throw InferenceRequestError("the body has \(binary.count) bytes after the tensors it declares")
        }
        var outputs: [(String, Bool?)] = []
        for output in request["outputs"]?.array ?? [] {
            guard let name = output["name"]?.string else {
                throw InferenceRequestError("each requested output must name the output")
            }
            outputs.append((name, output["parameters"]?["binary_data"]?.bool))
        }
        let parameters = request["parameters"]
        let id: String? =
            switch request["id"] {
            case .string(let text)?: text
            case .number(let text)?: text
            default: nil
            }
        return InferenceRequest(
            id: id, inputs: tensors, outputs: outputs, binaryOutputs: parameters?["binary_data_output"]?.bool ?? false,
            timeoutMicroseconds: try timeout(parameters?["timeout"]))
    }

    /// `parameters.timeout`: a positive whole number of microseconds, when given.
    static func timeout(_ value: JSONTree?) throws -> Int? {
        guard let value, value != .null else { return nil }
        guard let microseconds = value.integer, microseconds > 0 else {
            throw InferenceRequestError("parameters.timeout must be a positive whole number of microseconds, not \(value)")
        }
        return microseconds
    }

    /// Writes a response: outputs as JSON `data`, or as binary data where asked.
    /// - Returns: the body, and the value for `Inference-Header-Content-Length` when any output is binary.
    public static func encodeResponse(
        modelName: String, modelVersion: String?, id: String?, outputs: [Tensor], request: InferenceRequest
    ) throws -> (body: Data, headerLength: Int?) {
        var json = JSONText(capacity: 128 + outputs.reduce(0) { $0 + $1.raw.count * 3 })
        var binary = Data()
        let asked = Dictionary(request.outputs.map { ($0.name, $0.binary) }, uniquingKeysWith: { $1 })
        json.raw(#"{"model_name":"#)
        json.string(modelName)
        if let modelVersion {
            json.raw(#","model_version":"#)
            json.string(modelVersion)
        }
        if let id {
            json.raw(#","id":"#)
            json.string(id)
        }
        json.raw(#","outputs":["#)
        for (index, tensor) in outputs.enumerated() {
            if index > 0 { json.raw(",") }
            json.tensorHead(tensor)
            if (asked[tensor.name] ?? nil) ?? request.binaryOutputs {
                json.raw(#","parameters":{"binary_data_size":"#)
                json.integer(tensor.raw.count)
                json.raw("}")
                binary.append(tensor.raw)
            } else {
                json.raw(#","data":"#)
                writeData(tensor, into: &json)
            }
            json.raw("}")
        }
        json.raw("]}")
        let header = json.data
        return binary.isEmpty ? (header, nil) : (header + binary, header.count)
    }

    // MARK: - JSON numbers to raw bytes

    static func flatten(_ value: JSONTree, into items: inout [JSONTree]) {
        if case .array(let list) = value {
            for item in list { flatten(item, into: &items) }
        } else {
            items.append(value)
        }
    }

    static func checkRaw(_ raw: Data, name: String, datatype: TensorDatatype, count: Int, shape: [Int]) throws {
        if let size = datatype.elementSize {
            // Compared by division: `count * size` overflows for a shape no body could fill.
            guard raw.count % size == 0, raw.count / size == count else {
                throw InferenceRequestError(
                    "input '\(name)' has \(raw.count) bytes; \(datatype.rawValue) of shape \(shape) needs \(count) elements of \(size) bytes")
            }
            return
        }
        var offset = 0
        var elements = 0
        while offset < raw.count {
            guard offset + 4 <= raw.count else { throw InferenceRequestError("input '\(name)': a BYTES element's length is cut off") }
            let length = raw.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self))) }
            offset += 4 + length
            elements += 1
        }
        guard offset == raw.count, elements == count else {
            throw InferenceRequestError("input '\(name)' has \(elements) BYTES elements; its shape \(shape) holds \(count)")
        }
    }

    static func encodeJSON(_ data: JSONTree, name: String, datatype: TensorDatatype, count: Int, shape: [Int]) throws -> Data {
        var items: [JSONTree] = []
        // Reserved only up to what a body could hold: the shape is the client's claim, checked after flattening.
        items.reserveCapacity(min(count, 1 << 16))
        flatten(data, into: &items)
        guard items.count == count else {
            throw InferenceRequestError("input '\(name)' has \(items.count) values; its shape \(shape) holds \(count)")
        }
        var raw = Data(capacity: count * (datatype.elementSize ?? 8))
        func wrong(_ item: JSONTree) -> InferenceRequestError {
            InferenceRequestError("input '\(name)' is \(datatype.rawValue), but holds \(item)")
        }
        func integer<T: FixedWidthInteger>(_ item: JSONTree, _ type: T.Type) throws {
            guard case .number(let text) = item else { throw wrong(item) }
            let value: T
            if let exact = T(text) {
                value = exact
            } else if let double = Double(text), let exact = T(exactly: double) {
                value = exact
            } else {
                throw wrong(item)
            }
            withUnsafeBytes(of: value.littleEndian) { raw.append(contentsOf: $0) }
        }
        for item in items {
            switch datatype {
            case .bool:
                guard case .bool(let flag) = item else { throw wrong(item) }
                raw.append(flag ? 1 : 0)
            case .uint8: try integer(item, UInt8.self)
            case .uint16: try integer(item, UInt16.self)
            case .uint32: try integer(item, UInt32.self)
            case .uint64: try integer(item, UInt64.self)
            case .int8: try integer(item, Int8.self)
            case .int16: try integer(item, Int16.self)
            case .int32: try integer(item, Int32.self)
            case .int64: try integer(item, Int64.self)
            case .fp16, .bf16, .fp32, .fp64:
                guard case .number(let text) = item, let value = Double(text) else { throw wrong(item) }
                switch datatype {
                case .fp16: withUnsafeBytes(of: Float16(value).bitPattern.littleEndian) { raw.append(contentsOf: $0) }
                case .bf16: withUnsafeBytes(of: UInt16(truncatingIfNeeded: Float(value).bitPattern >> 16).littleEndian) { raw.append(contentsOf: $0) }
                case .fp32: withUnsafeBytes(of: Float(value).bitPattern.littleEndian) { raw.append(contentsOf: $0) }
                default: withUnsafeBytes(of: value.bitPattern.littleEndian) { raw.append(contentsOf: $0) }
                }
            case .bytes:
                guard case .string(let text) = item else { throw wrong(item) }
                let bytes = Data(text.utf8)
                withUnsafeBytes(of: UInt32(bytes.count).littleEndian) { raw.append(contentsOf: $0) }
                raw.append(bytes)
            }
        }
        return raw
    }

    // MARK: - Raw bytes to JSON numbers

    /// The tensor's elements as a flat, row-major JSON array (as the protocol allows).
    static func writeData(_ tensor: Tensor, into json: inout JSONText) {
        json.raw("[")
        let raw = tensor.raw
        var first = true
        func separate() {
            if first { first = false } else { json.raw(",") }
        }
        func integers<T: FixedWidthInteger>(_ type: T.Type) {
            raw.withUnsafeBytes { buffer in
                for offset in stride(from: 0, to: buffer.count - MemoryLayout<T>.size + 1, by: MemoryLayout<T>.size) {
                    separate()
                    json.integer(T(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: T.self)))
                }
            }
        }
        switch tensor.datatype {
        case .bool:
            for byte in raw {
                separate()
                json.raw(byte != 0 ? "true" : "false")
            }
        case .uint8: integers(UInt8.self)
        case .uint16: integers(UInt16.self)
        case .uint32: integers(UInt32.self)
        case .uint64: integers(UInt64.self)
        case .int8: integers(Int8.self)
        case .int16: integers(Int16.self)
        case .int32: integers(Int32.self)
        case .int64: integers(Int64.self)
        case .fp16:
            raw.withUnsafeBytes { buffer in
                for offset in stride(from: 0, to: buffer.count - 1, by: 2) {
                    separate()
                    json.float(Float(Float16(bitPattern: UInt16(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))))
                }
            }
        case .bf16:
            raw.withUnsafeBytes { buffer in
                for offset in stride(from: 0, to: buffer.count - 1, by: 2) {
                    separate()
                    json.float(Float(bitPattern: UInt32(UInt16(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt16.self))) << 16))
                }
            }
        case .fp32:
            raw.withUnsafeBytes { buffer in
                for offset in stride(from: 0, to: buffer.count - 3, by: 4) {
                    separate()
                    json.float(Float(bitPattern: UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self))))
                }
            }
        case .fp64:
            raw.withUnsafeBytes { buffer in
                for offset in stride(from: 0, to: buffer.count - 7, by: 8) {
                    separate()
                    json.double(Double(bitPattern: UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self))))
                }
            }
        case .bytes:
            var offset = 0
            while offset + 4 <= raw.count {
                let length = raw.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self))) }
                let start = raw.startIndex + offset + 4
                separate()
                json.string(String(decoding: raw[start..<min(raw.endIndex, start + length)], as: UTF8.self))
                offset += 4 + length
            }
        }
        json.raw("]")
    }
}
