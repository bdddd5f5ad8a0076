import Foundation
import SlipwayDomain

/// What this machine offers: CPU cores, memory, and the GPUs `nvidia-smi` lists (none where it is absent).
public enum NodeProbe {
    public static func capacity() -> (resources: ComputeResources, gpus: [GPUDevice]) {
        let gpus = nvidiaGPUs()
        return (
            ComputeResources(
                cpu: Double(ProcessInfo.processInfo.activeProcessorCount), memoryBytes: Int64(ProcessInfo.processInfo.physicalMemory),
                gpu: gpus.count),
            gpus
        )
    }

    /// `nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader,nounits`, parsed.
    static func nvidiaGPUs() -> [GPUDevice] {
        let candidates = ["/usr/bin/nvidia-smi", "/usr/local/bin/nvidia-smi", "/bin/nvidia-smi"]
        guard let tool = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else { return [] }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = ["--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return [] }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return [] }
        return parseNvidiaSMI(String(decoding: data, as: UTF8.self))
    }

    /// Lines of `index, name, memory MiB`.
    public static func parseNvidiaSMI(_ text: String) -> [GPUDevice] {
        text.split(whereSeparator: \.isNewline).compactMap { line in
            let parts = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count >= 3, let index = Int(parts[0]), let mebibytes = Double(parts[2]) else { return nil }
            return GPUDevice(index: index, model: parts[1], memoryBytes: Int64(mebibytes * 1_048_576))
        }
    }
}
