import Foundation
import SlipwayServing
import Testing

/// The gateway's side of the worker boundary against the real Python worker: an Open Inference Protocol request
/// decoded in Swift reaches the model as raw tensors and its answer comes back, with the worker's 400s intact.
@Suite("Worker connection")
struct WorkerConnectionTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// A Python with numpy: `SLIPWAY_TEST_PYTHON`, the test virtualenv, or `python3`.
    static let python: String? = {
        var candidates = [repository.appendingPathComponent(".venv/bin/python").path, "/usr/bin/python3", "/usr/local/bin/python3"]
        if let chosen = ProcessInfo.processInfo.environment["SLIPWAY_TEST_PYTHON"] { candidates.insert(chosen, at: 0) }
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate) {
            let probe = Process()
            probe.executableURL = URL(fileURLWithPath: candidate)
            probe.arguments = ["-c", "import numpy"]
            probe.standardOutput = FileHandle.nullDevice
            probe.standardError = FileHandle.nullDevice
            if (try? probe.run()) != nil {
                probe.waitUntilExit()
                if probe.terminationStatus == 0 { return candidate }
            }
        }
        return nil
    }()

    @Test(.enabled(if: python != nil, "needs a Python with numpy (the test virtualenv)"))
    func anInferenceRequestCrossesToTheRealWorkerAndBack() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("worker-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data(
            """
            import numpy as np

            class Model:
                inputs = [{"name": "x", "datatype": "FP32", "shape": [-1, 3]}]
                outputs = [{"name": "sum", "datatype": "FP32", "shape": [-1]}, {"name": "label", "datatype": "BYTES", "shape": [-1]}]

                def predict(self, batch):
                    total = batch["x"].sum(axis=1)
                    return {"sum": total.astype(np.float32), "label": np.array([b"big" if t > 5 else b"small" for t in total], dtype=object)}
            """.utf8
        ).write(to: folder.appendingPathComponent("model.py"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(Self.python))
        let socket = folder.appendingPathComponent("w.sock").path
        process.arguments = ["-m", "slipway_worker", "--model", folder.path, "--listen", "unix:\(socket)"]
        process.environment = ProcessInfo.processInfo.environment.merging(["PYTHONPATH": Self.repository.appendingPathComponent("runtime").path]) {
            $1
        }
        let announced = Pipe()
        process.standardOutput = announced
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        let line = String(decoding: announced.fileHandleForReading.availableData, as: UTF8.self)
        let ready = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let connection = try await WorkerConnection.connect(to: try #require(ready["address"] as? String))

        let metadata = try await connection.metadata()
        #expect(metadata.platform == "slipway_custom")
        #expect(metadata.inputs.map(\.shape) == [[-1, 3]])

        let request = try InferenceCodec.decodeRequest(
            Data(#"{"inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 3], "data": [[1, 2, 3], [0.5, 0.5, 0.5]]}]}"#.utf8),
            headerLength: nil)
        // Several requests in flight on one connection are each answered with their own result.
        async let first = connection.infer(request.inputs)
        async let second = connection.infer(request.inputs, outputs: ["label"])
        let (all, labels) = try await (first, second)
        let (body, _) = try InferenceCodec.encodeResponse(modelName: "m", modelVersion: nil, id: nil, outputs: all, request: request)
        let answer = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
        let outputs = try #require(answer["outputs"] as? [[String: Any]])
        #expect(outputs[0]["data"] as? [Double] == [6, 1.5])
        #expect(outputs[1]["data"] as? [String] == ["big", "small"])
        #expect(labels.map(\.name) == ["label"])

        // The worker's own check of the request comes back as a 400 with its sentence.
        let wrong = try InferenceCodec.decodeRequest(
            Data(#"{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 2], "data": [1, 2]}]}"#.utf8), headerLength: nil)
        await #expect(throws: WorkerError.self) { try await connection.infer(wrong.inputs) }
        do {
            _ = try await connection.infer(wrong.inputs)
        } catch let error as WorkerError {
            #expect(error.status == 400 && error.message.contains("the model takes [-1, 3]"), "\(error)")
        }
        #expect(try await connection.health() == 2)
        await connection.close()
    }
}
