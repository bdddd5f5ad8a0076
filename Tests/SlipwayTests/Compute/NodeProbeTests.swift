import Foundation
import SlipwayDomain
import Testing

@testable import SlipwayAgent

/// Finding a node's GPUs: `nvidia-smi` on `PATH` or in the usual places, and its CSV read the way drivers print it.
@Suite("Node probe")
struct NodeProbeTests {
    /// What `nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader,nounits` prints on an 8-GPU
    /// H100 machine (trailing spaces and all).
    static let eightH100 = (0..<8).map { "\($0), NVIDIA H100 80GB HBM3, 81559\n" }.joined()

    @Test func readsEveryGPUOfAMachineWithItsModelAndMemory() {
        let gpus = NodeProbe.parseNvidiaSMI(Self.eightH100)
        #expect(gpus.count == 8)
        #expect(gpus.map(\.index) == Array(0..<8))
        #expect(Set(gpus.map(\.model)) == ["NVIDIA H100 80GB HBM3"])
        #expect(gpus.allSatisfy { $0.memoryBytes == 81559 * 1_048_576 })
    }

    @Test func readsOutputWithHeadersUnitsMixedModelsAndGaps() {
        let text = """
            index, name, memory.total [MiB]\r
            1, NVIDIA A100-SXM4-80GB, 81920 MiB\r
            0, Tesla V100-PCIE-32GB, 32768 MiB\r

            2, NVIDIA GeForce RTX 4090, [N/A]
            No devices were found
            -1, bogus, 10
            """
        let gpus = NodeProbe.parseNvidiaSMI(text)
        #expect(gpus.map(\.index) == [0, 1, 2], "sorted by index; the header and the junk are skipped")
        #expect(gpus[0] == GPUDevice(index: 0, model: "Tesla V100-PCIE-32GB", memoryBytes: 32 << 30))
        #expect(gpus[1] == GPUDevice(index: 1, model: "NVIDIA A100-SXM4-80GB", memoryBytes: 80 << 30))
        #expect(gpus[2] == GPUDevice(index: 2, model: "NVIDIA GeForce RTX 4090", memoryBytes: 0), "memory the driver does not report")
        #expect(NodeProbe.parseNvidiaSMI("").isEmpty)
    }

    @Test func findsNvidiaSMIOnThePathAndRunsItsQuery() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fake-driver-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let tool = folder.appendingPathComponent("nvidia-smi")
        // Answers only the exact query the probe makes.
        let script = """
            #!/bin/sh
            [ "$1" = "--query-gpu=index,name,memory.total" ] && [ "$2" = "--format=csv,noheader,nounits" ] || exit 2
            printf '0, NVIDIA L4, 23034\\n1, NVIDIA L4, 23034\\n'
            """
        try Data(script.utf8).write(to: tool)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: tool.path)
        let environment = ["PATH": "/nonexistent:\(folder.path):/usr/bin:/bin"]
        #expect(NodeProbe.nvidiaSMI(environment: environment) == tool.path)
        let gpus = NodeProbe.nvidiaGPUs(environment: environment)
        #expect(
            gpus == [
                GPUDevice(index: 0, model: "NVIDIA L4", memoryBytes: 23034 << 20), GPUDevice(index: 1, model: "NVIDIA L4", memoryBytes: 23034 << 20),
            ])

        // A tool that fails (a driver mismatch, say) means no GPUs rather than a broken node.
        try Data("#!/bin/sh\necho 'Failed to initialize NVML: Driver/library version mismatch'\nexit 9\n".utf8).write(to: tool)
        #expect(NodeProbe.nvidiaGPUs(environment: environment).isEmpty)
    }
}
