import Foundation
import SlipwayServing
import Testing

/// The Open Inference Protocol's REST bodies: JSON tensors (flat or nested), the binary tensor extension both
/// ways, and a 400-worthy sentence for every malformed request.
@Suite("Inference codec")
struct InferenceCodecTests {
    static func json(_ text: String) -> Data { Data(text.utf8) }

    @Test func jsonTensorsBecomeRawLittleEndianBytesAndComeBack() throws {
        let request = try InferenceCodec.decodeRequest(
            Self.json(
                #"""
                {"id": "r1", "inputs": [
                  {"name": "x", "datatype": "FP32", "shape": [2, 2], "data": [[1.5, -2], [3, 4.25]]},
                  {"name": "n", "datatype": "INT64", "shape": [3], "data": [1, -2, 9007199254740991]},
                  {"name": "flag", "datatype": "BOOL", "shape": [2], "data": [true, false]},
                  {"name": "text", "datatype": "BYTES", "shape": [2], "data": ["hi", "wörld"]}
                ], "outputs": [{"name": "y", "parameters": {"binary_data": true}}], "parameters": {"timeout": 5000}}
                """#), headerLength: nil)
        #expect(request.id == "r1")
        #expect(request.timeoutMicroseconds == 5000)
        #expect(request.outputs.map(\.name) == ["y"])
        let x = request.inputs[0]
        #expect(x.shape == [2, 2] && x.raw.count == 16)
        let floats = x.raw.withUnsafeBytes { buffer in
            (0..<4).map { Float(bitPattern: UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
        #expect(floats == [1.5, -2, 3, 4.25])
        #expect(request.inputs[1].raw.count == 24)
        #expect(request.inputs[2].raw == Data([1, 0]))
        #expect(request.inputs[3].raw == Data([2, 0, 0, 0]) + Data("hi".utf8) + Data([6, 0, 0, 0]) + Data("wörld".utf8))

        // Back out: y as binary (asked), z as JSON.
        let y = Tensor(name: "y", datatype: .fp64, shape: [2], raw: [0.25, 8.0].withUnsafeBytes { Data($0) })
        let z = Tensor(name: "z", datatype: .bytes, shape: [1], raw: Data([3, 0, 0, 0]) + Data("cat".utf8))
        let (body, headerLength) = try InferenceCodec.encodeResponse(modelName: "m", modelVersion: "2", id: "r1", outputs: [y, z], request: request)
        let length = try #require(headerLength)
        let header = try #require(try JSONSerialization.jsonObject(with: body.prefix(length)) as? [String: Any])
        #expect(header["model_name"] as? String == "m" && header["model_version"] as? String == "2" && header["id"] as? String == "r1")
        let outputs = try #require(header["outputs"] as? [[String: Any]])
        #expect((outputs[0]["parameters"] as? [String: Any])?["binary_data_size"] as? Int == 16)
        #expect(outputs[0]["data"] == nil)
        #expect(outputs[1]["data"] as? [String] == ["cat"])
        #expect(body.dropFirst(length) == y.raw)
    }

    @Test func binaryTensorsAreReadAfterTheJSONHeaderInTheirOrder() throws {
        let header = Self.json(
            #"""
            {"inputs": [{"name": "a", "datatype": "INT32", "shape": [1, 3], "parameters": {"binary_data_size": 12}},
                        {"name": "b", "datatype": "UINT8", "shape": [2], "data": [7, 255]},
                        {"name": "c", "datatype": "BYTES", "shape": [1], "parameters": {"binary_data_size": 7}}],
             "parameters": {"binary_data_output": true}}
            """#)
        let a = [Int32(5), -6, 7].withUnsafeBytes { Data($0) }
        let c = Data([3, 0, 0, 0]) + Data("dog".utf8)
        let request = try InferenceCodec.decodeRequest(header + a + c, headerLength: header.count)
        #expect(request.inputs.map(\.raw) == [a, Data([7, 255]), c])
        #expect(request.binaryOutputs)
        let (_, length) = try InferenceCodec.encodeResponse(
            modelName: "m", modelVersion: nil, id: nil, outputs: [Tensor(name: "o", datatype: .int32, shape: [1], raw: a.prefix(4))], request: request
        )
        #expect(length != nil, "binary_data_output makes every output binary")
    }

    @Test func malformedRequestsAreRefusedSayingWhatIsWrong() {
        let cases: [(String, Int?, String)] = [
            ("not json", nil, "not valid JSON"),
            (#"{"inputs": []}"#, nil, "must list its inputs"),
            (#"{"inputs": [{"name": "x", "datatype": "FP33", "shape": [1], "data": [1]}]}"#, nil, "datatype"),
            (#"{"inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 2], "data": [1, 2, 3]}]}"#, nil, "has 3 values; its shape [2, 2] holds 4"),
            (#"{"inputs": [{"name": "x", "datatype": "FP32", "shape": [-1], "data": [1]}]}"#, nil, "a shape lists sizes"),
            (#"{"inputs": [{"name": "x", "datatype": "INT8", "shape": [1], "data": [300]}]}"#, nil, "is INT8, but holds 300"),
            (#"{"inputs": [{"name": "x", "datatype": "INT32", "shape": [1], "data": [1.5]}]}"#, nil, "is INT32, but holds 1.5"),
            (#"{"inputs": [{"name": "x", "datatype": "BOOL", "shape": [1], "data": [1]}]}"#, nil, "is BOOL"),
            (#"{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": ["a"]}]}"#, nil, "is FP32, but holds a"),
            (
                #"{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}, {"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}]}"#,
                nil, "given twice"
            ),
            (
                #"{"inputs": [{"name": "x", "datatype": "FP32", "shape": [2], "parameters": {"binary_data_size": 8}}]}"#, nil,
                "no Inference-Header-Content-Length"
            ),
            (#"{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1]}]}"#, nil, "neither data nor binary_data_size"),
            // A shape far larger than any body is refused before anything is reserved for it.
            (#"{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1073741824, 1073741824], "data": [1]}]}"#, nil, "too many elements"),
            (
                #"{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}], "parameters": {"timeout": 0}}"#, nil,
                "parameters.timeout must be a positive whole number"
            ),
            (
                #"{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}], "parameters": {"timeout": "soon"}}"#, nil,
                "parameters.timeout must be a positive whole number"
            ),
        ]
        for (text, length, message) in cases {
            #expect(throws: InferenceRequestError.self, "\(text)") {
                do {
                    _ = try InferenceCodec.decodeRequest(Self.json(text), headerLength: length)
                } catch let error as InferenceRequestError {
                    #expect(error.message.contains(message), "\(error.message)")
                    throw error
                }
            }
        }
        // Binary sizes that do not add up: short, long, or the wrong byte count for the shape.
        let header = Self.json(#"{"inputs": [{"name": "x", "datatype": "FP32", "shape": [2], "parameters": {"binary_data_size": 8}}]}"#)
        #expect(throws: InferenceRequestError.self) { try InferenceCodec.decodeRequest(header + Data(count: 4), headerLength: header.count) }
        #expect(throws: InferenceRequestError.self) { try InferenceCodec.decodeRequest(header + Data(count: 12), headerLength: header.count) }
        let wrong = Self.json(#"{"inputs": [{"name": "x", "datatype": "FP32", "shape": [3], "parameters": {"binary_data_size": 8}}]}"#)
        #expect(throws: InferenceRequestError.self) { try InferenceCodec.decodeRequest(wrong + Data(count: 8), headerLength: wrong.count) }
        #expect(throws: InferenceRequestError.self) { try InferenceCodec.decodeRequest(header, headerLength: header.count + 1) }
    }
}
