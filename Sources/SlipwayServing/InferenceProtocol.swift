import Foundation

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
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: body.prefix(jsonLength), options: [.fragmentsAllowed])
        } catch {
            throw InferenceRequestError("the request is not valid JSON")
        }
        guard let request = object as? [String: Any] else { throw InferenceRequestError("the request must be a JSON object") }
        guard let inputs = request["inputs"] as? [Any], !inputs.isEmpty else {
            throw InferenceRequestError("the request must list its inputs")
        }
        var binary = body.dropFirst(jsonLength)
        var tensors: [Tensor] = []
        var seen = Set<String>()
        for item in inputs {
            guard let input = item as? [String: Any] else { throw InferenceRequestError("each input must be a JSON object") }
            guard let name = input["name"] as? String, !name.isEmpty else { throw InferenceRequestError("an input has no name") }
            guard seen.insert(name).inserted else { throw InferenceRequestError("input '\(name)' is given twice") }
            guard let typeName = input["datatype"] as? String, let datatype = TensorDatatype(rawValue: typeName) else {
                throw InferenceRequestError(
                    "input '\(name)' has datatype \(String(describing: input["datatype"] ?? "none")); use one of "
                        + TensorDatatype.allCases.map(\.rawValue).joined(separator: ", "))
            }
            guard let shapeItems = input["shape"] as? [Any] else { throw InferenceRequestError("input '\(name)' has no shape") }
            var shape: [Int] = []
            for dimension in shapeItems {
                guard let number = dimension as? NSNumber, !isBool(number), let value = Int(exactly: number.doubleValue), value >= 0 else {
                    throw InferenceRequestError("input '\(name)' has shape \(shapeItems); a shape lists sizes of 0 or more")
                }
                shape.append(value)
            }
            let (count, overflow) = shape.reduce((1, false)) { partial, dimension in
                let (product, overflow) = partial.0.multipliedReportingOverflow(by: dimension)
                return (product, partial.1 || overflow)
            }
            guard !overflow, count <= 1 << 30 else { throw InferenceRequestError("input '\(name)' has too many elements") }
            let parameters = input["parameters"] as? [String: Any] ?? [:]
            var raw: Data
            if let size = parameters["binary_data_size"] {
                guard let number = size as? NSNumber, let bytes = Int(exactly: number.doubleValue), bytes >= 0 else {
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
        let parameters = request["parameters"] as? [String: Any] ?? [:]
        var outputs: [(String, Bool?)] = []
        for item in request["outputs"] as? [Any] ?? [] {
            guard let output = item as? [String: Any], let name = output["name"] as? String else {
                throw InferenceRequestError("each requested output must name the output")
            }
            let binary = (output["parameters"] as? [String: Any])?["binary_data"] as? Bool
            outputs.append((name, binary))
        }
        let timeout = (parameters["timeout"] as? NSNumber).flatMap { Int(exactly: $0.doubleValue) }
        return InferenceRequest(
            id: (request["id"] as? String) ?? (request["id"] as? NSNumber)?.stringValue, inputs: tensors, outputs: outputs,
            binaryOutputs: parameters["binary_data_output"] as? Bool ?? false, timeoutMicroseconds: timeout)
    }

    /// Writes a response: outputs as JSON `data`, or as binary data where asked.
    /// - Returns: the body, and the value for `Inference-Header-Content-Length` when any output is binary.
    public static func encodeResponse(
        modelName: String, modelVersion: String?, id: String?, outputs: [Tensor], request: InferenceRequest
    ) throws -> (body: Data, headerLength: Int?) {
        var entries: [[String: Any]] = []
        var binary = Data()
        let asked = Dictionary(request.outputs.map { ($0.name, $0.binary) }, uniquingKeysWith: { $1 })
        for tensor in outputs {
            var entry: [String: Any] = ["name": tensor.name, "datatype": tensor.datatype.rawValue, "shape": tensor.shape]
            let wantsBinary = (asked[tensor.name] ?? nil) ?? request.binaryOutputs
            if wantsBinary {
                entry["parameters"] = ["binary_data_size": tensor.raw.count]
                binary.append(tensor.raw)
            } else {
                entry["data"] = try decodeRaw(tensor)
            }
            entries.append(entry)
        }
        var response: [String: Any] = ["model_name": modelName, "outputs": entries]
        if let modelVersion { response["model_version"] = modelVersion }
        if let id { response["id"] = id }
        let json = try JSONSerialization.data(withJSONObject: response, options: [.withoutEscapingSlashes])
        return binary.isEmpty ? (json, nil) : (json + binary, json.count)
    }

    // MARK: - JSON numbers to raw bytes

    /// Whether JSON gave `true`/`false` (a boolean NSNumber, whose type code is `c`), not a number.
    static func isBool(_ number: NSNumber) -> Bool {
        String(cString: number.objCType) == "c"
    }

    static func flatten(_ value: Any, into items: inout [Any]) {
        if let list = value as? [Any] {
            for item in list { flatten(item, into: &items) }
        } else {
            items.append(value)
        }
    }

    static func checkRaw(_ raw: Data, name: String, datatype: TensorDatatype, count: Int, shape: [Int]) throws {
        if let size = datatype.elementSize {
            guard raw.count == count * size else {
                throw InferenceRequestError("input '\(name)' has \(raw.count) bytes; \(datatype.rawValue) of shape \(shape) needs \(count * size)")
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

    static func encodeJSON(_ data: Any, name: String, datatype: TensorDatatype, count: Int, shape: [Int]) throws -> Data {
        var items: [Any] = []
        flatten(data, into: &items)
        guard items.count == count else {
            throw InferenceRequestError("input '\(name)' has \(items.count) values; its shape \(shape) holds \(count)")
        }
        var raw = Data(capacity: count * (datatype.elementSize ?? 8))
        func wrong(_ item: Any) -> InferenceRequestError {
            InferenceRequestError("input '\(name)' is \(datatype.rawValue), but holds \(item)")
        }
        func integer<T: FixedWidthInteger>(_ item: Any, _ type: T.Type) throws {
            guard let number = item as? NSNumber, !isBool(number), let value = T(exactly: number.doubleValue) else { throw wrong(item) }
            withUnsafeBytes(of: value.littleEndian) { raw.append(contentsOf: $0) }
        }
        for item in items {
            switch datatype {
            case .bool:
                guard let number = item as? NSNumber, isBool(number) else { throw wrong(item) }
                raw.append(number.boolValue ? 1 : 0)
            case .uint8: try integer(item, UInt8.self)
            case .uint16: try integer(item, UInt16.self)
            case .uint32: try integer(item, UInt32.self)
            case .uint64: try integer(item, UInt64.self)
            case .int8: try integer(item, Int8.self)
            case .int16: try integer(item, Int16.self)
            case .int32: try integer(item, Int32.self)
            case .int64: try integer(item, Int64.self)
            case .fp16, .bf16, .fp32, .fp64:
                guard let number = item as? NSNumber, !isBool(number) else { throw wrong(item) }
                let value = number.doubleValue
                switch datatype {
                case .fp16: withUnsafeBytes(of: Float16(value).bitPattern.littleEndian) { raw.append(contentsOf: $0) }
                case .bf16: withUnsafeBytes(of: UInt16(truncatingIfNeeded: Float(value).bitPattern >> 16).littleEndian) { raw.append(contentsOf: $0) }
                case .fp32: withUnsafeBytes(of: Float(value).bitPattern.littleEndian) { raw.append(contentsOf: $0) }
                default: withUnsafeBytes(of: value.bitPattern.littleEndian) { raw.append(contentsOf: $0) }
                }
            case .bytes:
                guard let text = item as? String else { throw wrong(item) }
                let bytes = Data(text.utf8)
                withUnsafeBytes(of: UInt32(bytes.count).littleEndian) { raw.append(contentsOf: $0) }
                raw.append(bytes)
            }
        }
        return raw
    }

    // MARK: - Raw bytes to JSON numbers

    /// The tensor's elements as JSON values, flat and row-major (as the protocol allows).
    static func decodeRaw(_ tensor: Tensor) throws -> [Any] {
        let raw = tensor.raw
        func values<T: FixedWidthInteger>(_ type: T.Type) -> [Any] {
            raw.withUnsafeBytes { buffer in
                stride(from: 0, to: buffer.count, by: MemoryLayout<T>.size).map {
                    NSNumber(value: Int64(truncatingIfNeeded: T(littleEndian: buffer.loadUnaligned(fromByteOffset: $0, as: T.self))))
                }
            }
        }
        switch tensor.datatype {
        case .bool: return raw.map { $0 != 0 }
        case .uint8: return values(UInt8.self)
        case .uint16: return values(UInt16.self)
        case .uint32: return values(UInt32.self)
        case .uint64:
            return raw.withUnsafeBytes { buffer in
                stride(from: 0, to: buffer.count, by: 8).map {
                    NSNumber(value: UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: $0, as: UInt64.self)))
                }
            }
        case .int8: return values(Int8.self)
        case .int16: return values(Int16.self)
        case .int32: return values(Int32.self)
        case .int64: return values(Int64.self)
        case .fp16:
            return raw.withUnsafeBytes { buffer in
                stride(from: 0, to: buffer.count, by: 2).map {
                    Double(Float16(bitPattern: UInt16(littleEndian: buffer.loadUnaligned(fromByteOffset: $0, as: UInt16.self))))
                }
            }
        case .bf16:
            return raw.withUnsafeBytes { buffer in
                stride(from: 0, to: buffer.count, by: 2).map {
                    Double(Float(bitPattern: UInt32(UInt16(littleEndian: buffer.loadUnaligned(fromByteOffset: $0, as: UInt16.self))) << 16))
                }
            }
        case .fp32:
            return raw.withUnsafeBytes { buffer in
                stride(from: 0, to: buffer.count, by: 4).map {
                    Double(Float(bitPattern: UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: $0, as: UInt32.self))))
                }
            }
        case .fp64:
            return raw.withUnsafeBytes { buffer in
                stride(from: 0, to: buffer.count, by: 8).map {
                    Double(bitPattern: UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: $0, as: UInt64.self)))
                }
            }
        case .bytes:
            var items: [Any] = []
            var offset = 0
            while offset + 4 <= raw.count {
                let length = raw.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self))) }
                let start = raw.startIndex + offset + 4
                items.append(String(decoding: raw[start..<min(raw.endIndex, start + length)], as: UTF8.self))
                offset += 4 + length
            }
            return items
        }
    }
}
